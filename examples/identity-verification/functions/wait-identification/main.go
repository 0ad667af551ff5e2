// Command wait-identification is the Lambda function of the
// WaitIdentification state (arn:aws:states:::lambda:invoke.waitForTaskToken):
// it hands the task token and the identification session to the backend's
// webhook service, which completes the task with SendTaskSuccess when the
// identity provider reports the session's result.
//
// It reads no personal data: under lambdamw it decrypts no class
// (SFNENC_CLASSES "-" in template.yaml) and has no KMS permission.
//
// Environment: WEBHOOK_URL, the webhook service's base URL.
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
	TaskToken           string `json:"taskToken"`
	CreditApplicationID string `json:"creditApplicationId"`
	SessionID           string `json:"sessionId"`
}

type result struct {
	Registered bool `json:"registered"`
}

var webhook = service.FromEnv("webhook service", "WEBHOOK_URL")

func handle(ctx context.Context, ev event) (result, error) {
	if err := webhook.Ready(); err != nil {
		return result{}, fmt.Errorf("wait-identification: %w", err)
	}
	if ev.TaskToken == "" || ev.SessionID == "" {
		return result{}, errors.New("wait-identification: taskToken or sessionId missing")
	}
	err := webhook.Post(ctx, "/identification-tasks", model.TaskRegistration{
		TaskToken:           ev.TaskToken,
		SessionID:           ev.SessionID,
		CreditApplicationID: ev.CreditApplicationID,
	}, nil)
	if err != nil {
		return result{}, fmt.Errorf("wait-identification: %w", err)
	}
	return result{Registered: true}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
