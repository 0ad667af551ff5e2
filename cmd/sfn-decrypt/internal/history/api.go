package history

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/awsapi"
	"github.com/sfnenc/sfnenc/jsontape"
)

// sfnAPI is the Step Functions API, with the kinds of its own error codes.
var sfnAPI = awsapi.Service{Pkg: "history", Codes: awsapi.Codes{
	awsapi.ErrNotFound:  {"ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFound"},
	awsapi.ErrDenied:    {"KmsAccessDeniedException", "KmsInvalidStateException"},
	awsapi.ErrThrottled: {"KmsThrottlingException"},
	awsapi.ErrRejected:  {"InvalidArn", "InvalidToken", "ValidationException", "StateMachineTypeNotSupported"},
}}

// ErrBadARN is wrapped by the errors of ExecutionRegion and
// StateMachineRegion.
var ErrBadARN = errors.New("history: bad ARN")

// Client reads histories and lists executions through the Step Functions
// API. Calls go to the region of the ARN they name. A failed call is an
// *awsapi.Error that names the operation and the ARN, with the kind of
// failure (awsapi.ErrNotFound, awsapi.ErrDenied, ...).
type Client struct {
	c *sfn.Client
}

// NewClient returns a Client over a Step Functions client made from cfg as
// awsapi.Config makes it (each response body read whole, so that event
// types and fields the SDK does not know pass through from the raw page).
// optFns apply after the package's own settings.
func NewClient(cfg aws.Config, optFns ...func(*sfn.Options)) *Client {
	return &Client{c: sfn.NewFromConfig(awsapi.Config(cfg, true), optFns...)}
}

// ExecutionRegion checks that a is the ARN of a Standard workflow execution
// and returns its region.
func ExecutionRegion(a string) (string, error) {
	region, res, ok := awsapi.StatesResource(a)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a Step Functions execution ARN", ErrBadARN, a)
	}
	switch awsapi.ResourceType(res) {
	case "execution":
		return region, nil
	case "express":
		return "", fmt.Errorf("%w: %s is an Express workflow execution, which has no execution history: its events are in CloudWatch Logs", ErrBadARN, a)
	case "stateMachine":
		return "", fmt.Errorf("%w: %s is a state machine ARN; use --state-machine-arn", ErrBadARN, a)
	}
	return "", fmt.Errorf("%w: %q is not a Step Functions execution ARN", ErrBadARN, a)
}

// StateMachineRegion checks that a is the ARN of a state machine and returns
// its region.
func StateMachineRegion(a string) (string, error) {
	region, res, ok := awsapi.StatesResource(a)
	if !ok || !strings.HasPrefix(res, "stateMachine:") {
		return "", fmt.Errorf("%w: %q is not a Step Functions state machine ARN", ErrBadARN, a)
	}
	return region, nil
}

// maxPages bounds the pages of one history (Step Functions keeps at most
// 25,000 events, 1,000 to a page).
const maxPages = 10000

// History reads the history of an execution: every page of
// GetExecutionHistory, with the execution data. Each event is kept as the
// API sent it, but for its timestamp, which is written as the AWS CLI prints
// it (ISO 8601), so the result has the shape of "aws stepfunctions
// get-execution-history". progress, if not nil, is called after each page
// with the number of events so far.
func (c *Client) History(ctx context.Context, executionARN string, progress func(events int)) (*History, error) {
	region, err := ExecutionRegion(executionARN)
	if err != nil {
		return nil, err
	}
	setRegion := func(o *sfn.Options) { o.Region = region }
	var events [][]byte
	err = sfnAPI.Pages("GetExecutionHistory", executionARN, maxPages, func(page int, token *string) (string, error) {
		body := &awsapi.Body{}
		out, err := c.c.GetExecutionHistory(awsapi.WithBody(ctx, body), &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(executionARN),
			IncludeExecutionData: aws.Bool(true),
			MaxResults:           1000,
			NextToken:            token,
		}, setRegion)
		if err != nil {
			return "", sfnAPI.NewError("GetExecutionHistory", executionARN, page, err)
		}
		if events, err = pageEvents(events, body.Bytes, len(out.Events)); err != nil {
			return "", sfnAPI.BadResponse("GetExecutionHistory", executionARN, page, err)
		}
		if progress != nil {
			progress(len(events))
		}
		return aws.ToString(out.NextToken), nil
	})
	if err != nil {
		return nil, err
	}
	h, err := Parse(document(events))
	if err != nil {
		return nil, sfnAPI.BadResponse("GetExecutionHistory", executionARN, 0, err)
	}
	return h, nil
}

