// Command check-co-applicant is the Lambda function of the CheckCoApplicant
// state, run by the CheckCoApplicants Map once per co-applicant: it has the
// identity provider screen the co-applicant.
//
// Under lambdamw it decrypts the class identity only (SFNENC_CLASSES in
// template.yaml).
//
// Environment: PROVIDER_URL, the identity provider's base URL.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/lambdamw"
)

type event struct {
	CreditApplicationID string            `json:"creditApplicationId"`
	CoApplicant         model.CoApplicant `json:"coApplicant"`
}

type result struct {
	CoApplicantID string `json:"coApplicantId"`
	Screening     string `json:"screening"`
}

// ProviderUnavailableError reports that the identity provider could not be
// reached or failed; the state machine retries it.
type ProviderUnavailableError struct{ Err error }

// Error describes the failure.
func (e *ProviderUnavailableError) Error() string {
	return "check-co-applicant: identity provider unavailable: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ProviderUnavailableError) Unwrap() error { return e.Err }

var (
	providerURL = os.Getenv("PROVIDER_URL")
	client      = &http.Client{Timeout: 10 * time.Second}
)

func handle(ctx context.Context, ev event) (result, error) {
	if providerURL == "" {
		return result{}, errors.New("check-co-applicant: PROVIDER_URL is not set")
	}
	p := ev.CoApplicant.CreditApplicant
	if codec.IsToken(p.FullName) || p.FullName == "" {
		return result{}, errors.New("check-co-applicant: co-applicant is missing or still encrypted")
	}
	var s model.Screening
	err := model.PostJSON(ctx, client, "identity provider", providerURL+"/v1/screenings", model.ScreeningRequest{
		Reference: ev.CreditApplicationID + "/" + ev.CoApplicant.CoApplicantID,
		Person:    p,
	}, &s)
	if err != nil {
		return result{}, &ProviderUnavailableError{Err: err}
	}
	return result{CoApplicantID: ev.CoApplicant.CoApplicantID, Screening: s.Result}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
