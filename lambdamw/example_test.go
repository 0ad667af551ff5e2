package lambdamw_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// Order is the event of the example handler.
type Order struct {
	OrderID  string `json:"orderId"`
	Customer struct {
		Name string `json:"name"`
		SSN  string `json:"ssn"`
	} `json:"customer"`
}

// Receipt is its result.
type Receipt struct {
	OrderID string `json:"orderId"`
	SSN     string `json:"ssn"`
	Status  string `json:"status"`
}

func handleOrder(_ context.Context, o Order) (Receipt, error) {
	if o.Customer.Name == "" {
		return Receipt{}, errors.New("no customer name for " + o.Customer.SSN)
	}
	return Receipt{OrderID: o.OrderID, SSN: o.Customer.SSN, Status: "verified"}, nil
}

// The change to a Lambda function's main: wrap the handler. The middleware
// reads its configuration from SFNENC_CONFIG_FILE or SFNENC_CONFIG.
func Example() {
	lambda.Start(lambdamw.Wrap(handleOrder))
}

// The handler sees plaintext; what goes back to Step Functions holds tokens.
func ExampleWrap() {
	ctx := context.Background()
	h := lambdamw.Wrap(handleOrder,
		lambdamw.WithCodec(exampleCodec()),
		lambdamw.WithLogger(slog.New(slog.DiscardHandler)))

	// The previous state's output, as Step Functions passes it on.
	c := exampleCodec()
	event, err := c.Encrypt(ctx, []byte(`{"orderId":"o-17","customer":{"name":"Ann","ssn":"123-45-6789"}}`))
	if err != nil {
		panic(err)
	}

	out, err := h.Invoke(ctx, event)
	if err != nil {
		panic(err)
	}
	fmt.Println("plaintext in the result:", strings.Contains(string(out), "123-45-6789"))
	plain, err := c.Decrypt(ctx, out)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(plain))
	// Output:
	// plaintext in the result: false
	// {"orderId":"o-17","ssn":"123-45-6789","status":"verified"}
}

// A handler's error keeps its type name, for Retry and Catch; its message,
// which Step Functions records as the cause, becomes a token of the error
// class.
func ExampleWithErrorClass() {
	ctx := context.Background()
	h := lambdamw.Wrap(handleOrder,
		lambdamw.WithCodec(exampleCodec()),
		lambdamw.WithErrorClass("diag"),
		lambdamw.WithLogger(slog.New(slog.DiscardHandler)))

	// The rules select the ssn, so the event must carry it as a token.
	event := encryptEvent(`{"orderId":"o-18","customer":{"ssn":"987-65-4321"}}`)
	_, err := h.Invoke(ctx, event)
	var report messages.InvokeResponse_Error
	if errors.As(err, &report) {
		fmt.Println("errorType:", report.Type)
		fmt.Println("errorMessage is a token:", strings.HasPrefix(report.Message, "sfnenc:"))
	}
	// Output:
	// errorType: errorString
	// errorMessage is a token: true
}

// encryptEvent encrypts doc by the example configuration, as the state
// before would have.
func encryptEvent(doc string) []byte {
	event, err := exampleCodec().Encrypt(context.Background(), []byte(doc))
	if err != nil {
		panic(err)
	}
	return event
}

// exampleCodec is a codec of the example configuration, standing for the
// state before.
func exampleCodec() *codec.Codec {
	cfg, err := codec.LoadConfig("testdata/example-config.json")
	if err != nil {
		panic(err)
	}
	c, err := codec.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	return c
}
