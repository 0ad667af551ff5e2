// Package history reads AWS Step Functions execution histories, from the JSON
// that "aws stepfunctions get-execution-history" prints or from the
// GetExecutionHistory API, decrypts the sfnenc tokens in their events, and
// writes them out again as JSON of the same shape or as a text timeline.
//
// Parse reads a saved history; Client.History reads one through the API, with
// every page and the execution data. History.Decrypt decrypts every event
// with an eventdata.Decryptor; History.WriteJSON and History.WriteText write
// the result. Events keep every member they have, including event types and
// fields this package does not know.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdoc"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
	"github.com/sfnenc/sfnenc/fieldpath"
)

// ErrNotHistory is wrapped by the errors of Parse for input that is not an
// execution history.
var ErrNotHistory = errors.New("history: not an execution history")

// History is an execution history: its events, in order, and any other
// top-level members of the document they came in.
type History struct {
	// members are the top-level members in input order; the events
	// member has a nil Raw and is written from events.
	members []eventdoc.Member
	events  []event
}

type event struct {
	raw   []byte
	fails []eventdata.Failure
}

// Failure is a token of an event that was left in place.
type Failure struct {
	EventID   int64
	EventType string
	eventdata.Failure
}

// Describe is the one-line description of the failure for diagnostics; it
// holds no value.
func (f Failure) Describe() string {
	return fmt.Sprintf("event %d (%s) %s", f.EventID, f.EventType, f.Failure.Describe())
}

// Where names the token's event and its position in the event.
func (f Failure) Where() string {
	return fmt.Sprintf("event %d (%s) %s", f.EventID, f.EventType, f.Failure.Where())
}

// head is what every event must have.
type head struct {
	ID         *json.Number    `json:"id"`
	PreviousID json.Number     `json:"previousEventId"`
	Type       *string         `json:"type"`
	Timestamp  json.RawMessage `json:"timestamp"`
}

// Parse reads a history in the shape "aws stepfunctions
// get-execution-history --output json" prints: an object whose "events"
// member is an array of events, each with an id, a type and a timestamp.
// Timestamps may be ISO 8601 strings (as the AWS CLI prints them) or numbers
// of seconds since the epoch (as the API sends them).
func Parse(data []byte) (*History, error) {
	ms, events, err := eventdoc.Parse(data, ErrNotHistory, "events", func(raw json.RawMessage) (event, error) {
		return event{raw: raw}, checkEvent(raw)
	})
	if err != nil {
		return nil, err
	}
	return &History{members: ms, events: events}, nil
}

// checkEvent checks that raw, a JSON value the parser has read, is an
// object with an integer id, a type and a timestamp. It reads them from the
// codec's tape of the event, without decoding the event.
func checkEvent(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("not an object")
	}
	doc, err := fieldpath.Scan(raw, fieldpath.Limits{MaxSize: len(raw) + 1, MaxDepth: 1 << 10})
	if err != nil {
		return errors.New("not a valid event")
	}
	defer doc.Release()
	wrongType := errors.New("id, previousEventId, type or timestamp of the wrong type")
	var id, prev, typ, ts []byte
	var name []byte
	for n := 1; n < doc.Len(); n = doc.End(n) {
		name = doc.AppendName(name[:0], n)
		start, end := doc.Raw(n)
		v := raw[start:end]
		switch string(name) {
		case "id":
			if doc.Kind(n) != fieldpath.Number {
				return wrongType
			}
			id = v
		case "previousEventId":
			if doc.Kind(n) != fieldpath.Number {
				return wrongType
			}
			prev = v
		case "type":
			if doc.Kind(n) != fieldpath.String {
				return wrongType
			}
			typ = doc.AppendString(nil, n)
		case "timestamp":
			ts = v
		}
	}
	if id == nil {
		return errors.New("no \"id\"")
	}
	if _, err := strconv.ParseInt(string(id), 10, 64); err != nil {
		return errors.New("\"id\" is not an integer")
	}
	if prev != nil {
		if _, err := strconv.ParseInt(string(prev), 10, 64); err != nil {
			return errors.New("\"previousEventId\" is not an integer")
		}
	}
	if len(typ) == 0 {
		return errors.New("no \"type\"")
	}
	if len(ts) == 0 {
		return errors.New("no \"timestamp\"")
	}
	if _, _, err := parseTime(ts); err != nil {
		return err
	}
	return nil
}

