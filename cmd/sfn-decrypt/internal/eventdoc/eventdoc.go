// Package eventdoc reads and writes the JSON documents that hold a list of
// events as the AWS CLI prints them ("aws stepfunctions
// get-execution-history", "aws logs filter-log-events"): an object whose
// "events" member is an array, among other members whose order and content
// are kept.
//
// Parse reads a document, its events read by the caller; Marshal writes one,
// its events written by the caller.
package eventdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
)

// Member is a top-level member of a document. The events member has a nil
// Raw: its events are kept by the caller.
type Member struct {
	Name string
	Raw  json.RawMessage
}

// Parse reads a document: a JSON object with an "events" member that is an
// array. It reads each element of the array with event, and returns the
// top-level members and the events, in order. Every error wraps notDoc and
// places what is wrong by byte offset, member name or event index, quoting
// nothing of the document: what names the elements of the array in the
// error for an "events" member that is not an array ("events" is not an
// array of what), and the error of event is given with the event's index.
func Parse[E any](data []byte, notDoc error, what string, event func(json.RawMessage) (E, error)) ([]Member, []E, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, syntaxError(dec, err, data, notDoc)
	}
	if tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("%w: the document is not a JSON object with an \"events\" array", notDoc)
	}
	var ms []Member
	var events []E
	seen := map[string]bool{}
	hasEvents := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, syntaxError(dec, err, data, notDoc)
		}
		name := tok.(string)
		if seen[name] {
			return nil, nil, fmt.Errorf("%w: member %q appears twice", notDoc, name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, syntaxError(dec, err, data, notDoc)
		}
		if name != "events" {
			ms = append(ms, Member{name, raw})
			continue
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(raw, &raws); err != nil {
			return nil, nil, fmt.Errorf("%w: \"events\" is not an array of %s", notDoc, what)
		}
		for i, raw := range raws {
			e, err := event(raw)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: events[%d]: %v", notDoc, i, err)
			}
			events = append(events, e)
		}
		ms = append(ms, Member{Name: name})
		hasEvents = true
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, syntaxError(dec, err, data, notDoc)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: data after the JSON document", notDoc)
	}
	if !hasEvents {
		return nil, nil, fmt.Errorf("%w: the document has no \"events\" array", notDoc)
	}
	return ms, events, nil
}

// syntaxError describes a JSON syntax error by its offset only: the
// decoder's message may quote a character of the input.
func syntaxError(dec *json.Decoder, err error, data []byte, notDoc error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	// An error on the last line (a string cut off before its newline,
	// say) is a truncated document too.
	end := int64(len(bytes.TrimRight(data, " \t\r\n")))
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || off >= end-1 {
		return fmt.Errorf("%w: the JSON ends early, at byte %d (truncated?)", notDoc, off)
	}
	return fmt.Errorf("%w: not valid JSON (at byte %d)", notDoc, off)
}

// Marshal returns the document of members, in their order, with the events
// member's array filled by appendEvents (which appends the events, separated
// by commas, to its argument). With an empty indent the document is compact,
// on one line; otherwise it is indented by indent per level, as the AWS CLI
// prints it with "    ". A newline ends it. The error is that of a member or
// event that is not valid JSON.
func Marshal(members []Member, appendEvents func([]byte) []byte, indent string) ([]byte, error) {
	b := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = eventdata.AppendString(b, []byte(m.Name))
		b = append(b, ':')
		if m.Raw != nil {
			b = append(b, m.Raw...)
			continue
		}
		b = append(b, '[')
		b = appendEvents(b)
		b = append(b, ']')
	}
	b = append(b, '}')
	var out bytes.Buffer
	var err error
	if indent == "" {
		err = json.Compact(&out, b)
	} else {
		err = json.Indent(&out, b, "", indent)
	}
	if err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
