// Command benchhandler is the handler of the proxy's benchmarks: it decodes
// a batch of 20 records, marks each checked and returns them. With
// BENCHHANDLER_WRAPPED=1 it runs with lambdamw in the process (the Go way);
// otherwise it is a plain aws-lambda-go handler, for sfnenc-proxy to put
// the same contract in front of. One binary, so that the two differ only
// in where the contract runs.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/lambdamw"
)

type record struct {
	ID     string `json:"id"`
	SSN    string `json:"ssn"`
	Status string `json:"status"`
	Notes  string `json:"notes"`
}

type batch struct {
	Batch   string   `json:"batch"`
	Records []record `json:"records"`
}

func handle(_ context.Context, b batch) (batch, error) {
	for i := range b.Records {
		b.Records[i].Status = "checked"
	}
	return b, nil
}

func main() {
	if os.Getenv("BENCHHANDLER_WRAPPED") == "1" {
		lambda.Start(lambdamw.Wrap(handle))
		return
	}
	lambda.Start(handle)
}
