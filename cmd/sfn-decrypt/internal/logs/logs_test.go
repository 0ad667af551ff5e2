package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/testcodec"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"
)

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not an object", `[]`, `not a JSON object`},
		{"no events", `{"searchedLogStreams": []}`, `has no "events" array`},
		{"events not an array", `{"events": {}}`, `"events" is not an array of log events`},
		{"member twice", `{"events": [], "events": []}`, `member "events" appears twice`},
		{"event not an object", `{"events": [1]}`, `events[0]: not an object`},
		{"no message", `{"events": [{"timestamp": 1}]}`, `events[0]: no "message"`},
		{"a history event", `{"events": [{"timestamp": "2024-05-01T00:00:00Z", "type": "ExecutionStarted", "id": 1}]}`, `use sfn-decrypt history`},
		{"no timestamp", `{"events": [{"message": "m"}]}`, `events[0]: no "timestamp"`},
		{"message not a string", `{"events": [{"message": 1, "timestamp": 1}]}`, `"message" is not a string`},
		{"timestamp not ms", `{"events": [{"message": "m", "timestamp": 1.5}]}`, `"timestamp" is not a number of milliseconds`},
		{"member of event twice", `{"events": [{"message": "m", "message": "n", "timestamp": 1}]}`, `member "message" appears twice`},
		{"cut off", `{"events": [{"message": "secret val`, `the JSON ends early`},
		{"not JSON", `{"events": [}, "x": 1}`, `not valid JSON (at byte`},
		{"trailing data", `{"events": []} {}`, `data after the JSON document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if !errors.Is(err, ErrNotLog) {
				t.Fatalf("error %v does not wrap ErrNotLog", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the input: %v", err)
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	const arn = "arn:aws:states:eu-west-2:1:express:m:e:x"
	tests := []struct {
		name, msg string
		want      *event
	}{
		{"strings, as Step Functions writes them",
			`{"id":"7","type":"TaskSucceeded","details":{"output":"{}","outputDetails":{"truncated":"true"}},"previous_event_id":"6","event_timestamp":"1714727700120","execution_arn":"` + arn + `","redrive_count":"0"}`,
			&event{id: 7, previousID: 6, typ: "TaskSucceeded", executionARN: arn, time: time.UnixMilli(1714727700120).UTC(), truncated: []string{"/details/output"}}},
		{"numbers",
			`{"id":7,"type":"TaskSucceeded","details":{"output":"{}","outputDetails":{"truncated":true},"input":"x","inputDetails":{"truncated":false}},"previous_event_id":6,"event_timestamp":1714727700120,"execution_arn":"` + arn + `"}`,
			&event{id: 7, previousID: 6, typ: "TaskSucceeded", executionARN: arn, time: time.UnixMilli(1714727700120).UTC(), truncated: []string{"/details/output"}}},
		{"a truncated flag for a field that is not there",
			`{"id":"1","type":"T","details":{"outputDetails":{"truncated":true}},"execution_arn":"` + arn + `"}`,
			&event{id: 1, typ: "T", executionARN: arn}},
		{"an odd field name", `{"id":"1","type":"T","details":{"a/b~":"x","a/b~Details":{"truncated":true}},"execution_arn":"` + arn + `"}`,
			&event{id: 1, typ: "T", executionARN: arn, truncated: []string{"/details/a~1b~0"}}},
		{"plain text", `START RequestId: 1`, nil},
		{"other JSON", `{"level":"info","msg":"x"}`, nil},
		{"no execution", `{"id":"1","type":"T"}`, nil},
		{"id not a number", `{"id":"one","type":"T","execution_arn":"` + arn + `"}`, nil},
		{"type not a string", `{"id":"1","type":3,"execution_arn":"` + arn + `"}`, nil},
		{"a JSON array", `[1]`, nil},
		{"not JSON", `{"id":"1",`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseEvent([]byte(tt.msg))
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(event{}), cmpopts.IgnoreFields(event{}, "tape", "err", "details")); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestARNs(t *testing.T) {
	for _, tt := range []struct {
		arn, region, err string
	}{
		{"arn:aws:states:eu-west-2:111122223333:express:m:e:x", "eu-west-2", ""},
		{"arn:aws:states:us-east-1:111122223333:execution:m:e", "us-east-1", ""},
		{"arn:aws:states:us-east-1:111122223333:stateMachine:m", "", "is a state machine ARN"},
		{"arn:aws:states:us-east-1:111122223333:activity:a", "", "is not a Step Functions execution ARN"},
		{"arn:aws:lambda:us-east-1:111122223333:function:f", "", "is not a Step Functions execution ARN"},
		{`arn:aws:states:us-east-1:111122223333:express:m:e"} || {`, "", "is not a Step Functions execution ARN"},
		{"nope", "", "is not a Step Functions execution ARN"},
	} {
		r, err := ExecutionRegion(tt.arn)
		if r != tt.region || (err == nil) != (tt.err == "") || err != nil && (!strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrBadARN)) {
			t.Errorf("ExecutionRegion(%q) = %q, %v", tt.arn, r, err)
		}
	}
	for _, tt := range []struct {
		in   string
		want LogGroup
		err  bool
	}{
		{"/aws/vendedlogs/states/orders-Logs", LogGroup{Name: "/aws/vendedlogs/states/orders-Logs"}, false},
		{"arn:aws:logs:eu-west-2:111122223333:log-group:/aws/x:*", LogGroup{ARN: "arn:aws:logs:eu-west-2:111122223333:log-group:/aws/x", Region: "eu-west-2"}, false},
		{"arn:aws:logs:eu-west-2:111122223333:log-group:/aws/x", LogGroup{ARN: "arn:aws:logs:eu-west-2:111122223333:log-group:/aws/x", Region: "eu-west-2"}, false},
		{"arn:aws:logs:eu-west-2:111122223333:destination:d", LogGroup{}, true},
		{"arn:aws:s3:::b", LogGroup{}, true},
		{"a group", LogGroup{}, true},
		{"", LogGroup{}, true},
	} {
		got, err := ParseLogGroup(tt.in)
		if got != tt.want || (err != nil) != tt.err || err != nil && !errors.Is(err, ErrBadARN) {
			t.Errorf("ParseLogGroup(%q) = %+v, %v", tt.in, got, err)
		}
	}
	q := Query{LogGroup: LogGroup{Name: "g"}, ExecutionARN: "arn:aws:states:eu-west-2:1:express:m:e:x"}
	if got, want := q.FilterPattern(), `{ $.execution_arn = "arn:aws:states:eu-west-2:1:express:m:e:x" }`; got != want {
		t.Errorf("FilterPattern() = %q, want %q", got, want)
	}
	if q.region() != "eu-west-2" {
		t.Errorf("region() = %q", q.region())
	}
	q.LogGroup = LogGroup{ARN: "arn:aws:logs:us-east-1:1:log-group:g", Region: "us-east-1"}
	if q.region() != "us-east-1" {
		t.Errorf("region() = %q, want the log group's", q.region())
	}
}