// parseTime reads a timestamp: an RFC 3339 string or epoch seconds.
// For a string it may return the zero time and the text, if it is not RFC
// 3339: the text is then shown as it is.
func parseTime(raw json.RawMessage) (time.Time, string, error) {
	switch {
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, "", errors.New("bad \"timestamp\"")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, s, nil
		}
		return t, s, nil
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

// Len returns the number of events.
func (h *History) Len() int { return len(h.events) }

// Partial reports whether the document says more events follow (it has a
// NextToken, as "aws stepfunctions get-execution-history --max-items" leaves).
func (h *History) Partial() bool {
	for _, m := range h.members {
		if strings.EqualFold(m.Name, "nextToken") && string(m.Raw) != "null" {
			return true
		}
	}
	return false
}

// Decrypt decrypts the tokens in every event with d, and returns the tokens
// that were left in place. Each event keeps every member it had.
func (h *History) Decrypt(ctx context.Context, d *eventdata.Decryptor) ([]Failure, error) {
	var all []Failure
	for i := range h.events {
		e := &h.events[i]
		out, fails, err := d.Value(ctx, e.raw)
		if err != nil {
			return all, fmt.Errorf("history: event %d: %w", i, err)
		}
		e.raw, e.fails = out, fails
		if len(fails) == 0 {
			continue
		}
		var hd head
		json.Unmarshal(e.raw, &hd) // checked by Parse
		id, _ := hd.ID.Int64()
		for _, f := range fails {
			all = append(all, Failure{EventID: id, EventType: *hd.Type, Failure: f})
		}
	}
	return all, nil
}

// WriteJSON writes the history as one JSON document with its events and
// other members in their order. If executionARN is not empty, an
// "executionArn" member comes first. With an empty indent the document is
// compact, on one line; otherwise it is indented by indent per level, as the
// AWS CLI prints it with "    ". A newline ends it.
func (h *History) WriteJSON(w io.Writer, executionARN, indent string) error {
	members := h.members
	if executionARN != "" {
		members = append([]eventdoc.Member{{Name: "executionArn", Raw: eventdata.AppendString(nil, []byte(executionARN))}}, members...)
	}
	out, err := eventdoc.Marshal(members, func(b []byte) []byte {
		for i, e := range h.events {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, e.raw...)
		}
		return b
	}, indent)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = w.Write(out)
	return err
}

// WriteText writes the events to t, after a heading with title.
func (h *History) WriteText(t *timeline.Timeline, title string) error {
	if err := t.Heading(title); err != nil {
		return err
	}
	for _, e := range h.events {
		ev, err := toEvent(e)
		if err != nil {
			return err
		}
		if err := t.Write(ev); err != nil {
			return err
		}
	}
	return nil
}

// toEvent converts a history event for Timeline.
func toEvent(e event) (*timeline.Event, error) {
	var hd head
	if err := json.Unmarshal(e.raw, &hd); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	ev := &timeline.Event{Type: *hd.Type, Failures: e.fails}
	ev.ID, _ = hd.ID.Int64()
	if hd.PreviousID != "" {
		ev.PreviousID, _ = hd.PreviousID.Int64()
	}
	ev.Time, ev.TimeText, _ = parseTime(hd.Timestamp)
	var ms map[string]json.RawMessage
	if err := json.Unmarshal(e.raw, &ms); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	// The details member is the one named <type>EventDetails; events of
	// several types share one (stateEnteredEventDetails), and unknown
	// types have their own: take the object member named ...EventDetails.
	for _, name := range slices.Sorted(maps.Keys(ms)) {
		if raw := ms[name]; strings.HasSuffix(name, "EventDetails") && len(raw) > 0 && raw[0] == '{' {
			ev.Details = raw
			break
		}
	}
	return ev, nil
}
