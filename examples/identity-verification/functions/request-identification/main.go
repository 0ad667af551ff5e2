// Command request-identification is the Lambda function of the
// RequestIdentification state: it sends the applicant's personal data to the
// identity provider, which opens an identification session and answers with
// a one-time verification link.
//
// Under lambdamw it decrypts the classes identity and contact
// (SFNENC_CLASSES in template.yaml); its result's verificationUrl leaves it
// as a token of class session, by the configuration's rules.
//
// Environment: PROVIDER_URL, the identity provider's base URL.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/service"
	"github.com/sfnenc/sfnenc/lambdamw"
)

type event struct {
	CreditApplicationID string       `json:"creditApplicationId"`
	CreditApplicant     model.Person `json:"creditApplicant"`
	PhoneNumber         string       `json:"phoneNumber"`
	Email               string       `json:"email"`
	Attempt             int          `json:"attempt"`
}

type result struct {
	SessionID       string `json:"sessionId"`
	VerificationURL string `json:"verificationUrl"`
}

// ProviderRefusedError reports that the identity provider refused the
// request.
type ProviderRefusedError struct{ Err error }

// Error describes the failure.
func (e *ProviderRefusedError) Error() string {
	return "request-identification: identity provider refused: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ProviderRefusedError) Unwrap() error { return e.Err }

var provider = service.FromEnv("identity provider", "PROVIDER_URL")

func handle(ctx context.Context, ev event) (result, error) {
	err := provider.Ready("creditApplicant.fullName", ev.CreditApplicant.FullName, "phoneNumber", ev.PhoneNumber, "email", ev.Email)
	if err != nil {
		return result{}, fmt.Errorf("request-identification: %w", err)
	}
	var s model.Session
	err = provider.Post(ctx, "/v1/identification-sessions", model.SessionRequest{
		Reference:   ev.CreditApplicationID,
		Person:      ev.CreditApplicant,
		PhoneNumber: ev.PhoneNumber,
		Email:       ev.Email,
	}, &s)
	if err != nil {
		var se *model.StatusError
		if errors.As(err, &se) && se.Status < 500 {
			return result{}, &ProviderRefusedError{Err: err}
		}
		return result{}, fmt.Errorf("request-identification: %w", &service.ProviderUnavailableError{Err: err})
	}
	return result{SessionID: s.SessionID, VerificationURL: s.VerificationURL}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
