package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/sfnenc/sfnenc/fieldpath"
)

// Errors of the Step Functions API, wrapped by an *APIError, for callers to
// branch on.
var (
	// ErrNotFound: the execution or state machine does not exist.
	ErrNotFound = errors.New("does not exist")
	// ErrDenied: the caller may not read it (IAM, or the workflow's KMS
	// key), or the credentials are not valid.
	ErrDenied = errors.New("access denied")
	// ErrThrottled: Step Functions throttled the requests past the
	// retries.
	ErrThrottled = errors.New("throttled past the retries")
	// ErrRejected: Step Functions refused the request as invalid (an ARN
	// it does not accept, an expired page token, an Express state machine).
	ErrRejected = errors.New("request rejected")
	// ErrBadResponse: a response was cut off or is not what the API
	// sends.
	ErrBadResponse = errors.New("invalid or truncated response")
	// ErrUnavailable: Step Functions could not be reached.
	ErrUnavailable = errors.New("unreachable")
)

// ErrBadARN is wrapped by the errors of ExecutionRegion and
// StateMachineRegion.
var ErrBadARN = errors.New("history: bad ARN")

// APIError reports a failed Step Functions call. It names the operation and
// the ARN, never data.
type APIError struct {
	Op   string // "GetExecutionHistory" or "ListExecutions"
	ARN  string
	Page int   // the page being read, from 1
	Kind error // one of the API error sentinels, or nil
	Err  error
}

// Error names the operation, the ARN, the page and the kind of failure.
func (e *APIError) Error() string {
	s := fmt.Sprintf("history: %s %s", e.Op, e.ARN)
	if e.Page > 1 {
		s += fmt.Sprintf(" (page %d)", e.Page)
	}
	if e.Kind != nil {
		s += ": " + e.Kind.Error()
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the kind and the cause.
func (e *APIError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

func apiError(op, a string, page int, err error) error {
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		// Its message may quote the response, and so data.
		err = &quietError{"the response could not be decoded (cut off, or not JSON)", err}
	}
	return &APIError{Op: op, ARN: a, Page: page, Kind: classify(err), Err: err}
}

// quietError replaces the message of an error that may hold data.
type quietError struct {
	msg string
	err error
}

func (e *quietError) Error() string { return e.msg }
func (e *quietError) Unwrap() error { return e.err }

func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFound":
			return ErrNotFound
		case "AccessDeniedException", "KmsAccessDeniedException", "KmsInvalidStateException",
			"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
			"InvalidClientTokenId", "MissingAuthenticationToken":
			return ErrDenied
		case "ThrottlingException", "KmsThrottlingException", "TooManyRequestsException",
			"RequestLimitExceeded", "ServiceQuotaExceededException":
			return ErrThrottled
		case "InvalidArn", "InvalidToken", "ValidationException", "StateMachineTypeNotSupported":
			return ErrRejected
		}
		return nil
	}
	var qe *ratelimit.QuotaExceededError
	var de *smithy.DeserializationError
	var te *truncatedError
	switch {
	case errors.As(err, &qe):
		return ErrThrottled
	case errors.As(err, &de), errors.As(err, &te):
		return ErrBadResponse
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return ErrUnavailable
	}
	return nil
}

// DefaultMaxAttempts is how many times a Step Functions request is tried
// when the AWS configuration sets no maximum (AWS_MAX_ATTEMPTS, max_attempts):
// more than the SDK's default of 3, as reading many histories meets the
// API's rate limits. Retries back off exponentially, with jitter.
const DefaultMaxAttempts = 10

// Client reads histories and lists executions through the Step Functions
// API. Calls go to the region of the ARN they name.
type Client struct {
	c *sfn.Client
}

// NewClient returns a Client over a Step Functions client made from cfg
// (credentials, endpoint such as AWS_ENDPOINT_URL_SFN, application id,
// retry mode). optFns apply after the package's own settings.
func NewClient(cfg aws.Config, optFns ...func(*sfn.Options)) *Client {
	opts := append([]func(*sfn.Options){func(o *sfn.Options) {
		o.HTTPClient = captureClient{next: o.HTTPClient}
		if o.RetryMaxAttempts == 0 {
			o.RetryMaxAttempts = DefaultMaxAttempts
		}
	}}, optFns...)
	return &Client{c: sfn.NewFromConfig(cfg, opts...)}
}

