// Command unwrapped is a tiny Lambda handler without the middleware, the
// baseline of TestHandlerBinarySize.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
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
	lambda.Start(handler)
}
