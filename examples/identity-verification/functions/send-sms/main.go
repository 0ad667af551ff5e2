// Command send-sms is the Lambda function of the SendSMS state: it texts the
// applicant the identity provider's verification link.
//
// Under lambdamw it decrypts the classes contact (the phone number) and
// session (the link) only (SFNENC_CLASSES in template.yaml). The state's
// Parameters also pass creditApplicant, as workflows often pass more than a
// step needs: it reaches this handler as a token of class identity, which
// the function has no right to decrypt. The handler logs that token (a
// token is ciphertext), so the logs show what the function saw.
//
// Environment: SMS_GATEWAY_URL, the SMS gateway's base URL.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/service"
	"github.com/sfnenc/sfnenc/lambdamw"
)

type event struct {
	CreditApplicationID string `json:"creditApplicationId"`
	// CreditApplicant stays a token here: this function does not decrypt
	// the class identity.
	CreditApplicant json.RawMessage `json:"creditApplicant"`
	PhoneNumber     string          `json:"phoneNumber"`
	Message         string          `json:"message"`
	VerificationURL string          `json:"verificationUrl"`
}

type result struct {
	MessageID string `json:"messageId"`
}

var (
	gateway = service.FromEnv("SMS gateway", "SMS_GATEWAY_URL")
	logger  = slog.New(slog.NewJSONHandler(os.Stdout, nil))
)

func handle(ctx context.Context, ev event) (result, error) {
	if err := gateway.Ready(); err != nil {
		return result{}, fmt.Errorf("send-sms: %w", err)
	}
	// The applicant's identity is not this function's business. Log what
	// arrived: a token, or, should the configuration ever let the class
	// through, only the fact that it was plaintext.
	var applicant string
	if json.Unmarshal(ev.CreditApplicant, &applicant) != nil || !codec.IsToken(applicant) {
		applicant = "(plaintext, not logged)"
	}
	logger.Info("send-sms: event", "creditApplicationId", ev.CreditApplicationID, "creditApplicant", applicant)

	// Never text a token: a value still encrypted here means a
	// configuration error.
	if err := service.Plaintext("phoneNumber", ev.PhoneNumber, "verificationUrl", ev.VerificationURL); err != nil {
		return result{}, fmt.Errorf("send-sms: %w", err)
	}
	body := strings.ReplaceAll(ev.Message, "{link}", ev.VerificationURL)
	var id model.MessageID
	if err := gateway.Post(ctx, "/v1/sms", model.SMS{To: ev.PhoneNumber, Body: body}, &id); err != nil {
		return result{}, fmt.Errorf("send-sms: %w", err)
	}
	return result{MessageID: id.MessageID}, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handle))
}
