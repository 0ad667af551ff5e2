// Command send-rejection-email is the Lambda function of the
// SendRejectionEmail state: it tells the applicant by email that the
// identity check did not succeed.
//
// Under lambdamw it decrypts the class contact only (SFNENC_CLASSES in
// template.yaml): the email address.
//
// Environment: MAIL_API_URL, the mail service's base URL.
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
	CreditApplicationID string `json:"creditApplicationId"`
	Email               string `json:"email"`
	Outcome             string `json:"outcome"`
}

type result struct {
	MessageID string `json:"messageId"`
}

var mail = service.FromEnv("mail service", "MAIL_API_URL")

func handle(ctx context.Context, ev event) (result, error) {
	if err := mail.Ready("email", ev.Email); err != nil {
		return result{}, fmt.Errorf("send-rejection-email: %w", err)
	}
	reason := "we could not confirm your identity"
	if ev.Outcome == model.OutcomeInconclusive {
		reason = "we could not confirm your identity after several attempts"
	}
	msg := model.Email{
		To:      ev.Email,
		Subject: "Your credit application " + ev.CreditApplicationID,
		Text:    "We are sorry: " + reason + ", so we cannot continue with your credit application " + ev.CreditApplicationID + ".",
	}
	var id model.MessageID
	if err := mail.Post(ctx, "/v1/messages", msg, &id); err != nil {
		return result{}, fmt.Errorf("send-rejection-email: %w", err)
	}
	return result{MessageID: id.MessageID}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
