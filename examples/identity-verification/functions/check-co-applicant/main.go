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
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/service"
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

var provider = service.FromEnv("identity provider", "PROVIDER_URL")

func handle(ctx context.Context, ev event) (result, error) {
	p := ev.CoApplicant.CreditApplicant
	if err := provider.Ready("co-applicant", p.FullName); err != nil {
		return result{}, fmt.Errorf("check-co-applicant: %w", err)
	}
	var s model.Screening
	err := provider.Post(ctx, "/v1/screenings", model.ScreeningRequest{
		Reference: ev.CreditApplicationID + "/" + ev.CoApplicant.CoApplicantID,
		Person:    p,
	}, &s)
	if err != nil {
		return result{}, fmt.Errorf("check-co-applicant: %w", &service.ProviderUnavailableError{Err: err})
	}
	return result{CoApplicantID: ev.CoApplicant.CoApplicantID, Screening: s.Result}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
