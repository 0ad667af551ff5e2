package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

// Errors of the CloudWatch Logs API, wrapped by an *APIError, for callers to
// branch on.
var (
	// ErrNotFound: the log group does not exist.
	ErrNotFound = errors.New("does not exist")
	// ErrDenied: the caller may not read the log group (IAM, or the log
	// group's KMS key), or the credentials are not valid.
	ErrDenied = errors.New("access denied")
	// ErrThrottled: CloudWatch Logs throttled the requests past the
	// retries.
	ErrThrottled = errors.New("throttled past the retries")
	// ErrRejected: CloudWatch Logs refused the request as invalid (a
	// parameter or page token it does not accept).
	ErrRejected = errors.New("request rejected")
	// ErrBadResponse: a response was cut off or is not what the API sends.
	ErrBadResponse = errors.New("invalid or truncated response")
	// ErrUnavailable: CloudWatch Logs could not be reached.
	ErrUnavailable = errors.New("unreachable")
)

// ErrBadARN is wrapped by the errors of ExecutionRegion and ParseLogGroup.
var ErrBadARN = errors.New("logs: bad ARN or name")

// APIError reports a failed CloudWatch Logs call. It names the operation and
// the log group, never data.
type APIError struct {
	Op       string // "FilterLogEvents"
	LogGroup string
	Page     int   // the page being read, from 1
	Kind     error // one of the API error sentinels, or nil
	Err      error
}

