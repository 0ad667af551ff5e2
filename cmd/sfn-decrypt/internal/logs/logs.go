// Package logs reads the events that AWS Step Functions writes to CloudWatch
// Logs (the only record of an Express workflow's executions, and a copy of a
// Standard workflow's history when it logs execution data), decrypts the
// sfnenc tokens in their data, and writes them out again as JSON of the shape
// they came in or as a text timeline grouped by execution.
//
// Parse reads the JSON that "aws logs filter-log-events" or "aws logs
// get-log-events" prints; Client.Events reads a log group through the
// FilterLogEvents API, with every page, and Client.Follow keeps reading the
// events that arrive until its context ends. Decrypt decrypts the Step
// Functions events among a list of records with an eventdata.Decryptor;
// Log.WriteJSON, Record.AppendJSON and WriteText write the result.
//
// A log event's message is a Step Functions event if it is a JSON object with
// an "id", a "type" and an "execution_arn": its "details" carry the same data
// as an execution history event's details (input, output, parameters, error,
// cause, as JSON text in strings). Every other message passes through as it
// is. Data that Step Functions truncated to fit a log event (a field whose
// <field>Details says "truncated") is decrypted as far as it goes and
// reported. Records keep every member they have, including ones this package
// does not know.
package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sfnenc/sfnenc/codec"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdoc"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
)

// ErrNotLog is wrapped by the errors of Parse for input that is not a
// document of CloudWatch Logs events.
var ErrNotLog = errors.New("logs: not a CloudWatch Logs events document")

// Log is a list of log events and the other top-level members of the
// document they came in.
type Log struct {
	// members are the top-level members in input order; the events
	// member has a nil Raw and is written from Records.
	members []eventdoc.Member
	// Records are the log events, in order.
	Records []*Record
}

// member is a member of a log event.
type member struct {
	name string
	raw  json.RawMessage
}

// Record is one log event: its members as CloudWatch Logs gives them and,
// once decrypted, its message with the tokens it could decrypt.
type Record struct {
	// members in input order; the message member is written from msg.
	members []member
	// Timestamp is the log event's time, in milliseconds since the epoch.
	Timestamp int64
	// Stream is the log stream's name ("" if the document does not say).
	Stream string
	// EventID is the log event's id ("" if the document does not say).
	EventID string

	msg     []byte // the message's text
	changed bool   // msg differs from the input's
	event   *event // the Step Functions event in msg, or nil
	fails   []eventdata.Failure
}

// event is what the package reads of a Step Functions event.
type event struct {
	id, previousID int64
	typ            string
	executionARN   string
	time           time.Time // zero if the event does not say
	truncated      []string  // JSON Pointers of truncated data fields
}

// Failure is a token of a Step Functions event that was left in place.
type Failure struct {
	ExecutionARN string
	EventID      int64
	EventType    string
	eventdata.Failure
}

// Describe is the one-line description of the failure for diagnostics; it
// holds no value.
func (f Failure) Describe() string {
	return fmt.Sprintf("%s event %d (%s) %s", f.ExecutionARN, f.EventID, f.EventType, f.Failure.Describe())
}

// Where names the token's execution and event, and its position in the
// event.
func (f Failure) Where() string {
	return fmt.Sprintf("%s event %d (%s) %s", f.ExecutionARN, f.EventID, f.EventType, f.Failure.Where())
}

// Truncation is a data field of a Step Functions event that Step Functions
// truncated to fit the log event.
type Truncation struct {
	ExecutionARN string
	EventID      int64
	EventType    string
	// Field is the JSON Pointer of the field in the message, such as
	// "/details/output".
	Field string
}

// Describe is the one-line description of the truncation for diagnostics.
func (t Truncation) Describe() string {
	return fmt.Sprintf("%s event %d (%s) %s: truncated by Step Functions to fit the log event; the rest of it is not in the log",
		t.ExecutionARN, t.EventID, t.EventType, t.Field)
}

