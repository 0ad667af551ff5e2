// Package model holds the data types of the identity-verification example
// that several of its parts exchange: the credit application the backend
// receives, and the requests and answers of the identity provider, the SMS
// gateway and the mail service.
package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Person is the identity of an applicant, as the applicant gives it or as
// the identity provider verified it.
type Person struct {
	FullName    string  `json:"fullName"`
	DateOfBirth string  `json:"dateOfBirth"`
	NationalID  string  `json:"nationalId"`
	Address     Address `json:"address"`
}

// Address is a postal address.
type Address struct {
	Street   string `json:"street"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

// Application is a credit application as the backend receives it, in
// plaintext, and as it starts the workflow (encrypted by the rules).
type Application struct {
	CreditApplicationID string        `json:"creditApplicationId"`
	Product             string        `json:"product"`
	Amount              float64       `json:"amount"`
	Currency            string        `json:"currency"`
	CreditApplicant     Person        `json:"creditApplicant"`
	PhoneNumber         string        `json:"phoneNumber"`
	Email               string        `json:"email"`
	CoApplicants        []CoApplicant `json:"coApplicants"`
}

// CoApplicant is a further applicant of a credit application.
type CoApplicant struct {
	CoApplicantID   string `json:"coApplicantId"`
	CreditApplicant Person `json:"creditApplicant"`
}

// SessionRequest asks the identity provider to open an identification
// session.
type SessionRequest struct {
	Reference   string `json:"reference"`
	Person      Person `json:"person"`
	PhoneNumber string `json:"phoneNumber"`
	Email       string `json:"email"`
}

// Session is the identity provider's answer to a SessionRequest.
type Session struct {
	SessionID       string `json:"sessionId"`
	VerificationURL string `json:"verificationUrl"`
}

// Outcomes of an identification session.
const (
	OutcomeVerified     = "verified"
	OutcomeInconclusive = "inconclusive"
	OutcomeRejected     = "rejected"
)

// IdentificationResult is what the identity provider reports to the
// webhook when a session ends.
type IdentificationResult struct {
	SessionID      string `json:"sessionId"`
	Reference      string `json:"reference"`
	Outcome        string `json:"outcome"`
	VerifiedPerson Person `json:"verifiedPerson"`
	CheckedAt      string `json:"checkedAt"`
}

// TaskResult is what the webhook hands to the workflow as the result of
// the WaitIdentification task: the provider's IdentificationResult and,
// at its root, the id of the credit application whose task it completes,
// as the workflow registered the task. The class verification is bound to
// that id ("bind" in config/sfnenc.json), so a verified person of one
// application does not decrypt in another's.
type TaskResult struct {
	CreditApplicationID string `json:"creditApplicationId"`
	IdentificationResult
}

// ScreeningRequest asks the identity provider to screen a co-applicant.
type ScreeningRequest struct {
	Reference string `json:"reference"`
	Person    Person `json:"person"`
}

// Screening is the identity provider's answer to a ScreeningRequest.
type Screening struct {
	Result string `json:"result"`
}

// SMS is a text message sent through the SMS gateway.
type SMS struct {
	To   string `json:"to"`
	Body string `json:"body"`
}

// Email is a message sent through the mail service.
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// MessageID is the answer of the SMS gateway and the mail service.
type MessageID struct {
	MessageID string `json:"messageId"`
}

// TaskRegistration tells the webhook service which task token waits for
// the end of an identification session.
type TaskRegistration struct {
	TaskToken           string `json:"taskToken"`
	SessionID           string `json:"sessionId"`
	CreditApplicationID string `json:"creditApplicationId"`
}

// StatusError is an HTTP answer outside 2xx. It holds the status only, never
// the body, which may echo personal data.
type StatusError struct {
	Service string
	Status  int
}

// Error names the service and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d", e.Service, e.Status)
}

// PostJSON posts in as JSON to url and decodes the answer into out (if not
// nil). service names the other side in errors.
func PostJSON(ctx context.Context, client *http.Client, service, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", service, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return &StatusError{Service: service, Status: resp.StatusCode}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", service, err)
	}
	return nil
}
