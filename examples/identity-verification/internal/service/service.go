// Package service is what the example's Lambda functions share to hand data
// to the services they call (the identity provider, the SMS gateway, the
// mail service and the backend's webhook): the service's base URL from the
// function's environment, one HTTP client, and the check that a value about
// to leave the workflow is plaintext.
//
// Entry points: FromEnv, Service.Ready, Service.Post and Plaintext.
package service

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
)

var client = &http.Client{Timeout: 10 * time.Second}

// A Service is an HTTP service at the base URL that an environment variable
// of the function holds (template.yaml sets it).
type Service struct {
	name, env, url string
}

// FromEnv returns the service called name in errors, at the base URL that
// the environment variable env holds now (when the function starts).
func FromEnv(name, env string) *Service {
	return &Service{name: name, env: env, url: os.Getenv(env)}
}

// Ready reports an error if the environment gave the service no base URL,
// or else Plaintext(fields...).
func (s *Service) Ready(fields ...string) error {
	if s.url == "" {
		return fmt.Errorf("%s is not set", s.env)
	}
	return Plaintext(fields...)
}

// Post posts in as JSON to path below the service's base URL and decodes
// the answer into out (if not nil). An answer outside 2xx is a
// *model.StatusError.
func (s *Service) Post(ctx context.Context, path string, in, out any) error {
	return model.PostJSON(ctx, client, s.name, s.url+path, in, out)
}

// Plaintext reports an error naming the first of fields that is empty or
// still a token. fields alternate a name and a value, as slog's arguments
// do. A value still encrypted where a function is about to send it means a
// configuration mistake: the function fails rather than send ciphertext.
func Plaintext(fields ...string) error {
	if len(fields)%2 != 0 {
		panic("service: Plaintext needs pairs of a name and a value")
	}
	for i := 0; i < len(fields); i += 2 {
		if v := fields[i+1]; v == "" || codec.IsToken(v) {
			return fmt.Errorf("%s is missing or still encrypted", fields[i])
		}
	}
	return nil
}

// ProviderUnavailableError reports that the identity provider could not be
// reached or failed: the state machine retries it (its Retry rules name
// the type).
type ProviderUnavailableError struct{ Err error }

// Error describes the failure.
func (e *ProviderUnavailableError) Error() string {
	return "identity provider unavailable: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ProviderUnavailableError) Unwrap() error { return e.Err }