// RecordError is a message that looks like a Step Functions event but could
// not be decrypted, because it is not strict JSON (duplicate member names,
// invalid UTF-8, nesting too deep). It passes through as it is.
type RecordError struct {
	EventID string // the log event's id, or "" if unknown
	Index   int    // the record's place in its list, from 0
	Err     error
}

// Error names the log event by its id (or place) and says what is wrong; it
// holds no value.
func (e *RecordError) Error() string {
	which := "log event " + e.EventID
	if e.EventID == "" {
		which = fmt.Sprintf("log event %d", e.Index+1)
	}
	return fmt.Sprintf("logs: %s: not decrypted, passed through as it is: %v", which, e.Err)
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// Report is what Decrypt found.
type Report struct {
	// Failures are the tokens left in place.
	Failures []Failure
	// Truncations are the data fields that Step Functions truncated.
	Truncations []Truncation
	// Errors are the Step Functions events that could not be decrypted.
	Errors []*RecordError
	// Others counts the messages that are not Step Functions events, and
	// OthersWithTokens those of them that hold text that looks like a
	// token; they pass through as they are.
	Others, OthersWithTokens int
}

// Parse reads the JSON that "aws logs filter-log-events --output json" or
// "aws logs get-log-events --output json" prints: an object whose "events"
// member is an array of log events, each with a string "message" and a
// numeric "timestamp" (milliseconds since the epoch).
func Parse(data []byte) (*Log, error) {
	ms, recs, err := eventdoc.Parse(data, ErrNotLog, "log events", parseRecord)
	if err != nil {
		return nil, err
	}
	return &Log{members: ms, Records: recs}, nil
}

// parseRecord reads one log event of a saved document.
func parseRecord(raw json.RawMessage) (*Record, error) {
	ms, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	r := &Record{members: ms}
	get := func(name string) json.RawMessage {
		if i := slices.IndexFunc(ms, func(m member) bool { return m.name == name }); i >= 0 {
			return ms[i].raw
		}
		return nil
	}
	msg, ts := get("message"), get("timestamp")
	switch {
	case msg == nil && get("type") != nil:
		return nil, errors.New("no \"message\" (an execution history? use sfn-decrypt history)")
	case msg == nil:
		return nil, errors.New("no \"message\"")
	case ts == nil:
		return nil, errors.New("no \"timestamp\"")
	}
	var s string
	if json.Unmarshal(msg, &s) != nil {
		return nil, errors.New("\"message\" is not a string")
	}
	r.msg = []byte(s)
	n, err := strconv.ParseInt(string(ts), 10, 64)
	if err != nil || n < 0 {
		return nil, errors.New("\"timestamp\" is not a number of milliseconds")
	}
	r.Timestamp = n
	json.Unmarshal(get("logStreamName"), &r.Stream)
	json.Unmarshal(get("eventId"), &r.EventID)
	return r, nil
}

// objectMembers returns the members of a JSON object in their order, and an
// error if raw is not an object or names a member twice.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("not an object")
		}
		name := tok.(string)
		if slices.ContainsFunc(ms, func(m member) bool { return m.name == name }) {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not an object")
		}
		ms = append(ms, member{name, v})
	}
	return ms, nil
}

// NewRecord returns a record for a log event read through the API. Members
// the API did not give (nil) are left out.
func NewRecord(stream *string, timestamp *int64, message *string, ingestion *int64, eventID *string) *Record {
	r := &Record{}
	add := func(name string, v any) {
		b, _ := json.Marshal(v)
		r.members = append(r.members, member{name, b})
	}
	if stream != nil {
		r.Stream = *stream
		add("logStreamName", *stream)
	}
	if timestamp != nil {
		r.Timestamp = *timestamp
		add("timestamp", *timestamp)
	}
	if message != nil {
		r.msg = []byte(*message)
	}
	r.members = append(r.members, member{name: "message", raw: eventdata.AppendString(nil, r.msg)})
	if ingestion != nil {
		add("ingestionTime", *ingestion)
	}
	if eventID != nil {
		r.EventID = *eventID
		add("eventId", *eventID)
	}
	return r
}