// ExecutionRegion checks that a is the ARN of a Standard workflow execution
// and returns its region.
func ExecutionRegion(a string) (string, error) {
	p, err := arn.Parse(a)
	if err != nil || p.Service != "states" || p.Region == "" {
		return "", fmt.Errorf("%w: %q is not a Step Functions execution ARN", ErrBadARN, a)
	}
	switch kind, _, _ := strings.Cut(p.Resource, ":"); kind {
	case "execution":
		return p.Region, nil
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
	p, err := arn.Parse(a)
	if err != nil || p.Service != "states" || p.Region == "" || !strings.HasPrefix(p.Resource, "stateMachine:") {
		return "", fmt.Errorf("%w: %q is not a Step Functions state machine ARN", ErrBadARN, a)
	}
	return p.Region, nil
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
	h := &History{members: []member{{name: "events"}}}
	var token *string
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, &APIError{Op: "GetExecutionHistory", ARN: executionARN, Page: page, Kind: ErrBadResponse, Err: errors.New("too many pages")}
		}
		cp := &capture{}
		out, err := c.c.GetExecutionHistory(context.WithValue(ctx, captureKey{}, cp), &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(executionARN),
			IncludeExecutionData: aws.Bool(true),
			MaxResults:           1000,
			NextToken:            token,
		}, setRegion)
		if err != nil {
			return nil, apiError("GetExecutionHistory", executionARN, page, err)
		}
		raws, err := pageEvents(cp.body, len(out.Events))
		if err != nil {
			return nil, &APIError{Op: "GetExecutionHistory", ARN: executionARN, Page: page, Kind: ErrBadResponse, Err: err}
		}
		for i, raw := range raws {
			raw, err := cliTimestamp(raw)
			if err == nil {
				err = checkEvent(raw)
			}
			if err != nil {
				return nil, &APIError{Op: "GetExecutionHistory", ARN: executionARN, Page: page, Kind: ErrBadResponse,
					Err: fmt.Errorf("events[%d]: %w", i, err)}
			}
			h.events = append(h.events, event{raw: raw})
		}
		if progress != nil {
			progress(len(h.events))
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			return h, nil
		}
		if token != nil && next == *token {
			return nil, &APIError{Op: "GetExecutionHistory", ARN: executionARN, Page: page, Kind: ErrBadResponse, Err: errors.New("the same page token twice")}
		}
		token = aws.String(next)
	}
}

// pageEvents returns the raw events of a GetExecutionHistory response body,
// checking that they are as many as the SDK decoded.
func pageEvents(body []byte, want int) ([]json.RawMessage, error) {
	if body == nil {
		return nil, errors.New("no response body")
	}
	var p struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, errors.New("the response is not a page of events")
	}
	if len(p.Events) != want {
		return nil, fmt.Errorf("page has %d events, the SDK read %d", len(p.Events), want)
	}
	return p.Events, nil
}

// cliTimestamp rewrites an event's numeric "timestamp" (epoch seconds, as
// the API sends it) as the AWS CLI prints it.
func cliTimestamp(raw []byte) ([]byte, error) {
	doc, err := fieldpath.Scan(raw, fieldpath.Limits{MaxSize: 64 << 20, MaxDepth: 256})
	if err != nil {
		return nil, err
	}
	defer doc.Release()
	for n := 1; n < doc.Len(); n++ {
		if doc.Parent(n) != 0 || doc.Kind(n) != fieldpath.Number || doc.Pointer(n) != "/timestamp" {
			continue
		}
		start, end := doc.Raw(n)
		t, _, err := parseTime(raw[start:end])
		if err != nil {
			return nil, err
		}
		out := append([]byte(nil), raw[:start]...)
		out = append(out, '"')
		out = append(out, FormatTime(t)...)
		out = append(out, '"')
		return append(out, raw[end:]...), nil
	}
	return raw, nil
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
	var token *string
	for page := 1; ; page++ {
		out, err := c.c.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(stateMachineARN),
			StatusFilter:    types.ExecutionStatus(status),
			MaxResults:      1000,
			NextToken:       token,
		}, setRegion)
		if err != nil {
			return nil, apiError("ListExecutions", stateMachineARN, page, err)
		}
		older := false
		for _, x := range out.Executions {
			start := aws.ToTime(x.StartDate)
			if !since.IsZero() && start.Before(since) {
				older = true // results come most recent first
				continue
			}
			list = append(list, Execution{ARN: aws.ToString(x.ExecutionArn), Status: string(x.Status), Start: start})
		}
		next := aws.ToString(out.NextToken)
		if next == "" || older {
			return list, nil
		}
		if page >= maxPages || token != nil && next == *token {
			return nil, &APIError{Op: "ListExecutions", ARN: stateMachineARN, Page: page, Kind: ErrBadResponse, Err: errors.New("the listing does not end")}
		}
		token = aws.String(next)
	}
}

// Statuses are the execution statuses ListExecutions filters by.
func Statuses() []string {
	var s []string
	for _, v := range types.ExecutionStatus("").Values() {
		s = append(s, string(v))
	}
	return s
}

// captureKey is the context key of the *capture a request's response body
// is kept in.
type captureKey struct{}

type capture struct{ body []byte }

// captureClient keeps the body of each successful response for the request
// whose context holds a *capture: events are read from the raw page, so that
// event types and fields that the SDK does not know pass through.
type captureClient struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
}

func (c captureClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	cp, ok := r.Context().Value(captureKey{}).(*capture)
	if !ok {
		return resp, nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, &truncatedError{err}
	}
	cp.body = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// truncatedError is a response body that was cut off. The SDK's retryer
// retries it as a connection error.
type truncatedError struct{ err error }

func (e *truncatedError) Error() string         { return "response cut off: " + e.err.Error() }
func (e *truncatedError) Unwrap() error         { return e.err }
func (e *truncatedError) ConnectionError() bool { return true }