// Error names the operation, the log group, the page and the kind of
// failure.
func (e *APIError) Error() string {
	s := fmt.Sprintf("logs: %s %s", e.Op, e.LogGroup)
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

func apiError(op, group string, page int, err error) error {
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		// Its message may quote the response, and so data.
		err = &quietError{"the response could not be decoded (cut off, or not JSON)", err}
	}
	return &APIError{Op: op, LogGroup: group, Page: page, Kind: classify(err), Err: err}
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
		case "ResourceNotFoundException":
			return ErrNotFound
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "InvalidClientTokenId", "MissingAuthenticationToken":
			return ErrDenied
		case "ThrottlingException", "LimitExceededException", "TooManyRequestsException",
			"RequestLimitExceeded", "ServiceQuotaExceededException":
			return ErrThrottled
		case "InvalidParameterException", "ValidationException", "InvalidOperationException":
			return ErrRejected
		case "ServiceUnavailableException":
			return ErrUnavailable
		}
		return nil
	}
	var qe *ratelimit.QuotaExceededError
	var de *smithy.DeserializationError
	var ce *cutError
	switch {
	case errors.As(err, &qe):
		return ErrThrottled
	case errors.As(err, &de), errors.As(err, &ce):
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

// DefaultMaxAttempts is how many times a CloudWatch Logs request is tried
// when the AWS configuration sets no maximum (AWS_MAX_ATTEMPTS, max_attempts):
// more than the SDK's default of 3, as FilterLogEvents has a low request
// quota. Retries back off exponentially, with jitter.
const DefaultMaxAttempts = 10

// Client reads log events through the CloudWatch Logs API.
type Client struct {
	c *cloudwatchlogs.Client
}

// NewClient returns a Client over a CloudWatch Logs client made from cfg
// (credentials, endpoint such as AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
// application id, retry mode). optFns apply after the package's own settings.
func NewClient(cfg aws.Config, optFns ...func(*cloudwatchlogs.Options)) *Client {
	opts := append([]func(*cloudwatchlogs.Options){func(o *cloudwatchlogs.Options) {
		o.HTTPClient = wholeBody{next: o.HTTPClient}
		if o.RetryMaxAttempts == 0 {
			o.RetryMaxAttempts = DefaultMaxAttempts
		}
	}}, optFns...)
	return &Client{c: cloudwatchlogs.NewFromConfig(cfg, opts...)}
}

// ExecutionRegion checks that a is the ARN of a Step Functions execution,
// Express or Standard, and returns its region.
func ExecutionRegion(a string) (string, error) {
	p, err := arn.Parse(a)
	if err != nil || p.Service != "states" || p.Region == "" || strings.ContainsAny(a, "\"\\ ") {
		return "", fmt.Errorf("%w: %q is not a Step Functions execution ARN", ErrBadARN, a)
	}
	switch kind, _, _ := strings.Cut(p.Resource, ":"); kind {
	case "execution", "express":
		return p.Region, nil
	case "stateMachine":
		return "", fmt.Errorf("%w: %s is a state machine ARN, not an execution's; to read every execution, give a time range", ErrBadARN, a)
	}
	return "", fmt.Errorf("%w: %q is not a Step Functions execution ARN", ErrBadARN, a)
}

// logGroupName is what CloudWatch Logs accepts as a log group name.
var logGroupName = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]{1,512}$`)

// LogGroup is a log group, named by its name or its ARN.
type LogGroup struct {
	// Name is the name, or "" if the log group was given by its ARN.
	Name string
	// ARN is the ARN, without the ":*" that Step Functions' logging
	// configuration adds, or "" if the log group was given by its name.
	ARN string
	// Region is the ARN's region, or "".
	Region string
}

// String returns the name or the ARN.
func (g LogGroup) String() string {
	if g.ARN != "" {
		return g.ARN
	}
	return g.Name
}

// ParseLogGroup reads a log group name, or a log group ARN (with or without
// the ":*" that a state machine's logging configuration ends it with).
func ParseLogGroup(s string) (LogGroup, error) {
	if !strings.HasPrefix(s, "arn:") {
		if !logGroupName.MatchString(s) {
			return LogGroup{}, fmt.Errorf("%w: %q is not a log group name or ARN", ErrBadARN, s)
		}
		return LogGroup{Name: s}, nil
	}
	a := strings.TrimSuffix(s, ":*")
	p, err := arn.Parse(a)
	name, ok := strings.CutPrefix(p.Resource, "log-group:")
	if err != nil || p.Service != "logs" || p.Region == "" || !ok || !logGroupName.MatchString(name) {
		return LogGroup{}, fmt.Errorf("%w: %q is not a log group name or ARN", ErrBadARN, s)
	}
	return LogGroup{ARN: a, Region: p.Region}, nil
}

// Query selects the log events to read.
type Query struct {
	LogGroup LogGroup
	// ExecutionARN, if not "", selects the events of one execution, by a
	// filter pattern on the events' execution_arn.
	ExecutionARN string
	// Start and End bound the events' timestamps (inclusive); zero for no
	// bound.
	Start, End time.Time
}

// FilterPattern returns the CloudWatch Logs filter pattern that selects the
// events of the query's execution, or "" for all events.
func (q Query) FilterPattern() string {
	if q.ExecutionARN == "" {
		return ""
	}
	return `{ $.execution_arn = "` + q.ExecutionARN + `" }`
}

// region is the region calls go to: the log group ARN's, else the
// execution ARN's, else the configuration's ("").
func (q Query) region() string {
	if q.LogGroup.Region != "" {
		return q.LogGroup.Region
	}
	r, _ := ExecutionRegion(q.ExecutionARN)
	return r
}

// maxPages bounds the pages of one read: FilterLogEvents may answer with
// empty pages while it searches, so there can be many.
const maxPages = 100000

// Events reads every page of FilterLogEvents for q, and returns the events
// in the order the API gives them, in the shape "aws logs filter-log-events"
// prints.
func (c *Client) Events(ctx context.Context, q Query) (*Log, error) {
	var recs []*Record
	err := c.pages(ctx, q, q.Start, func(evs []types.FilteredLogEvent) {
		for _, e := range evs {
			recs = append(recs, NewRecord(e.LogStreamName, e.Timestamp, e.Message, e.IngestionTime, e.EventId))
		}
	})
	if err != nil {
		return nil, err
	}
	return NewLog(recs), nil
}

func ms(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	return aws.Int64(t.UnixMilli())
}

// pages calls fn with the events of every page of FilterLogEvents for q,
// from start.
func (c *Client) pages(ctx context.Context, q Query, start time.Time, fn func([]types.FilteredLogEvent)) error {
	in := &cloudwatchlogs.FilterLogEventsInput{StartTime: ms(start), EndTime: ms(q.End)}
	if q.LogGroup.ARN != "" {
		in.LogGroupIdentifier = aws.String(q.LogGroup.ARN)
	} else {
		in.LogGroupName = aws.String(q.LogGroup.Name)
	}
	if p := q.FilterPattern(); p != "" {
		in.FilterPattern = aws.String(p)
	}
	var optFns []func(*cloudwatchlogs.Options)
	if r := q.region(); r != "" {
		optFns = append(optFns, func(o *cloudwatchlogs.Options) { o.Region = r })
	}
	group := q.LogGroup.String()
	for page := 1; ; page++ {
		out, err := c.c.FilterLogEvents(ctx, in, optFns...)
		if err != nil {
			return apiError("FilterLogEvents", group, page, err)
		}
		fn(out.Events)
		next := aws.ToString(out.NextToken)
		if next == "" {
			return nil
		}
		if page >= maxPages || in.NextToken != nil && next == *in.NextToken {
			return &APIError{Op: "FilterLogEvents", LogGroup: group, Page: page, Kind: ErrBadResponse, Err: errors.New("the pages do not end")}
		}
		in.NextToken = aws.String(next)
	}
}

// FollowLookback is how far before the newest event seen each poll of
// Follow starts, so that events that reach CloudWatch Logs late (from
// another log stream, say) are still read; events seen before are dropped by
// their event id.
const FollowLookback = 5 * time.Second

// Follow reads the events of q as they arrive, until ctx ends: it reads
// every page of FilterLogEvents from q.Start, calls fn with the events it
// has not given before (in timestamp order), waits interval, and polls again
// from the newest event's timestamp less FollowLookback. q.End must be zero.
// It returns nil when ctx ends, and the error of fn or of the API otherwise.
func (c *Client) Follow(ctx context.Context, q Query, interval time.Duration, fn func([]*Record) error) error {
	if !q.End.IsZero() {
		return errors.New("logs: Follow has no end")
	}
	seen := map[string]int64{} // event key -> timestamp
	start := q.Start
	var newest int64
	for {
		var batch []*Record
		err := c.pages(ctx, q, start, func(evs []types.FilteredLogEvent) {
			for _, e := range evs {
				key := aws.ToString(e.EventId)
				if key == "" {
					key = fmt.Sprintf("%s\x00%d\x00%s", aws.ToString(e.LogStreamName), aws.ToInt64(e.Timestamp), aws.ToString(e.Message))
				}
				if _, ok := seen[key]; ok {
					continue
				}
				ts := aws.ToInt64(e.Timestamp)
				seen[key] = ts
				newest = max(newest, ts)
				batch = append(batch, NewRecord(e.LogStreamName, e.Timestamp, e.Message, e.IngestionTime, e.EventId))
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			slices.SortStableFunc(batch, func(a, b *Record) int { return compare(a.Timestamp, b.Timestamp) })
			if err := fn(batch); err != nil {
				return err
			}
		}
		if newest > 0 {
			from := time.UnixMilli(newest).Add(-FollowLookback)
			if from.After(start) {
				start = from
			}
			for k, ts := range seen {
				if ts < start.UnixMilli() {
					delete(seen, k)
				}
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// wholeBody reads the body of each successful response in full before the
// SDK decodes it, so that a body the network cuts off is a connection error,
// which the SDK's retryer retries, rather than a page that cannot be decoded.
type wholeBody struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
}

func (c wholeBody) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, &cutError{err}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// cutError is a response body that was cut off.
type cutError struct{ err error }

func (e *cutError) Error() string         { return "response cut off: " + e.err.Error() }
func (e *cutError) Unwrap() error         { return e.err }
func (e *cutError) ConnectionError() bool { return true }
