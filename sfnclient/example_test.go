package sfnclient_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/sfnclient"
)

// A backend service adds one option when it builds its Step Functions
// client: the input it starts executions with is encrypted by the rules of
// the configuration.
func ExampleWithEncryption() {
	ctx := context.Background()
	// Here a local endpoint that records what it receives stands in for
	// Step Functions, and the configuration uses an insecure local keyset.
	fake := newFakeSFN()
	defer fake.Close()
	cfg, err := codec.ParseConfig([]byte(`{
		"encryptionContext": {"app": "orders"},
		"keyrings": {"dev": {"insecureLocalKeyset": "../testdata/keys/insecure-test-keyset.json"}},
		"rules": [{"class": "pii", "keyring": "dev", "select": ["$..ssn"]}]
	}`))
	if err != nil {
		panic(err)
	}
	c, err := codec.New(ctx, cfg)
	if err != nil {
		panic(err)
	}
	// Usually config.LoadDefaultConfig(ctx).
	awsCfg := aws.Config{Region: "eu-west-2", BaseEndpoint: aws.String(fake.srv.URL), Credentials: aws.AnonymousCredentials{}}

	client := sfn.NewFromConfig(awsCfg, sfnclient.WithEncryption(c, sfnclient.WithDecryption()))

	started, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:orders"),
		Input:           aws.String(`{"orderId":"o-17","customer":{"ssn":"123-45-6789"}}`),
	})
	if err != nil {
		panic(err)
	}
	sent := fake.Requests()[0].Body
	fmt.Println("Step Functions received the SSN:", strings.Contains(sent, "123-45-6789"))

	// With WithDecryption, the output comes back decrypted for a caller
	// that holds the rights (the example's state machine passes its input
	// through).
	desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
	if err != nil {
		panic(err)
	}
	fmt.Println(aws.ToString(desc.Output))
	// Output:
	// Step Functions received the SSN: false
	// {"orderId":"o-17","customer":{"ssn":"123-45-6789"}}
}
