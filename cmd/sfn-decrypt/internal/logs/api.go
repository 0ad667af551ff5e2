package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/awsapi"
	"github.com/sfnenc/sfnenc/jsontape"
)

// logsAPI is the CloudWatch Logs API, with the kinds of its own error codes.
var logsAPI = awsapi.Service{Pkg: "logs", Codes: awsapi.Codes{
	awsapi.ErrNotFound:    {"ResourceNotFoundException"},
	awsapi.ErrThrottled:   {"LimitExceededException"},
	awsapi.ErrRejected:    {"InvalidParameterException", "ValidationException", "InvalidOperationException"},
	awsapi.ErrUnavailable: {"ServiceUnavailableException"},
}}

// ErrBadARN is wrapped by the errors of ExecutionRegion and ParseLogGroup.
var ErrBadARN = errors.New("logs: bad ARN or name")

// Client reads log events through the CloudWatch Logs API. A failed call is
// an *awsapi.Error that names the operation and the log group, with the kind
// of failure (awsapi.ErrNotFound, awsapi.ErrDenied, ...).
type Client struct {
	c *cloudwatchlogs.Client
}

// NewClient returns a Client over a CloudWatch Logs client made from cfg
// as awsapi.Config makes it (endpoint such as
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, application id, retries, each response
// body read whole). optFns apply after the package's own settings.
func NewClient(cfg aws.Config, optFns ...func(*cloudwatchlogs.Options)) *Client {
	return &Client{c: cloudwatchlogs.NewFromConfig(awsapi.Config(cfg, true), optFns...)}
}

// ExecutionRegion checks that a is the ARN of a Step Functions execution,
// Express or Standard, and returns its region.
func ExecutionRegion(a string) (string, error) {
	region, res, ok := awsapi.StatesResource(a)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a Step Functions execution ARN", ErrBadARN, a)
	}
	switch awsapi.ResourceType(res) {
	case "execution", "express":
		return region, nil
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

// Describe names what the query reads, as "log group G (execution A,
// from T1, to T2)", for messages.
func (q Query) Describe() string {
	s := "log group " + q.LogGroup.String()
	var sel []string
	if q.ExecutionARN != "" {
		sel = append(sel, "execution "+q.ExecutionARN)
	}
	if !q.Start.IsZero() {
		sel = append(sel, "from "+q.Start.UTC().Format(time.RFC3339))
	}
	if !q.End.IsZero() {
		sel = append(sel, "to "+q.End.UTC().Format(time.RFC3339))
	}
	if len(sel) > 0 {
		s += " (" + strings.Join(sel, ", ") + ")"
	}
	return s
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
// in the order the API gives them, read from the document that "aws logs
// filter-log-events" prints for them.
func (c *Client) Events(ctx context.Context, q Query) (*Log, error) {
	var evs []types.FilteredLogEvent
	err := c.pages(ctx, q, q.Start, func(page []types.FilteredLogEvent) {
		evs = append(evs, page...)
	})
	if err != nil {
		return nil, err
	}
	return fromAPI(evs)
}

// fromAPI reads log events that the API gave from the document "aws logs
// filter-log-events --output json" prints for them: each with the members
// the API gave, in the AWS CLI's order.
func fromAPI(evs []types.FilteredLogEvent) (*Log, error) {
	b := []byte(`{"events":[`)
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, e)
	}
	b = append(b, `],"searchedLogStreams":[]}`...)
	l, err := Parse(b)
	if err != nil {
		// Cannot happen: the document is made to be one.
		return nil, fmt.Errorf("logs: the FilterLogEvents response: %w", err)
	}
	return l, nil
}

// appendEvent appends a log event as a compact JSON object, as the AWS
// CLI prints it (names and ids as encoding/json quotes them, the message
// as it is). A message or timestamp the API left out is empty, or 0.
func appendEvent(b []byte, e types.FilteredLogEvent) []byte {
	b = append(b, '{')
	if e.LogStreamName != nil {
		q, _ := json.Marshal(*e.LogStreamName)
		b = append(append(append(b, `"logStreamName":`...), q...), ',')
	}
	b = strconv.AppendInt(append(b, `"timestamp":`...), aws.ToInt64(e.Timestamp), 10)
	b = jsontape.AppendQuoted(append(b, `,"message":`...), []byte(aws.ToString(e.Message)))
	if e.IngestionTime != nil {
		b = strconv.AppendInt(append(b, `,"ingestionTime":`...), *e.IngestionTime, 10)
	}
	if e.EventId != nil {
		q, _ := json.Marshal(*e.EventId)
		b = append(append(b, `,"eventId":`...), q...)
	}
	return append(b, '}')
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
	return logsAPI.Pages("FilterLogEvents", group, maxPages, func(page int, token *string) (string, error) {
		in.NextToken = token
		out, err := c.c.FilterLogEvents(ctx, in, optFns...)
		if err != nil {
			return "", logsAPI.NewError("FilterLogEvents", group, page, err)
		}
		fn(out.Events)
		return aws.ToString(out.NextToken), nil
	})
}

// FollowLookback is how far before the newest event seen each poll of
// Follow starts, so that events that reach CloudWatch Logs late (from
// another log stream, say) are still read; events seen before are dropped by
// their event id.
const FollowLookback = 5 * time.Second

// Follow reads the events of q as they arrive, until ctx ends: it reads
// every page of FilterLogEvents from q.Start, calls fn with the events it
// has not given before (a Log, in timestamp order), waits interval, and polls again
// from the newest event's timestamp less FollowLookback. q.End must be zero.
// It returns nil when ctx ends, and the error of fn or of the API otherwise.
func (c *Client) Follow(ctx context.Context, q Query, interval time.Duration, fn func(*Log) error) error {
	if !q.End.IsZero() {
		return errors.New("logs: Follow has no end")
	}
	seen := map[string]int64{} // event key -> timestamp
	start := q.Start
	var newest int64
	for {
		var batch []types.FilteredLogEvent
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
				batch = append(batch, e)
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			slices.SortStableFunc(batch, func(a, b types.FilteredLogEvent) int {
				return compare(aws.ToInt64(a.Timestamp), aws.ToInt64(b.Timestamp))
			})
			l, err := fromAPI(batch)
			if err != nil {
				return err
			}
			if err := fn(l); err != nil {
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