// NewLog returns a Log of records in the shape "aws logs filter-log-events"
// prints them.
func NewLog(records []*Record) *Log {
	return &Log{members: []eventdoc.Member{{Name: "events"}, {Name: "searchedLogStreams", Raw: json.RawMessage("[]")}}, Records: records}
}

// Partial reports whether the document says more events follow (it has a
// NextToken, as "aws logs filter-log-events --max-items" leaves).
func (l *Log) Partial() bool {
	for _, m := range l.members {
		if m.Name == "NextToken" && string(m.Raw) != "null" {
			return true
		}
	}
	return false
}

// Message returns the record's message: decrypted, once Decrypt has run.
func (r *Record) Message() []byte { return r.msg }

// ExecutionARN returns the execution of the record's Step Functions event,
// or "" if the message is not a Step Functions event. It is known once
// Decrypt has run.
func (r *Record) ExecutionARN() string {
	if r.event == nil {
		return ""
	}
	return r.event.executionARN
}

// head is what a Step Functions event in a message must have.
type head struct {
	ID           json.RawMessage `json:"id"`
	Type         string          `json:"type"`
	PreviousID   json.RawMessage `json:"previous_event_id"`
	Timestamp    json.RawMessage `json:"event_timestamp"`
	ExecutionARN string          `json:"execution_arn"`
	Details      json.RawMessage `json:"details"`
}

// parseEvent reads the Step Functions event in a message, or returns nil if
// the message is not one. Step Functions writes the numbers of an event (id,
// previous_event_id, event_timestamp in milliseconds) as strings; numbers
// are accepted too.
func parseEvent(msg []byte) *event {
	t := bytes.TrimLeft(msg, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return nil
	}
	var h head
	if json.Unmarshal(msg, &h) != nil || h.Type == "" || h.ExecutionARN == "" {
		return nil
	}
	id, ok := integer(h.ID)
	if !ok {
		return nil
	}
	e := &event{id: id, typ: h.Type, executionARN: h.ExecutionARN}
	e.previousID, _ = integer(h.PreviousID)
	if ms, ok := integer(h.Timestamp); ok && ms > 0 {
		e.time = time.UnixMilli(ms).UTC()
	}
	e.truncated = truncatedFields(h.Details)
	return e
}

// integer reads a JSON number or a string holding one.
func integer(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// truncatedFields returns the JSON Pointers (in the message) of the string
// members of details whose <name>Details object says "truncated": true (or
// "true", as a string).
func truncatedFields(details json.RawMessage) []string {
	if len(details) == 0 || details[0] != '{' {
		return nil
	}
	ms, err := objectMembers(details)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range ms {
		field, ok := strings.CutSuffix(m.name, "Details")
		if !ok || field == "" {
			continue
		}
		var d struct {
			Truncated any `json:"truncated"`
		}
		if json.Unmarshal(m.raw, &d) != nil || (d.Truncated != true && d.Truncated != "true") {
			continue
		}
		i := slices.IndexFunc(ms, func(m member) bool { return m.name == field })
		if i < 0 || len(ms[i].raw) == 0 || ms[i].raw[0] != '"' {
			continue
		}
		out = append(out, "/details/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(field))
	}
	return out
}

// Decrypt decrypts the tokens in the Step Functions events among records
// with d, and reports what it left in place, what Step Functions truncated
// and which messages it passed through. Each record keeps every member it
// had; messages that are not Step Functions events stay as they are.
func Decrypt(ctx context.Context, d *eventdata.Decryptor, records []*Record) Report {
	var rep Report
	for i, r := range records {
		if r.event == nil {
			r.event = parseEvent(r.msg)
		}
		e := r.event
		if e == nil {
			rep.Others++
			if bytes.Contains(r.msg, []byte(codec.TokenPrefix)) {
				rep.OthersWithTokens++
			}
			continue
		}
		for _, f := range e.truncated {
			rep.Truncations = append(rep.Truncations, Truncation{e.executionARN, e.id, e.typ, f})
		}
		out, fails, err := d.ValueTruncated(ctx, r.msg, e.truncated)
		if err != nil {
			// Written as it is, among the messages that are not events.
			r.event = nil
			rep.Errors = append(rep.Errors, &RecordError{EventID: r.EventID, Index: i, Err: err})
			continue
		}
		if !bytes.Equal(out, r.msg) {
			r.msg, r.changed = out, true
		}
		r.fails = fails
		for _, f := range fails {
			rep.Failures = append(rep.Failures, Failure{e.executionARN, e.id, e.typ, f})
		}
	}
	return rep
}

// AppendJSON appends the record as a compact JSON object, its members in
// their order, with the message as it is now.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, m := range r.members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = eventdata.AppendString(dst, []byte(m.name))
		dst = append(dst, ':')
		if m.name == "message" && r.changed {
			dst = eventdata.AppendString(dst, r.msg)
			continue
		}
		var b bytes.Buffer
		if json.Compact(&b, m.raw) == nil {
			dst = append(dst, b.Bytes()...)
		} else {
			dst = append(dst, m.raw...)
		}
	}
	return append(dst, '}')
}

