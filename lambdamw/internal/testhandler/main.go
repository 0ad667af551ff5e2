// Command testhandler is a Lambda function for the tests of package
// lambdamw: they build it, run it under the AWS Lambda Runtime Interface
// Emulator and invoke it over HTTP. The event's "action" says what it does:
//
//	echo     return the customer and card with a greeting (the default)
//	fail     return a *PaymentDeclined error whose message holds the SSN
//	panic    panic with a message that holds the SSN
//	big      return "size" strings of "blobSize" bytes under "blobs"
//	echo-extra  return "notes" and "applicant" as they came (a free-text
//	         field and a field that Parameters renamed)
//	move     return the customer under "applicant", a path no rule selects
//
// With TESTHANDLER_UNWRAPPED=1 it runs the same handler without the
// middleware, so that tests can compare what the runtime reports.
package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/lambdamw"
)

// Customer is part of the event and of the result.
type Customer struct {
	Name  string `json:"name"`
	SSN   string `json:"ssn"`
	Phone string `json:"phone,omitempty"`
}

// Event is what the function receives.
type Event struct {
	Action    string          `json:"action"`
	Customer  *Customer       `json:"customer,omitempty"`
	Card      json.RawMessage `json:"card,omitempty"`
	Size      int             `json:"size,omitempty"`
	BlobSize  int             `json:"blobSize,omitempty"`
	Notes     json.RawMessage `json:"notes,omitempty"`
	Applicant json.RawMessage `json:"applicant,omitempty"`
}

// Result is what the function returns.
type Result struct {
	Greeting  string          `json:"greeting"`
	Customer  *Customer       `json:"customer,omitempty"`
	Card      json.RawMessage `json:"card,omitempty"`
	Blobs     []string        `json:"blobs,omitempty"`
	Notes     json.RawMessage `json:"notes,omitempty"`
	Applicant any             `json:"applicant,omitempty"`
}

// PaymentDeclined is the handler's own error type, which state machines
// match by name.
type PaymentDeclined struct{ Reason string }

func (e *PaymentDeclined) Error() string { return "payment declined for " + e.Reason }

func handle(ctx context.Context, ev Event) (Result, error) {
	var ssn string
	if ev.Customer != nil {
		ssn = ev.Customer.SSN
	}
	switch ev.Action {
	case "fail":
		return Result{}, &PaymentDeclined{Reason: ssn}
	case "panic":
		panic("handler gave up on " + ssn)
	case "echo-extra":
		return Result{Greeting: "extra", Notes: ev.Notes, Applicant: ev.Applicant}, nil
	case "move":
		return Result{Greeting: "moved", Applicant: ev.Customer}, nil
	case "rewrite":
		// A changed value: the middleware must make a new token for it.
		c := *ev.Customer
		c.SSN = "checked " + c.SSN
		return Result{Greeting: "rewritten", Customer: &c, Card: ev.Card}, nil
	case "big":
		r := Result{Greeting: "big"}
		for range ev.Size {
			r.Blobs = append(r.Blobs, strings.Repeat("x", ev.BlobSize))
		}
		return r, nil
	}
	r := Result{Customer: ev.Customer, Card: ev.Card}
	if ev.Customer != nil {
		r.Greeting = "hello " + ev.Customer.Name
	}
	return r, nil
}

func main() {
	if os.Getenv("TESTHANDLER_UNWRAPPED") == "1" {
		lambda.Start(handle)
		return
	}
	lambda.Start(lambdamw.Wrap(handle))
}
