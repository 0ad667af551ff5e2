package execdata

import (
	"time"

	"github.com/sfnenc/sfnenc/jsontape"
)

// Limits bound the JSON text of one event, log message or data field that
// sfn-decrypt scans: Step Functions limits data to 256 KiB per field (and
// CloudWatch Logs a log event to 256 KiB), which escaping can grow several
// times.
var Limits = jsontape.Limits{MaxSize: 64 << 20, MaxDepth: 256}

// Event is one Step Functions event as the operator's tools see it,
// whatever it was read from (an execution history, a CloudWatch Logs
// event): its ids, type and time, the execution it belongs to where the
// source says, and its details, which carry the data fields.
type Event struct {
	ID, PreviousID int64
	// Type is the event type, such as "TaskStateEntered".
	Type string
	// Time is when the event happened; if it is zero, TimeText is shown.
	Time     time.Time
	TimeText string
	// ExecutionARN is the execution's ARN, where the source names it
	// ("" in a history, which holds one execution).
	ExecutionARN string
	// Scan is the event in the JSON its reader scanned: decryption edits
	// its strings there, and the reader writes that JSON with the edits
	// spliced in. It is nil for an event built otherwise (with
	// SetDetails), or that is not strict JSON.
	Scan *Scan
	// details are the details of an event without a Scan.
	details []byte
	// Failures are the tokens in the details that were left in place.
	Failures []Failure
	// Data are the event's data fields, decrypted one by one for a
	// reader that shows each field (the view), once a decryptor filled
	// them in; nil before.
	Data []DataField
}

// Scan is where an event is in JSON a reader scanned strictly (a history,
// a log message), and what decryption changed in it.
type Scan struct {
	// Tape is the scanned JSON; Node is the event's node in it and
	// DetailsNode that of its details object (-1 if it has none).
	Tape              *jsontape.Document
	Node, DetailsNode int
	// Truncated are the JSON Pointers, from Node, of the strings whose JSON
	// text Step Functions cut off to fit (in a log event,
	// "/details/output"): decryption reads them as truncated text.
	Truncated []string
	// Edits are the strings that decryption gave new text, in document
	// order.
	Edits []jsontape.Edit
}

// Details returns the JSON object of the event's details (the history's
// ...EventDetails member, a log event's details) as they are now:
// decrypted once decryption ran. It is nil if the event has none.
func (e *Event) Details() []byte {
	if e.Scan == nil {
		return e.details
	}
	if e.Scan.DetailsNode < 0 {
		return nil
	}
	return e.Scan.Tape.AppendSpliced(nil, e.Scan.DetailsNode, e.Scan.Edits)
}

// SetDetails gives an event without a Scan its details, the JSON object
// details.
func (e *Event) SetDetails(details []byte) { e.details = details }

// DataField is one member of an event's details as a reader shows it:
// for a string, its content with its tokens decrypted; for another value,
// its JSON text. Members of assignedVariables are fields of their own,
// named "assignedVariables.NAME".
type DataField struct {
	Name string
	Text string
	// JSON says Text is JSON text (an object or array), to show as a
	// tree.
	JSON bool
	// Truncated says Step Functions cut the value off.
	Truncated bool
	// Marks are the tokens that were in the field: decrypted, left alone
	// (--class), or left in place with the reason.
	Marks []Mark
}

// Message is a log message that is not a Step Functions event: it passes
// through as it is, not decrypted.
type Message struct {
	Time time.Time
	// Source is where it came from, such as a log stream's name.
	Source string
	Text   string
}

// Mark is a token that decryption met in a data field: decrypted, left as
// it is because its class was not to be decrypted (--class), or, in a
// DataField, left in place because it failed (with its Failure's reason).
type Mark struct {
	// Pointer is the JSON Pointer of the token in the field's JSON text,
	// "" for the whole field or plain text; pointers into JSON text held in
	// a string are joined by '#'.
	Pointer   string
	Class     string
	Decrypted bool
	// Reason says why a token stayed: NotSelected, or the Reason of its
	// Failure; "" for a token decrypted.
	Reason string
}

// NotSelected is the Reason of a Mark for a token left alone because its
// class was not to be decrypted (--class).
const NotSelected = "class not selected (--class)"

// Field is a member of an event's details: a data field by its name.
type Field struct {
	Name string
	// Raw is the member's JSON value as the details hold it.
	Raw []byte
}

// Fields returns the members of the event's details in their order, or
// nil if it has none or they are not a JSON object.
func (e *Event) Fields() []Field {
	details := e.Details()
	if len(details) == 0 {
		return nil
	}
	doc, err := jsontape.Scan(details, Limits)
	if err != nil {
		return nil
	}
	defer doc.Release()
	if doc.Kind(0) != jsontape.Object {
		return nil
	}
	var out []Field
	var name []byte
	for n := 1; n < doc.Len(); n = doc.End(n) {
		name = doc.AppendName(name[:0], n)
		start, end := doc.Raw(n)
		out = append(out, Field{Name: string(name), Raw: details[start:end:end]})
	}
	return out
}

// Field returns the JSON value of the details member name, or nil.
func (e *Event) Field(name string) []byte {
	for _, f := range e.Fields() {
		if f.Name == name {
			return f.Raw
		}
	}
	return nil
}