// WriteJSON writes the log as one JSON document with its records and other
// members in their order, indented by indent per level (compact, on one line,
// if indent is empty) and ended by a newline.
func (l *Log) WriteJSON(w io.Writer, indent string) error {
	out, err := eventdoc.Marshal(l.members, func(b []byte) []byte {
		for i, r := range l.Records {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.AppendJSON(b)
		}
		return b
	}, indent)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	_, err = w.Write(out)
	return err
}

// othersTitle is the heading of the messages that are not Step Functions
// events in a timeline.
const othersTitle = "log messages that are not Step Functions events"

// WriteText writes records to t grouped by execution: each execution, in the
// order it first appears, under a heading with its ARN and with its events in
// id order, then the messages that are not Step Functions events, as they
// are, under a heading that says so. Records must have been through Decrypt.
// Headings are written with Timeline.Execution, so a later call for more
// records of an execution resumes its timeline.
func WriteText(t *timeline.Timeline, records []*Record) error {
	var order []string
	groups := map[string][]*Record{}
	var others []*Record
	for _, r := range records {
		if r.event == nil {
			others = append(others, r)
			continue
		}
		a := r.event.executionARN
		if _, ok := groups[a]; !ok {
			order = append(order, a)
		}
		groups[a] = append(groups[a], r)
	}
	for _, a := range order {
		g := groups[a]
		slices.SortStableFunc(g, func(x, y *Record) int { return compare(x.event.id, y.event.id) })
		if err := t.Execution(a); err != nil {
			return err
		}
		for _, r := range g {
			if err := t.Write(r.timelineEvent()); err != nil {
				return err
			}
		}
	}
	if len(others) == 0 {
		return nil
	}
	if err := t.Execution(othersTitle); err != nil {
		return err
	}
	for _, r := range others {
		if err := t.Message(time.UnixMilli(r.Timestamp), r.Stream, string(r.msg)); err != nil {
			return err
		}
	}
	return nil
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// timelineEvent converts a record's Step Functions event for Timeline.
func (r *Record) timelineEvent() *timeline.Event {
	e := r.event
	ev := &timeline.Event{ID: e.id, PreviousID: e.previousID, Time: e.time, Type: e.typ, Failures: r.fails}
	if ev.Time.IsZero() {
		ev.Time = time.UnixMilli(r.Timestamp).UTC()
	}
	var h head
	if json.Unmarshal(r.msg, &h) == nil && len(h.Details) > 0 && h.Details[0] == '{' {
		ev.Details = h.Details
	}
	return ev
}
