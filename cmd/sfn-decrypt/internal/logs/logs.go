// Package logs reads the events that AWS Step Functions writes to CloudWatch
// Logs (the only record of an Express workflow's executions, and a copy of a
// Standard workflow's history when it logs execution data) into the model
// of package execdata, and writes them out again as JSON of the shape they
// came in. It only reads: decryption works on the events it gives.
//
// Parse reads the JSON that "aws logs filter-log-events" or "aws logs
// get-log-events" prints; Client.Events reads a log group through the
// FilterLogEvents API, with every page, into the same document, and
// Client.Follow keeps reading the events that arrive until its context
// ends. Log.Events gives the Step Functions events among the log events,
// each with its execdata.Scan, and Log.Messages the other messages, for a
// timeline; Log.Report what the reading found (data that Step Functions
// truncated, messages that are not strict JSON, messages that are not
// events); Log.WriteJSON and Log.AppendRecord write the log with what
// decryption changed.
//
// A log event's message is a Step Functions event if it is a JSON object with
// an "id", a "type" and an "execution_arn": its "details" carry the same data
// as an execution history event's details (input, output, parameters, error,
// cause, as JSON text in strings). Every other message passes through as it
// is. Data that Step Functions truncated to fit a log event (a field whose
// <field>Details says "truncated") is marked for decryption to read as far
// as it goes, and reported. Records keep every member they have, including
// ones this package does not know.
package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/codec"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrNotLog is wrapped by the errors of Parse for input that is not a
// document of CloudWatch Logs events.
var ErrNotLog = errors.New("logs: not a CloudWatch Logs events document")

// Log is a document of log events, read in one scan, and what was read of
// each: the Step Functions events among them, the other messages, and what
// the reading found.
type Log struct {
	doc *execdata.Doc
	// Records are the log events, in order.
	Records []*Record
	events  []*execdata.Event
	others  []execdata.Message
	report  Report
}

// Record is one log event: what the reader needs of its members, and its
// message's Step Functions event, if it is one.
type Record struct {
	// node and msgNode are the record's node in the document and its
	// message's.
	node, msgNode int

	// Timestamp is the log event's time, in milliseconds since the epoch.
	Timestamp int64
	// Stream is the log stream's name ("" if the document does not say).
	Stream string
	// EventID is the log event's id ("" if the document does not say).
	EventID string

	msg   []byte          // the message's text, as read
	event *execdata.Event // the Step Functions event in msg, or nil
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

// Report is what reading a log found besides its events' data.
type Report struct {
	// Truncations are the data fields that Step Functions truncated.
	Truncations []Truncation
	// Errors are the Step Functions events that cannot be decrypted (not
	// strict JSON): they pass through as they are, among the other
	// messages.
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
	l := &Log{doc: doc, Records: recs}
	for i, r := range recs {
		l.read(doc, i, r)
	}
	return l, nil
}

// read reads the message of record i: a Step Functions event, which the
// document is tied to (execdata.Doc.Hold), or another message.
func (l *Log) read(doc *execdata.Doc, i int, r *Record) {
	e := parseEvent(r.msg)
	other := func() {
		l.others = append(l.others, execdata.Message{Time: time.UnixMilli(r.Timestamp), Source: r.Stream, Text: string(r.msg)})
	}
	if e == nil {
		l.report.Others++
		if bytes.Contains(r.msg, []byte(codec.TokenPrefix)) {
			l.report.OthersWithTokens++
		}
		other()
		return
	}
	for _, f := range e.truncated {
		l.report.Truncations = append(l.report.Truncations, Truncation{e.executionARN, e.id, e.typ, f})
	}
	if e.tape == nil {
		// Written as it is, among the messages that are not events.
		l.report.Errors = append(l.report.Errors, &RecordError{EventID: r.EventID, Index: i, Err: e.err})
		other()
		return
	}
	ev := &execdata.Event{ID: e.id, PreviousID: e.previousID, Time: e.time, Type: e.typ, ExecutionARN: e.executionARN,
		Scan: &execdata.Scan{Tape: e.tape, Node: 0, DetailsNode: e.details, Truncated: e.truncated}}
	if ev.Time.IsZero() {
		ev.Time = time.UnixMilli(r.Timestamp).UTC()
	}
	doc.Hold(r.msgNode, ev.Scan)
	r.event = ev
	l.events = append(l.events, ev)
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

// Partial reports whether the document says more events follow (it has a
// NextToken, as "aws logs filter-log-events --max-items" leaves).
func (l *Log) Partial() bool { return l.doc.Partial() }

// Events returns the Step Functions events among the log events, in their
// order, each with its Scan: decryption (eventdata.Decryptor.Events) works
// on them, WriteJSON and AppendRecord write what it changed, and a
// timeline shows them.
func (l *Log) Events() []*execdata.Event { return l.events }

// Messages returns the messages that are not Step Functions events (or are
// not strict JSON), in their order, as a timeline shows them.
func (l *Log) Messages() []execdata.Message { return l.others }

// Report returns what reading the log found besides its events' data.
func (l *Log) Report() Report { return l.report }

// Message returns the record's message as it is now: decrypted, once
// decryption has run.
func (r *Record) Message() []byte {
	if r.event == nil || len(r.event.Scan.Edits) == 0 {
		return r.msg
	}
	return r.event.Scan.Tape.AppendSpliced(nil, 0, r.event.Scan.Edits)
}

// ExecutionARN returns the execution of the record's Step Functions event,
// or "" if the message is not a Step Functions event.
func (r *Record) ExecutionARN() string {
	if r.event == nil {
		return ""
	}
	return r.event.ExecutionARN
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

// AppendRecord appends record i as a compact JSON object, its members in
// their order, with its message as it is now.
func (l *Log) AppendRecord(dst []byte, i int) []byte {
	return execdata.AppendLayout(dst, l.doc.AppendValue(nil, l.Records[i].node), "")
}

// WriteJSON writes the log as one JSON document with its records and other
// members in their order, indented by indent per level (compact, on one line,
// if indent is empty) and ended by a newline.
func (l *Log) WriteJSON(w io.Writer, indent string) error {
	_, err := w.Write(l.doc.Marshal(nil, indent))
	return err
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
