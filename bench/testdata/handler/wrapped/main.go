// Command wrapped is the handler of ../unwrapped with the middleware, for
// TestHandlerBinarySize.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/lambdamw"
)

type record struct {
	ID     string `json:"id"`
	SSN    string `json:"ssn"`
	Status string `json:"status"`
}

func handler(_ context.Context, rs []record) ([]record, error) {
	for i := range rs {
		rs[i].Status = "checked"
	}
	return rs, nil
}

func main() {
	lambda.Start(lambdamw.Wrap(handler))
}