// pageEvents appends to events the events of a GetExecutionHistory response
// body, read in one scan of the body, with their timestamps as the AWS CLI
// prints them. It checks each event, and that they are as many as the SDK
// decoded.
func pageEvents(events [][]byte, body []byte, want int) ([][]byte, error) {
	if body == nil {
		return nil, errors.New("no response body")
	}
	tape, err := jsontape.Scan(body, jsontape.Limits{MaxSize: len(body) + 1, MaxDepth: 1 << 10})
	if err != nil || tape.Kind(0) != jsontape.Object {
		return nil, errors.New("the response is not a page of events")
	}
	defer tape.Release()
	got := 0
	var name []byte
	for n := 1; n < tape.Len(); n = tape.End(n) {
		if name = tape.AppendName(name[:0], n); string(name) != "events" {
			continue
		}
		if tape.Kind(n) != jsontape.Array {
			return nil, errors.New("the response is not a page of events")
		}
		for c := n + 1; c < tape.End(n); c = tape.End(c) {
			if _, err := readEvent(tape, c, &name); err != nil {
				return nil, fmt.Errorf("events[%d]: %w", got, err)
			}
			events = append(events, cliTimestamp(tape, body, c))
			got++
		}
	}
	if got != want {
		return nil, fmt.Errorf("page has %d events, the SDK read %d", got, want)
	}
	return events, nil
}

// cliTimestamp returns event n of tape (scanned from src, and read by
// readEvent) with its numeric "timestamp" (epoch seconds, as the API sends
// it) written as the AWS CLI prints it.
func cliTimestamp(tape *jsontape.Document, src []byte, n int) []byte {
	start, end := tape.Raw(n)
	var name []byte
	for c := n + 1; c < tape.End(n); c = tape.End(c) {
		if name = tape.AppendName(name[:0], c); string(name) != "timestamp" || tape.Kind(c) != jsontape.Number {
			continue
		}
		ts, te := tape.Raw(c)
		t, _, _ := parseTime(src[ts:te], nil) // checked by readEvent
		out := append([]byte(nil), src[start:ts]...)
		out = append(out, '"')
		out = append(out, FormatTime(t)...)
		out = append(out, '"')
		return append(out, src[te:end]...)
	}
	return append([]byte(nil), src[start:end]...)
}

// document returns the history document of events.
func document(events [][]byte) []byte {
	size := len(`{"events":[]}`)
	for _, e := range events {
		size += len(e) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// FormatTime formats t as the AWS CLI prints timestamps: ISO 8601 with
// microseconds (left out when zero) and the offset, such as
// "2024-05-01T10:00:00.123000+00:00".
func FormatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05-07:00")
	}
	return t.Format("2006-01-02T15:04:05.000000-07:00")
}

// Execution is an execution found by Executions.
type Execution struct {
	ARN    string
	Status string
	Start  time.Time
}

// Executions lists the executions of a state machine, most recent first:
// those with the given status (all if empty) that started at or after since
// (all if zero).
func (c *Client) Executions(ctx context.Context, stateMachineARN, status string, since time.Time) ([]Execution, error) {
	region, err := StateMachineRegion(stateMachineARN)
	if err != nil {
		return nil, err
	}
	setRegion := func(o *sfn.Options) { o.Region = region }
	var list []Execution
	older := false
	err = sfnAPI.Pages("ListExecutions", stateMachineARN, maxPages, func(page int, token *string) (string, error) {
		out, err := c.c.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(stateMachineARN),
			StatusFilter:    types.ExecutionStatus(status),
			MaxResults:      1000,
			NextToken:       token,
		}, setRegion)
		if err != nil {
			return "", sfnAPI.NewError("ListExecutions", stateMachineARN, page, err)
		}
		for _, x := range out.Executions {
			start := aws.ToTime(x.StartDate)
			if !since.IsZero() && start.Before(since) {
				older = true // results come most recent first
				continue
			}
			list = append(list, Execution{ARN: aws.ToString(x.ExecutionArn), Status: string(x.Status), Start: start})
		}
		if older {
			return "", nil
		}
		return aws.ToString(out.NextToken), nil
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// Statuses are the execution statuses ListExecutions filters by.
func Statuses() []string {
	var s []string
	for _, v := range types.ExecutionStatus("").Values() {
		s = append(s, string(v))
	}
	return s
}

// Description is what DescribeExecution and DescribeStateMachineForExecution
// say of an execution that a page of it needs: its status and the definition
// of the state machine it ran.
type Description struct {
	Status     string
	Definition []byte
}

// Describe reads an execution's status (DescribeExecution) and the
// definition of the state machine version it ran
// (DescribeStateMachineForExecution). The execution's input and output in
// the DescribeExecution answer are not kept.
func (c *Client) Describe(ctx context.Context, executionARN string) (*Description, error) {
	region, err := ExecutionRegion(executionARN)
	if err != nil {
		return nil, err
	}
	setRegion := func(o *sfn.Options) { o.Region = region }
	ex, err := c.c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)}, setRegion)
	if err != nil {
		return nil, sfnAPI.NewError("DescribeExecution", executionARN, 0, err)
	}
	sm, err := c.c.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(executionARN)}, setRegion)
	if err != nil {
		return nil, sfnAPI.NewError("DescribeStateMachineForExecution", executionARN, 0, err)
	}
	return &Description{Status: string(ex.Status), Definition: []byte(aws.ToString(sm.Definition))}, nil
}
