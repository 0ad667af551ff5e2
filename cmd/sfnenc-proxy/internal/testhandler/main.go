// Command testhandler is a plain aws-lambda-go handler that does not import
// sfnenc: the tests of sfnenc-proxy run it behind the proxy under the
// Lambda Runtime Interface Emulator, as a Go team would run a function
// that it does not change. The event's "action" says what it does:
//
//	echo     return the customer and card with a greeting (the default)
//	fail     return a *PaymentDeclined error whose message holds the SSN
//	crash    exit the process in the middle of the invocation
//	context  return what the runtime's context says (request id, function
//	         ARN, deadline, client context, Cognito identity, trace id)
//	big      return "size" strings of "blobSize" bytes under "blobs"
//	sleep    sleep "sleepMs" milliseconds, then echo
//
// What the handler saw goes to a file of its own, never to a log: with
// TESTHANDLER_SEEN_DIR set, each event is written to
// $TESTHANDLER_SEEN_DIR/<request id>.json, so the tests can check that the
// handler got plaintext.
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Customer is part of the event and of the result.
type Customer struct {
	Name  string `json:"name"`
	SSN   string `json:"ssn"`
	Phone string `json:"phone,omitempty"`
}

// Event is what the function receives.
type Event struct {
	Action   string          `json:"action"`
	Customer *Customer       `json:"customer,omitempty"`
	Card     json.RawMessage `json:"card,omitempty"`
	Size     int             `json:"size,omitempty"`
	BlobSize int             `json:"blobSize,omitempty"`
	SleepMs  int             `json:"sleepMs,omitempty"`
}

// Result is what the function returns.
type Result struct {
	Greeting string          `json:"greeting"`
	Customer *Customer       `json:"customer,omitempty"`
	Card     json.RawMessage `json:"card,omitempty"`
	Blobs    []string        `json:"blobs,omitempty"`
	Context  map[string]any  `json:"context,omitempty"`
}

// PaymentDeclined is the handler's own error type, which state machines
// match by name.
type PaymentDeclined struct{ Reason string }

func (e *PaymentDeclined) Error() string { return "payment declined for " + e.Reason }

func handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	if dir := os.Getenv("TESTHANDLER_SEEN_DIR"); dir != "" && lc != nil {
		_ = os.WriteFile(filepath.Join(dir, lc.AwsRequestID+".json"), raw, 0o600)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Result{}, err
	}
	var ssn string
	if ev.Customer != nil {
		ssn = ev.Customer.SSN
	}
	switch ev.Action {
	case "fail":
		return Result{}, &PaymentDeclined{Reason: ssn}
	case "crash":
		os.Exit(3)
	case "context":
		dl, _ := ctx.Deadline()
		c := map[string]any{
			"requestId":          lc.AwsRequestID,
			"invokedFunctionArn": lc.InvokedFunctionArn,
			"deadlineMs":         dl.UnixMilli(),
			"clientContext":      lc.ClientContext,
			"identity":           lc.Identity,
			"traceId":            ctx.Value("x-amzn-trace-id"),
			"tenantId":           lc.TenantID,
		}
		return Result{Greeting: "context", Context: c}, nil
	case "big":
		r := Result{Greeting: "big"}
		for range ev.Size {
			r.Blobs = append(r.Blobs, strings.Repeat("x", ev.BlobSize))
		}
		return r, nil
	case "sleep":
		time.Sleep(time.Duration(ev.SleepMs) * time.Millisecond)
	case "rewrite":
		// A changed value: the contract must make a new token for it (an
		// unchanged one goes back as the token it came from).
		c := *ev.Customer
		c.SSN = "checked " + c.SSN
		return Result{Greeting: "rewritten", Customer: &c, Card: ev.Card}, nil
	}
	name := ""
	if ev.Customer != nil {
		name = ev.Customer.Name
	}
	return Result{Greeting: "hello " + name, Customer: ev.Customer, Card: ev.Card}, nil
}

func main() {
	lambda.Start(handle)
}
