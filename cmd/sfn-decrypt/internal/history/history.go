// Package history reads AWS Step Functions execution histories, from the JSON
// that "aws stepfunctions get-execution-history" prints or from the
// GetExecutionHistory API, into the events that decryption works on, and
// writes them out again as JSON of the same shape.
//
// Parse reads a saved history, in one scan of the document, into the model
// of package execdata; Client.History reads one through the API, with every
// page and the execution data. History.Events gives the events, each with
// its execdata.Scan, for decryption to work on and a timeline to show;
// History.WriteJSON writes the document with what decryption changed
// spliced in. Events keep every member they have, including event types
// and fields this package does not know. The package only reads: it does
// not decrypt.
package history

import (
	"bytes"
	"errors"
	"io"

	"math"

	"strconv"
	"sync"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrNotHistory is wrapped by the errors of Parse for input that is not an
// execution history.
var ErrNotHistory = errors.New("history: not an execution history")

// History is an execution history: its events, in order, and any other
// top-level members of the document they came in, read in one scan of the
// document.
type History struct {
	doc    *execdata.Doc
	events []*execdata.Event
}

// event is what Parse read of an event.
type event struct {
	node     int
	id, prev int64
	typ      string
	ts       int // the node of the timestamp
	details  int // the node of the ...EventDetails object, or -1
}

// Parse reads a history in the shape "aws stepfunctions
// get-execution-history --output json" prints: an object whose "events"
// member is an array of events, each with an id, a type and a timestamp.
// Timestamps may be ISO 8601 strings (as the AWS CLI prints them) or numbers
// of seconds since the epoch (as the API sends them). The History refers to
// data, which must not change while it is in use.
func Parse(data []byte) (*History, error) {
	var events []event
	var name []byte
	doc, err := execdata.Parse(data, ErrNotHistory, "events", func(tape *jsontape.Document, n int) error {
		if events == nil {
			count := 1
			if arr := tape.Parent(n); arr >= 0 {
				count = tape.Count(arr)
			}
			events = make([]event, 0, count)
		}
		e, err := readEvent(tape, n, &name)
		events = append(events, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	h := &History{doc: doc, events: make([]*execdata.Event, len(events))}
	scans := make([]execdata.Scan, len(events))
	evs := make([]execdata.Event, len(events))
	for i, e := range events {
		scans[i] = execdata.Scan{Tape: doc.Tape(), Node: e.node, DetailsNode: e.details}
		doc.Hold(-1, &scans[i])
		evs[i] = execdata.Event{ID: e.id, PreviousID: e.prev, Type: e.typ, Scan: &scans[i]}
		evs[i].Time, evs[i].TimeText = eventTime(doc.Tape(), e.ts)
		h.events[i] = &evs[i]
	}
	return h, nil
}

var errWrongType = errors.New("id, previousEventId, type or timestamp of the wrong type")

// readEvent reads event n of tape: an object with an integer id, a type and
// a timestamp, and maybe the integer id of the event before and its
// details. Member names with escapes are decoded into *buf.
func readEvent(tape *jsontape.Document, n int, buf *[]byte) (event, error) {
	src := tape.Source()
	e := event{node: n, details: -1}
	if tape.Kind(n) != jsontape.Object {
		return e, errors.New("not an object")
	}
	wrongType := errWrongType
	var id, prev, ts []byte
	var name []byte
	for c := n + 1; c < tape.End(n); c = tape.End(c) {
		// The name as the document has it, unless it has escapes.
		if ns, ne := tape.RawName(c); bytes.IndexByte(src[ns:ne], '\\') < 0 {
			name = src[ns+1 : ne-1 : ne-1]
		} else {
			name = tape.AppendName((*buf)[:0], c)
			*buf = name
		}
		start, end := tape.Raw(c)
		v := src[start:end]
		switch string(name) {
		case "id":
			if tape.Kind(c) != jsontape.Number {
				return e, wrongType
			}
			id = v
		case "previousEventId":
			if tape.Kind(c) != jsontape.Number {
				return e, wrongType
			}
			prev = v
		case "type":
			if tape.Kind(c) != jsontape.String {
				return e, wrongType
			}
			e.typ = eventType(tape, c, buf)
		case "timestamp":
			ts, e.ts = v, c
		default:
			// The details member is the one named <type>EventDetails;
			// events of several types share one
			// (stateEnteredEventDetails), and unknown types have their
			// own: take the object member named ...EventDetails (the
			// first by name, should there be several).
			if bytes.HasSuffix(name, []byte("EventDetails")) && tape.Kind(c) == jsontape.Object &&
				(e.details < 0 || string(name) < string(tape.AppendName(nil, e.details))) {
				e.details = c
			}
		}
	}
	var err error
	if id == nil {
		return e, errors.New("no \"id\"")
	}
	if e.id, err = strconv.ParseInt(string(id), 10, 64); err != nil {
		return e, errors.New("\"id\" is not an integer")
	}
	if prev != nil {
		if e.prev, err = strconv.ParseInt(string(prev), 10, 64); err != nil {
			return e, errors.New("\"previousEventId\" is not an integer")
		}
	}
	if len(e.typ) == 0 {
		return e, errors.New("no \"type\"")
	}
	if len(ts) == 0 {
		return e, errors.New("no \"timestamp\"")
	}
	// A string is shown as it is if it is not RFC 3339: only a number can
	// be wrong, and the time of a string is read when the event is.
	if ts[0] != '"' {
		if _, _, err := parseTime(ts, nil); err != nil {
			return e, err
		}
	}
	return e, nil
}

// eventTypes are the event types Step Functions writes most, so that the
// events of a history share their strings.
var eventTypes = func() map[string]string {
	m := map[string]string{}
	for _, t := range []string{"ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut",
		"ExecutionRedriven", "TaskStateEntered", "TaskStateExited", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
		"TaskFailed", "TaskTimedOut", "PassStateEntered", "PassStateExited", "ChoiceStateEntered", "ChoiceStateExited",
		"WaitStateEntered", "WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "FailStateEntered",
		"ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateExited", "ParallelStateFailed",
		"MapStateEntered", "MapStateStarted", "MapStateSucceeded", "MapStateExited", "MapStateFailed", "MapIterationStarted",
		"MapIterationSucceeded", "MapIterationFailed", "MapRunStarted", "MapRunSucceeded", "MapRunFailed",
		"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "LambdaFunctionFailed"} {
		m[t] = t
	}
	return m
}()

// eventType returns the string node n of tape, the event's type; buf is
// scratch space.
func eventType(tape *jsontape.Document, n int, buf *[]byte) string {
	*buf = tape.AppendString((*buf)[:0], n)
	if t, ok := eventTypes[string(*buf)]; ok {
		return t
	}
	return string(*buf)
}

// eventTime reads the timestamp at node ts, which readEvent checked.
func eventTime(tape *jsontape.Document, ts int) (time.Time, string) {
	start, end := tape.Raw(ts)
	raw := tape.Source()[start:end]
	var str []byte
	if tape.Kind(ts) == jsontape.String {
		str = tape.AppendString(nil, ts)
	}
	t, text, _ := parseTime(raw, str)
	return t, text
}

// parseTime reads a timestamp: an RFC 3339 string or epoch seconds. raw is
// the JSON value, and str the content of a string. For a string it may
// return the zero time and the text, if it is not RFC 3339: the text is
// then shown as it is.
func parseTime(raw, str []byte) (time.Time, string, error) {
	switch {
	case raw[0] == '"':
		s := string(str)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, s, nil
		}
		return t, "", nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f > 1e11 {
			return time.Time{}, "", errors.New("\"timestamp\" out of range")
		}
		sec, frac := math.Modf(f)
		ms := math.Round(frac * 1000)
		return time.Unix(int64(sec), int64(ms)*int64(time.Millisecond)).UTC(), "", nil
	}
	return time.Time{}, "", errors.New("\"timestamp\" is neither a string nor a number")
}

// Release hands the History's memory back for reuse; the History must not
// be used after.
func (h *History) Release() {
	h.doc.Release()
	h.doc, h.events = nil, nil
}

// Len returns the number of events.
func (h *History) Len() int { return len(h.events) }

// Partial reports whether the document says more events follow (it has a
// NextToken, as "aws stepfunctions get-execution-history --max-items" leaves).
func (h *History) Partial() bool { return h.doc.Partial() }

// WriteJSON writes the history as one JSON document with its events (as
// decryption left them) and other members in their order. If executionARN is not empty, an
// "executionArn" member comes first. With an empty indent the document is
// compact, on one line; otherwise it is indented by indent per level, as the
// AWS CLI prints it with "    ". A newline ends it.
func (h *History) WriteJSON(w io.Writer, executionARN, indent string) error {
	var first []execdata.Member
	if executionARN != "" {
		first = []execdata.Member{{Name: "executionArn", Raw: jsontape.AppendQuoted(nil, []byte(executionARN))}}
	}
	b := outBufs.Get().(*[]byte)
	defer outBufs.Put(b)
	*b = h.doc.AppendMarshal((*b)[:0], first, indent)
	_, err := w.Write(*b)
	return err
}

// outBufs hold the output of WriteJSON, for the next history.
var outBufs = sync.Pool{New: func() any { return new([]byte) }}

// Events returns the events, in order, each with its Scan: decryption
// (eventdata.Decryptor.Events) works on them, WriteJSON writes what it
// changed, and a timeline shows them.
func (h *History) Events() []*execdata.Event { return h.events }