func newDecryptor(t testing.TB) (*eventdata.Decryptor, *codec.Codec) {
	t.Helper()
	c := testcodec.New(t)
	return eventdata.NewDecryptor(c), c
}

// TestDecryptRoundTrip decrypts a saved log and writes it again: members
// and their order stay, messages that are not events stay byte for byte,
// and events get their tokens decrypted.
func TestDecryptRoundTrip(t *testing.T) {
	d, c := newDecryptor(t)
	ctx := context.Background()
	data, err := c.Encrypt(ctx, []byte(`{"email":"ada@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	q := func(b []byte) string { return string(jsontape.AppendQuoted(nil, b)) }
	msg := `{"id":"1","type":"ExecutionStarted","details":{"input":` + q(data) + `},"execution_arn":"arn:aws:states:eu-west-2:1:express:m:e:x"}`
	want := `{"id":"1","type":"ExecutionStarted","details":{"input":` + q([]byte(`{"email":"ada@example.com"}`)) + `},"execution_arn":"arn:aws:states:eu-west-2:1:express:m:e:x"}`
	doc := `{"events":[{"logStreamName":"s","timestamp":1,"message":` + q([]byte(msg)) + `,"extra":{"a": 1},"eventId":"e1"},` +
		`{"timestamp":2,"message":"plain \u00e9 text"}],"nextForwardToken":"f/1"}`
	l, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	fails := d.Events(ctx, l.Events())
	if rep := l.Report(); len(fails)+len(rep.Truncations)+len(rep.Errors) != 0 || rep.Others != 1 || rep.OthersWithTokens != 0 {
		t.Errorf("report %+v, failures %v", rep, fails)
	}
	if l.Records[0].ExecutionARN() != "arn:aws:states:eu-west-2:1:express:m:e:x" || l.Records[1].ExecutionARN() != "" {
		t.Errorf("execution ARNs %q, %q", l.Records[0].ExecutionARN(), l.Records[1].ExecutionARN())
	}
	var b bytes.Buffer
	if err := l.WriteJSON(&b, ""); err != nil {
		t.Fatal(err)
	}
	wantDoc := `{"events":[{"logStreamName":"s","timestamp":1,"message":` + q([]byte(want)) + `,"extra":{"a":1},"eventId":"e1"},` +
		`{"timestamp":2,"message":"plain \u00e9 text"}],"nextForwardToken":"f/1"}` + "\n"
	if diff := cmp.Diff(wantDoc, b.String()); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if l.Partial() {
		t.Error("Partial() for a get-log-events document")
	}
}

// TestFromAPI checks the document made of log events the API gave: the
// members it gave, in the AWS CLI's order, each record written back as it
// was read.
func TestFromAPI(t *testing.T) {
	s, ts, m, it, id := "stream<", int64(5), `{"a":"<b>"}`, int64(6), "e"
	l, err := fromAPI([]types.FilteredLogEvent{
		{LogStreamName: &s, Timestamp: &ts, Message: &m, IngestionTime: &it, EventId: &id},
		{Timestamp: &ts, Message: &m},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		`{"logStreamName":"stream\u003c","timestamp":5,"message":"{\"a\":\"<b>\"}","ingestionTime":6,"eventId":"e"}`,
		`{"timestamp":5,"message":"{\"a\":\"<b>\"}"}`,
	} {
		if got := string(l.AppendRecord(nil, i)); got != want {
			t.Errorf("AppendRecord(%d) = %s, want %s", i, got, want)
		}
	}
	if r := l.Records[0]; r.Stream != s || r.EventID != id || r.Timestamp != ts {
		t.Errorf("record %+v", r)
	}
}

// TestWriteText checks the grouping of Split and Timeline.WriteGrouped: executions in the order they first
// appear, events in id order, then the other messages; a second call
// resumes an execution's timeline with its states.
func TestWriteText(t *testing.T) {
	d, _ := newDecryptor(t)
	rec := func(ts int64, msg string) types.FilteredLogEvent {
		return types.FilteredLogEvent{Timestamp: &ts, Message: &msg}
	}
	read := func(recs ...types.FilteredLogEvent) *Log {
		l, err := fromAPI(recs)
		if err != nil {
			t.Fatal(err)
		}
		d.Events(context.Background(), l.Events())
		return l
	}
	ev := func(exec string, id int, typ, details string) string {
		return `{"id":"` + string(rune('0'+id)) + `","type":"` + typ + `","details":` + details + `,"previous_event_id":"` + string(rune('0'+id-1)) +
			`","event_timestamp":"17147277001` + string(rune('0'+id)) + `0","execution_arn":"` + exec + `"}`
	}
	recs := read(
		rec(1714727700100, ev("A", 1, "ExecutionStarted", `{"input":"{}"}`)),
		rec(1714727700105, "hello"),
		rec(1714727700110, ev("B", 1, "ExecutionStarted", `{}`)),
		rec(1714727700130, ev("A", 3, "TaskScheduled", `{"resource":"r"}`)),
		rec(1714727700120, ev("A", 2, "TaskStateEntered", `{"name":"Charge"}`)),
	)
	var b strings.Builder
	tl := timeline.New(&b)
	if err := tl.WriteGrouped(recs.Events(), recs.Messages()); err != nil {
		t.Fatal(err)
	}
	more := read(rec(1714727700140, ev("A", 4, "TaskStarted", `{}`)))
	if err := tl.WriteGrouped(more.Events(), more.Messages()); err != nil {
		t.Fatal(err)
	}
	want := `== A
     1  2024-05-03T09:15:00.110Z  ExecutionStarted
        input:
          {}
     2  2024-05-03T09:15:00.120Z  TaskStateEntered              Charge
     3  2024-05-03T09:15:00.130Z  TaskScheduled                 Charge
        resource: r
== B
     1  2024-05-03T09:15:00.110Z  ExecutionStarted
== log messages that are not Step Functions events
     -  2024-05-03T09:15:00.105Z
        hello
== A
     4  2024-05-03T09:15:00.140Z  TaskStarted                   Charge
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

// TestDecryptReport covers truncated data, failures and messages that
// cannot be decrypted.
func TestDecryptReport(t *testing.T) {
	d, c := newDecryptor(t)
	ctx := context.Background()
	data, err := c.Encrypt(ctx, []byte(`{"email":"ada@example.com","n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:bytes.Index(data, []byte("sfnenc:"))+30]
	q := func(b []byte) string { return string(jsontape.AppendQuoted(nil, b)) }
	const arn = "arn:aws:states:eu-west-2:1:express:m:e:x"
	msgs := []string{
		`{"id":"5","type":"TaskSucceeded","details":{"output":` + q(cut) + `,"outputDetails":{"truncated":true}},"execution_arn":"` + arn + `"}`,
		`{"id":"6","id":"7","type":"TaskSucceeded","execution_arn":"` + arn + `"}`,
		`debug sfnenc:AAAA`,
	}
	var evs []types.FilteredLogEvent
	for i, m := range msgs {
		ts := int64(i)
		id := []string{"a", "b", "c"}[i]
		evs = append(evs, types.FilteredLogEvent{Timestamp: &ts, Message: &m, EventId: &id})
	}
	l, err := fromAPI(evs)
	if err != nil {
		t.Fatal(err)
	}
	recs := l.Records
	rep := l.Report()
	fails := d.Events(ctx, l.Events())
	if len(rep.Truncations) != 1 || rep.Truncations[0].Describe() != arn+" event 5 (TaskSucceeded) /details/output: truncated by Step Functions to fit the log event; the rest of it is not in the log" {
		t.Errorf("truncations %+v", rep.Truncations)
	}
	if len(fails) != 1 || !errors.Is(fails[0].Err, execdata.ErrTruncated) || fails[0].Field != "/details/output" {
		t.Errorf("failures %+v", fails)
	} else if got := fails[0].Describe(); !strings.HasPrefix(got, arn+" event 5 (TaskSucceeded) /details/output: in data truncated by Step Functions") {
		t.Errorf("Describe() = %q", got)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].EventID != "b" || !strings.Contains(rep.Errors[0].Error(), "logs: log event b: not decrypted, passed through as it is: jsontape: ") {
		t.Errorf("errors %v", rep.Errors)
	}
	if rep.Others != 1 || rep.OthersWithTokens != 1 {
		t.Errorf("others %d, with tokens %d", rep.Others, rep.OthersWithTokens)
	}
	if string(recs[1].Message()) != msgs[1] || recs[1].ExecutionARN() != "" {
		t.Errorf("a message that cannot be decrypted changed, or is still taken for an event")
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
