// Command continue-validation is the Lambda function of the
// ContinueValidation state: it checks that the person the identity provider
// verified is the applicant.
//
// Under lambdamw it decrypts the classes identity (the applicant) and
// verification (the provider's result) only (SFNENC_CLASSES in
// template.yaml).
//
// A mismatch fails with an IdentityMismatchError whose message names the
// values that differ, as error messages often do. Step Functions records a
// task's error message in the history as the cause; lambdamw encrypts it as
// a token of class verification (SFNENC_ERROR_CLASS), so the history holds
// no personal data even then, while an operator with the right to decrypt
// that class can still read it with sfn-decrypt.
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/lambdamw"
)

type event struct {
	CreditApplicationID string `json:"creditApplicationId"`
	// The state's Parameters pass the applicant as "applicant": the
	// identity rule selects "$..applicant" too, or the middleware would
	// leave it a token (it decrypts only at the rules' paths).
	Applicant      model.Person `json:"applicant"`
	VerifiedPerson model.Person `json:"verifiedPerson"`
	Amount         float64      `json:"amount"`
}

type result struct {
	IdentityMatch string   `json:"identityMatch"`
	CheckedFields []string `json:"checkedFields"`
}

// IdentityMismatchError reports that the verified person differs from the
// applicant in a field.
type IdentityMismatchError struct {
	Field               string
	Applicant, Verified string
}

// Error names the field and both values: lambdamw encrypts the message.
func (e *IdentityMismatchError) Error() string {
	return fmt.Sprintf("continue-validation: verified %s %q does not match the applicant's %q", e.Field, e.Verified, e.Applicant)
}

func normalise(s string) string {
	return strings.Join(strings.Fields(strings.ToUpper(s)), " ")
}

func handle(_ context.Context, ev event) (result, error) {
	if codec.IsToken(ev.Applicant.FullName) || codec.IsToken(ev.VerifiedPerson.FullName) || ev.Applicant.FullName == "" {
		return result{}, errors.New("continue-validation: applicant or verified person is missing or still encrypted")
	}
	fields := []struct {
		name                string
		applicant, verified string
	}{
		{"fullName", ev.Applicant.FullName, ev.VerifiedPerson.FullName},
		{"dateOfBirth", ev.Applicant.DateOfBirth, ev.VerifiedPerson.DateOfBirth},
		{"nationalId", ev.Applicant.NationalID, ev.VerifiedPerson.NationalID},
	}
	checked := make([]string, 0, len(fields))
	for _, f := range fields {
		if normalise(f.applicant) != normalise(f.verified) {
			return result{}, &IdentityMismatchError{Field: f.name, Applicant: f.applicant, Verified: f.verified}
		}
		checked = append(checked, f.name)
	}
	return result{IdentityMatch: "exact", CheckedFields: checked}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
