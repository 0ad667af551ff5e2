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
	"github.com/sfnenc/sfnenc/fieldpath"
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
	if ms, events, err, ok := parseTape(data, notDoc, event); ok {
		return ms, events, err
	}
	// The document is not a well-formed one: the decoder says where.
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
		raws, ok := elements(raw)
		if !ok {
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
	// Check the whole once, as the decoder that read the document checks
	// (it lets invalid UTF-8 in strings through, and so does the layout),
	// then lay it out without a second parser.
	if !json.Valid(b) {
		return nil, errors.New("eventdoc: the events do not make a JSON document")
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	out = appendLayout(out, b, indent)
	return append(out, '\n'), nil
}

// appendLayout appends the valid JSON text src to dst without insignificant
// whitespace, or indented by indent per level (as json.Indent does, with
// empty arrays and objects as [] and {}).
func appendLayout(dst, src []byte, indent string) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, indent...)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			j := i + 1
			for ; src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			dst = append(dst, src[i:j+1]...)
			i = j
			continue
		case '{', '[':
			dst = append(dst, c)
			if indent == "" {
				continue
			}
			// An empty object or array stays on its line.
			k := i + 1
			for k < len(src) && (src[k] == ' ' || src[k] == '\t' || src[k] == '\n' || src[k] == '\r') {
				k++
			}
			if src[k] == '}' || src[k] == ']' {
				dst = append(dst, src[k])
				i = k
				continue
			}
			depth++
			newline()
			continue
		case '}', ']':
			if indent != "" {
				depth--
				newline()
			}
			dst = append(dst, c)
			continue
		case ',':
			dst = append(dst, c)
			if indent != "" {
				newline()
			}
			continue
		case ':':
			dst = append(dst, c)
			if indent != "" {
				dst = append(dst, ' ')
			}
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// elements splits a JSON array, which the decoder has read, into its
// elements, from one scan of the codec's tape instead of a second decoding.
func elements(raw []byte) ([]json.RawMessage, bool) {
	doc, err := fieldpath.Scan(raw, fieldpath.Limits{MaxSize: len(raw) + 1, MaxDepth: 1 << 10})
	if err != nil {
		// Stricter than the decoder (duplicate names, depth): let the
		// decoder split it, and the event checks say what is wrong.
		var raws []json.RawMessage
		return raws, json.Unmarshal(raw, &raws) == nil
	}
	defer doc.Release()
	if doc.Kind(0) != fieldpath.Array {
		return nil, false
	}
	var out []json.RawMessage
	for n := 1; n < doc.Len(); n = doc.End(n) {
		start, end := doc.Raw(n)
		out = append(out, json.RawMessage(raw[start:end:end]))
	}
	return out, true
}

// parseTape is Parse for a well-formed document, in one scan of the codec's
// tape, without decoding anything. ok is false if the document is not one
// (syntax, duplicate names, no "events" array): Parse then reads it with the
// decoder, which places the error.
func parseTape[E any](data []byte, notDoc error, event func(json.RawMessage) (E, error)) (ms []Member, events []E, err error, ok bool) {
	doc, serr := fieldpath.Scan(data, fieldpath.Limits{MaxSize: len(data) + 1, MaxDepth: 1 << 10})
	if serr != nil {
		return nil, nil, nil, false
	}
	defer doc.Release()
	if doc.Kind(0) != fieldpath.Object {
		return nil, nil, nil, false
	}
	hasEvents := false
	var name []byte
	for n := 1; n < doc.Len(); n = doc.End(n) {
		name = doc.AppendName(name[:0], n)
		start, end := doc.Raw(n)
		if string(name) != "events" {
			ms = append(ms, Member{string(name), json.RawMessage(data[start:end:end])})
			continue
		}
		if doc.Kind(n) != fieldpath.Array {
			return nil, nil, nil, false
		}
		for i, c := 0, n+1; c < doc.End(n); i, c = i+1, doc.End(c) {
			cs, ce := doc.Raw(c)
			e, eerr := event(json.RawMessage(data[cs:ce:ce]))
			if eerr != nil {
				return nil, nil, fmt.Errorf("%w: events[%d]: %v", notDoc, i, eerr), true
			}
			events = append(events, e)
		}
		ms = append(ms, Member{Name: "events"})
		hasEvents = true
	}
	if !hasEvents {
		return nil, nil, nil, false
	}
	return ms, events, nil, true
}
