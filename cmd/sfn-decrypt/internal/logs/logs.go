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
// Log.WriteJSON and Record.AppendJSON write the result, Record.Event gives
// a record's event, and Split the events and other messages for a
// timeline.
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
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/codec"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrNotLog is wrapped by the errors of Parse for input that is not a
// document of CloudWatch Logs events.
var ErrNotLog = errors.New("logs: not a CloudWatch Logs events document")

// Log is a list of log events and the other top-level members of the
// document they came in.
type Log struct {
	// doc is the document Parse read, nil for a Log of NewLog.
	doc *execdata.Doc
	// Records are the log events, in order.
	Records []*Record
}

// member is a member of a log event read through the API.
type member struct {
	name string
	raw  json.RawMessage
}

// Record is one log event: its members as CloudWatch Logs gives them and,
// once decrypted, its message with the tokens it could decrypt.
type Record struct {
	// Of a record that Parse read: the document, the record's node in it
	// and its message's.
	doc           *execdata.Doc
	node, msgNode int
	// Of a record of NewRecord: its members in order; the message member
	// is written from msg.
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
	fails   []execdata.Failure
}

// event is what the package reads of a Step Functions event: its head, and
// the message it came in, scanned once.
type event struct {
	id, previousID int64
	typ            string
	executionARN   string
	time           time.Time // zero if the event does not say
	truncated      []string  // JSON Pointers of truncated data fields

	tape    *jsontape.Document // its tape; nil if it is not strict JSON
	err     error              // why it is not, then
	details int                // the node of its details object, or -1
	edits   []jsontape.Edit    // what Decrypt changed in it
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
	Failures []execdata.Failure
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
// numeric "timestamp" (milliseconds since the epoch). The document is read in
// one scan, and each message that is a Step Functions event in one more. The
// Log refers to data, which must not change while it is in use.
func Parse(data []byte) (*Log, error) {
	var recs []*Record
	doc, err := execdata.Parse(data, ErrNotLog, "log events", func(tape *jsontape.Document, n int) error {
		r, err := readRecord(tape, n)
		recs = append(recs, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		r.doc = doc
		r.event = parseEvent(r.msg)
	}
	return &Log{doc: doc, Records: recs}, nil
}

// readRecord reads log event n of tape.
func readRecord(tape *jsontape.Document, n int) (*Record, error) {
	src := tape.Source()
	if tape.Kind(n) != jsontape.Object {
		return nil, errors.New("not an object")
	}
	r := &Record{node: n, msgNode: -1}
	ts, typ := -1, -1
	var name []byte
	for c := n + 1; c < tape.End(n); c = tape.End(c) {
		name = tape.AppendName(name[:0], c)
		switch string(name) {
		case "message":
			r.msgNode = c
		case "timestamp":
			ts = c
		case "type":
			typ = c
		case "logStreamName":
			if tape.Kind(c) == jsontape.String {
				r.Stream = string(tape.AppendString(nil, c))
			}
		case "eventId":
			if tape.Kind(c) == jsontape.String {
				r.EventID = string(tape.AppendString(nil, c))
			}
		}
	}
	switch {
	case r.msgNode < 0 && typ >= 0:
		return nil, errors.New("no \"message\" (an execution history? use sfn-decrypt history)")
	case r.msgNode < 0:
		return nil, errors.New("no \"message\"")
	case ts < 0:
		return nil, errors.New("no \"timestamp\"")
	case tape.Kind(r.msgNode) != jsontape.String:
		return nil, errors.New("\"message\" is not a string")
	}
	r.msg = tape.AppendString(nil, r.msgNode)
	start, end := tape.Raw(ts)
	ms, err := strconv.ParseInt(string(src[start:end]), 10, 64)
	if err != nil || ms < 0 {
		return nil, errors.New("\"timestamp\" is not a number of milliseconds")
	}
	r.Timestamp = ms
	return r, nil
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
	r.members = append(r.members, member{name: "message", raw: jsontape.AppendQuoted(nil, r.msg)})
	r.event = parseEvent(r.msg)
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
func NewLog(records []*Record) *Log { return &Log{Records: records} }

// Partial reports whether the document says more events follow (it has a
// NextToken, as "aws logs filter-log-events --max-items" leaves).
func (l *Log) Partial() bool { return l.doc != nil && l.doc.Partial() }

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

// head is what a Step Functions event in a message must have, as read
// from a message that is not strict JSON.
type head struct {
	ID           json.RawMessage `json:"id"`
	Type         string          `json:"type"`
	PreviousID   json.RawMessage `json:"previous_event_id"`
	Timestamp    json.RawMessage `json:"event_timestamp"`
	ExecutionARN string          `json:"execution_arn"`
}

// parseEvent reads the Step Functions event in a message, in one scan of
// it, or returns nil if the message is not one. Step Functions writes the
// numbers of an event (id, previous_event_id, event_timestamp in
// milliseconds) as strings; numbers are accepted too. A message that the
// standard decoder reads as an event but that is not strict JSON (a name
// twice, say) is an event with an error: it is reported, and passes through
// as it is.
func parseEvent(msg []byte) *event {
	t := bytes.TrimLeft(msg, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return nil
	}
	tape, err := jsontape.Scan(msg, execdata.Limits)
	if err != nil {
		var h head
		if json.Unmarshal(msg, &h) != nil || h.Type == "" || h.ExecutionARN == "" {
			return nil
		}
		id, ok := integerJSON(h.ID)
		if !ok {
			return nil
		}
		e := &event{id: id, typ: h.Type, executionARN: h.ExecutionARN, err: err, details: -1}
		e.previousID, _ = integerJSON(h.PreviousID)
		if ms, ok := integerJSON(h.Timestamp); ok && ms > 0 {
			e.time = time.UnixMilli(ms).UTC()
		}
		return e
	}
	e := &event{tape: tape, details: -1}
	id, ts, prev := -1, -1, -1
	var name []byte
	for n := 1; n < tape.Len(); n = tape.End(n) {
		name = tape.AppendName(name[:0], n)
		switch string(name) {
		case "id":
			id = n
		case "previous_event_id":
			prev = n
		case "event_timestamp":
			ts = n
		case "type":
			if tape.Kind(n) == jsontape.String {
				e.typ = string(tape.AppendString(nil, n))
			}
		case "execution_arn":
			if tape.Kind(n) == jsontape.String {
				e.executionARN = string(tape.AppendString(nil, n))
			}
		case "details":
			if tape.Kind(n) == jsontape.Object {
				e.details = n
			}
		}
	}
	ok := false
	if e.id, ok = integer(tape, msg, id); !ok || e.typ == "" || e.executionARN == "" {
		tape.Release()
		return nil
	}
	e.previousID, _ = integer(tape, msg, prev)
	if ms, ok := integer(tape, msg, ts); ok && ms > 0 {
		e.time = time.UnixMilli(ms).UTC()
	}
	e.truncated = truncatedFields(tape, e.details)
	return e
}

// integer reads node n of tape (scanned from src): a JSON number or a
// string holding one. ok is false if it is neither, or n is -1.
func integer(tape *jsontape.Document, src []byte, n int) (int64, bool) {
	if n < 0 {
		return 0, false
	}
	var s []byte
	switch tape.Kind(n) {
	case jsontape.Number:
		start, end := tape.Raw(n)
		s = src[start:end]
	case jsontape.String:
		s = tape.AppendString(nil, n)
	default:
		return 0, false
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	return v, err == nil
}

// integerJSON reads a JSON number or a string holding one.
func integerJSON(raw json.RawMessage) (int64, bool) {
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
// members of details (node n of tape, or -1) whose <name>Details object says
// "truncated": true (or "true", as a string).
func truncatedFields(tape *jsontape.Document, n int) []string {
	if n < 0 {
		return nil
	}
	members := map[string]int{}
	var name []byte
	for c := n + 1; c < tape.End(n); c = tape.End(c) {
		name = tape.AppendName(name[:0], c)
		members[string(name)] = c
	}
	var out []string
	for c := n + 1; c < tape.End(n); c = tape.End(c) {
		name = tape.AppendName(name[:0], c)
		field, ok := strings.CutSuffix(string(name), "Details")
		if !ok || field == "" || tape.Kind(c) != jsontape.Object || !truncatedFlag(tape, c) {
			continue
		}
		if f, ok := members[field]; !ok || tape.Kind(f) != jsontape.String {
			continue
		}
		out = append(out, "/details/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(field))
	}
	return out
}

// truncatedFlag reports whether the object at node n of tape has a member
// "truncated" that is true, or the string "true".
func truncatedFlag(tape *jsontape.Document, n int) bool {
	var name []byte
	for c := n + 1; c < tape.End(n); c = tape.End(c) {
		if name = tape.AppendName(name[:0], c); string(name) != "truncated" {
			continue
		}
		switch tape.Kind(c) {
		case jsontape.True:
			return true
		case jsontape.String:
			return string(tape.AppendString(nil, c)) == "true"
		}
	}
	return false
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
		if e.tape == nil {
			// Written as it is, among the messages that are not events.
			r.event = nil
			rep.Errors = append(rep.Errors, &RecordError{EventID: r.EventID, Index: i, Err: e.err})
			continue
		}
		edits, fails := d.Strings(ctx, e.tape, 0, e.truncated)
		if len(edits) > 0 {
			e.edits = edits
			r.msg, r.changed = e.tape.AppendSpliced(nil, 0, edits), true
			if r.doc != nil {
				r.doc.Replace(jsontape.Edit{Node: r.msgNode, Text: r.msg})
			}
		}
		for i := range fails {
			fails[i].ExecutionARN, fails[i].EventID, fails[i].EventType = e.executionARN, e.id, e.typ
		}
		r.fails = fails
		rep.Failures = append(rep.Failures, fails...)
	}
	return rep
}

// AppendJSON appends the record as a compact JSON object, its members in
// their order, with the message as it is now.
func (r *Record) AppendJSON(dst []byte) []byte {
	if r.doc != nil {
		return execdata.AppendLayout(dst, r.doc.AppendValue(nil, r.node), "")
	}
	dst = append(dst, '{')
	for i, m := range r.members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsontape.AppendQuoted(dst, []byte(m.name))
		dst = append(dst, ':')
		if m.name == "message" && r.changed {
			dst = jsontape.AppendQuoted(dst, r.msg)
			continue
		}
		dst = append(dst, m.raw...) // compact: from json.Marshal
	}
	return append(dst, '}')
}

// WriteJSON writes the log as one JSON document with its records and other
// members in their order, indented by indent per level (compact, on one line,
// if indent is empty) and ended by a newline. A Log of NewLog is written in
// the shape "aws logs filter-log-events" prints.
func (l *Log) WriteJSON(w io.Writer, indent string) error {
	var out []byte
	if l.doc != nil {
		out = l.doc.Marshal(nil, indent)
	} else {
		b := []byte(`{"events":[`)
		for i, r := range l.Records {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.AppendJSON(b)
		}
		b = append(b, `],"searchedLogStreams":[]}`...)
		out = append(execdata.AppendLayout(nil, b, indent), '\n')
	}
	_, err := w.Write(out)
	return err
}

// Split returns the Step Functions events among records, as Record.Event
// gives them, and the other messages, each in the records' order, for a
// timeline (timeline.Timeline.WriteGrouped). Records must have been through
// Decrypt.
func Split(records []*Record) ([]*execdata.Event, []execdata.Message) {
	var events []*execdata.Event
	var others []execdata.Message
	for _, r := range records {
		if e := r.Event(); e != nil {
			events = append(events, e)
			continue
		}
		others = append(others, execdata.Message{Time: time.UnixMilli(r.Timestamp), Source: r.Stream, Text: string(r.msg)})
	}
	return events, others
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

// Events returns the Step Functions events among the log's records, in
// their order, as Record.Event gives them.
func (l *Log) Events() []*execdata.Event {
	var out []*execdata.Event
	for _, r := range l.Records {
		if e := r.Event(); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// Event returns the record's Step Functions event as a Timeline writes it,
// with its details as they are now (decrypted, once Decrypt has run), or nil
// if the message is not a Step Functions event.
func (r *Record) Event() *execdata.Event {
	e := r.event
	if e == nil {
		return nil
	}
	ev := &execdata.Event{ID: e.id, PreviousID: e.previousID, Time: e.time, Type: e.typ, ExecutionARN: e.executionARN, Failures: r.fails}
	if ev.Time.IsZero() {
		ev.Time = time.UnixMilli(r.Timestamp).UTC()
	}
	if e.details >= 0 {
		ev.Details = e.tape.AppendSpliced(nil, e.details, e.edits)
	}
	return ev
}
