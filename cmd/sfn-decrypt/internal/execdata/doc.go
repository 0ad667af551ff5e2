// Package execdata is the model of execution data that the operator's tools
// of sfn-decrypt share: every reader (history, logs, Distributed Map
// results) fetches and parses into it, decryption works on it, and the
// timeline and the view only read it.
//
// A Doc is a JSON document of records as the AWS CLI prints them ("aws
// stepfunctions get-execution-history", "aws logs filter-log-events"): an
// object whose "events" member is an array, among other members whose order
// and content are kept. Parse scans a document once, into a Doc: the
// document's bytes, the tape of its values and the nodes of its events,
// which the caller reads from the tape. Doc.Replace gives a string of the
// document new text (a decrypted value, say), and Doc.Marshal writes the
// document with those strings spliced in, compact or indented;
// Doc.AppendValue one value of it.
//
// An Event is one Step Functions event (its ids, type, time, execution and
// details, whose members are its data fields by name); a Failure is a token
// that was left in place, with where it is and why, never a value.
package execdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sfnenc/sfnenc/jsontape"
)

// Doc is a document of events, scanned once.
type Doc struct {
	tape *jsontape.Document
	// events are the nodes of the events, in order.
	events []int
	// edits are the strings given new text, in document order.
	edits []jsontape.Edit
}

// Member is a top-level member to write before a document's own.
type Member struct {
	Name string
	Raw  json.RawMessage
}

// limits of a document: its size is the caller's to bound.
func limits(data []byte) jsontape.Limits {
	return jsontape.Limits{MaxSize: len(data) + 1, MaxDepth: 1 << 10}
}

// Parse scans data, a JSON object with an "events" member that is an array,
// and checks each element of the array with check, which reads the element
// (node n of tape) from the tape. Every error wraps notDoc and places what
// is wrong by byte offset, member name or event index, quoting nothing of
// the document: what names the elements of the array in the error for an
// "events" member that is not an array ("events" is not an array of what),
// and the error of check is given with the event's index.
//
// The Doc refers to data, which must not change while the Doc is in use.
func Parse(data []byte, notDoc error, what string, check func(tape *jsontape.Document, n int) error) (*Doc, error) {
	tape, err := jsontape.Scan(data, limits(data))
	if err != nil {
		return nil, diagnose(data, notDoc, what, check, err)
	}
	arr := tape.Member(0, "events")
	if arr < 0 || tape.Kind(arr) != jsontape.Array {
		tape.Release()
		return nil, diagnose(data, notDoc, what, check, nil)
	}
	d := &Doc{tape: tape, events: make([]int, 0, tape.Count(arr))}
	for i, n := 0, arr+1; n < tape.End(arr); i, n = i+1, tape.End(n) {
		if err := check(tape, n); err != nil {
			tape.Release()
			return nil, fmt.Errorf("%w: events[%d]: %v", notDoc, i, err)
		}
		d.events = append(d.events, n)
	}
	return d, nil
}

// diagnose says what is wrong with a document that Parse refused: first
// what the standard decoder finds (a syntax error by offset, the shape),
// then the error of check on an event alone, then what the strict scan
// found (scanErr: a duplicate name, invalid UTF-8, nesting too deep).
func diagnose(data []byte, notDoc error, what string, check func(*jsontape.Document, int) error, scanErr error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(dec, err, data, notDoc)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: the document is not a JSON object with an \"events\" array", notDoc)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(dec, err, data, notDoc)
		}
		name := tok.(string)
		if seen[name] {
			return fmt.Errorf("%w: member %q appears twice", notDoc, name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntaxError(dec, err, data, notDoc)
		}
		if name != "events" {
			continue
		}
		var raws []json.RawMessage
		if json.Unmarshal(raw, &raws) != nil {
			return fmt.Errorf("%w: \"events\" is not an array of %s", notDoc, what)
		}
		for i, raw := range raws {
			tape, err := jsontape.Scan(raw, limits(raw))
			if err == nil {
				err = check(tape, 0)
				tape.Release()
			} else if len(raw) > 0 && raw[0] != '{' {
				err = errors.New("not an object")
			} else {
				err = errors.New(scanProblem(err, " of the event"))
			}
			if err != nil {
				return fmt.Errorf("%w: events[%d]: %v", notDoc, i, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntaxError(dec, err, data, notDoc)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON document", notDoc)
	}
	if !seen["events"] {
		return fmt.Errorf("%w: the document has no \"events\" array", notDoc)
	}
	return fmt.Errorf("%w: %s", notDoc, scanProblem(scanErr, ""))
}

// scanProblem says what the strict scan found wrong, by byte offset and,
// for a name that appears twice, the name: the member names of the
// document are its own (the data of an event is in strings). of says what
// the offset counts in.
func scanProblem(err error, of string) string {
	var de *jsontape.DocumentError
	if !errors.As(err, &de) {
		return "not a valid document"
	}
	switch {
	case errors.Is(err, jsontape.ErrDuplicateName):
		name := de.Pointer[strings.LastIndexByte(de.Pointer, '/')+1:]
		name = strings.NewReplacer("~1", "/", "~0", "~").Replace(name)
		return fmt.Sprintf("member %q appears twice (at byte %d%s)", name, de.Offset, of)
	case errors.Is(err, jsontape.ErrInvalidUTF8):
		return fmt.Sprintf("invalid UTF-8 (at byte %d%s)", de.Offset, of)
	case errors.Is(err, jsontape.ErrTooDeep):
		return fmt.Sprintf("nested too deep (at byte %d%s)", de.Offset, of)
	}
	return fmt.Sprintf("not valid JSON (at byte %d%s)", de.Offset, of)
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

// Release hands the tape back for reuse; the Doc must not be used after.
func (d *Doc) Release() {
	d.tape.Release()
	d.tape, d.events, d.edits = nil, nil, nil
}

// Tape returns the tape of the document's values. The caller must not
// release it.
func (d *Doc) Tape() *jsontape.Document { return d.tape }

// Partial reports whether the document says more records follow: it has a
// top-level "NextToken" that is not null, as the AWS CLI leaves with
// --max-items. The name is matched exactly, as the AWS CLI writes it.
func (d *Doc) Partial() bool {
	for n := 1; n < d.tape.Len(); n = d.tape.End(n) {
		if d.tape.NameIs(n, "NextToken") && d.tape.Kind(n) != jsontape.Null {
			return true
		}
	}
	return false
}

// Events returns the node of each event, in order.
func (d *Doc) Events() []int { return d.events }

// Bytes returns the bytes of node n as the document has them, without its
// replacements.
func (d *Doc) Bytes(n int) []byte {
	start, end := d.tape.Raw(n)
	return d.tape.Source()[start:end:end]
}

// Replace gives the string nodes of edits new text: the document is written
// with a JSON string of each Text in place of its node. A node replaced
// twice keeps the last text.
func (d *Doc) Replace(edits ...jsontape.Edit) {
	for _, e := range edits {
		if d.tape.Kind(e.Node) != jsontape.String {
			panic("execdata: Replace of a node that is not a string")
		}
		// Callers replace in document order: append, or else insert.
		if k := len(d.edits); k == 0 || d.edits[k-1].Node < e.Node {
			d.edits = append(d.edits, e)
			continue
		}
		i, found := slices.BinarySearchFunc(d.edits, e.Node, func(a jsontape.Edit, n int) int { return a.Node - n })
		if found {
			d.edits[i] = e
		} else {
			d.edits = slices.Insert(d.edits, i, e)
		}
	}
}

// AppendValue appends node n, with the replacements inside it, to dst, with
// the layout of the document.
func (d *Doc) AppendValue(dst []byte, n int) []byte {
	return d.tape.AppendSpliced(dst, n, d.edits)
}

// Marshal returns the document, with its replacements and the members of
// first before its own. With an empty indent the document is compact, on
// one line; otherwise it is indented by indent per level, as the AWS CLI
// prints it with "    " (byte for byte as json.Compact and json.Indent lay
// it out). A newline ends it.
//
// It needs no check of its own: it writes from the tape of a document that
// was scanned strictly, each replacement as a JSON string, and each member
// of first must be valid JSON (Marshal panics if it is not).
func (d *Doc) Marshal(first []Member, indent string) []byte {
	size := len(d.tape.Source())
	return d.AppendMarshal(make([]byte, 0, size+size/2), first, indent)
}

// AppendMarshal appends the document as Marshal writes it to dst.
func (d *Doc) AppendMarshal(dst []byte, first []Member, indent string) []byte {
	w := writer{dst: dst, indent: indent}
	w.open('{')
	for _, m := range first {
		raw, err := jsontape.Scan(m.Raw, limits(m.Raw))
		if err != nil {
			panic("execdata: member " + m.Name + " is not valid JSON")
		}
		w.next()
		w.dst = jsontape.AppendQuoted(w.dst, []byte(m.Name))
		w.colon()
		w.value(raw, 0, nil)
		raw.Release()
	}
	edits := d.edits
	for n := 1; n < d.tape.Len(); n = d.tape.End(n) {
		w.member(d.tape, n)
		edits = w.value(d.tape, n, edits)
	}
	w.close('}')
	return append(w.dst, '\n')
}

// AppendLayout appends the valid JSON text src to dst as Marshal lays out a
// document: compact with an empty indent, indented by indent per level
// otherwise. It panics if src is not valid JSON.
func AppendLayout(dst, src []byte, indent string) []byte {
	tape, err := jsontape.Scan(src, limits(src))
	if err != nil {
		panic("execdata: AppendLayout of text that is not valid JSON")
	}
	defer tape.Release()
	w := writer{dst: dst, indent: indent}
	w.value(tape, 0, nil)
	return w.dst
}

// writer lays out JSON from a tape: every value is copied whole (or
// replaced), and what lies between values (brackets, names, commas, the
// indentation) is written from the tape's structure, without reading the
// bytes between values.
type writer struct {
	dst    []byte
	indent string
	depth  int
	// empty: the innermost open array or object has no child yet.
	empty bool
	// ends are the open arrays and objects of the value being written.
	ends []opened
}

// opened is an array or object being written: where it ends on the tape
// (tape.End), and its closing byte.
type opened struct {
	end    int
	closer byte
}

func (w *writer) newline() {
	w.dst = append(w.dst, '\n')
	for range w.depth {
		w.dst = append(w.dst, w.indent...)
	}
}

func (w *writer) open(c byte) {
	w.dst = append(w.dst, c)
	w.depth++
	w.empty = true
}

// next starts a child of the innermost open array or object.
func (w *writer) next() {
	if !w.empty {
		w.dst = append(w.dst, ',')
	}
	w.empty = false
	if w.indent != "" {
		w.newline()
	}
}

func (w *writer) colon() {
	w.dst = append(w.dst, ':')
	if w.indent != "" {
		w.dst = append(w.dst, ' ')
	}
}

// close ends the innermost open array or object: an empty one stays on the
// line it opened.
func (w *writer) close(c byte) {
	w.depth--
	if !w.empty && w.indent != "" {
		w.newline()
	}
	w.dst = append(w.dst, c)
	w.empty = false
}

// member starts node n of tape as a child: the separator and, for an object
// member, its name as the input has it.
func (w *writer) member(tape *jsontape.Document, n int) {
	w.next()
	if s, e := tape.RawName(n); s >= 0 {
		w.dst = append(w.dst, tape.Source()[s:e]...)
		w.colon()
	}
}

// value writes node n of tape with its subtree and the replacements inside
// it (edits, in document order, from the first one at or after n), and
// returns the edits after it.
func (w *writer) value(tape *jsontape.Document, n int, edits []jsontape.Edit) []jsontape.Edit {
	src := tape.Source()
	w.ends = w.ends[:0]
	for c := n; c < tape.End(n); c++ {
		for k := len(w.ends) - 1; k >= 0 && w.ends[k].end <= c; k-- {
			w.close(w.ends[k].closer)
			w.ends = w.ends[:k]
		}
		if c > n {
			w.member(tape, c)
		}
		switch tape.Kind(c) {
		case jsontape.Object:
			w.open('{')
			w.ends = append(w.ends, opened{tape.End(c), '}'})
		case jsontape.Array:
			w.open('[')
			w.ends = append(w.ends, opened{tape.End(c), ']'})
		default:
			if len(edits) > 0 && edits[0].Node == c {
				w.dst = jsontape.AppendQuoted(w.dst, edits[0].Text)
				edits = edits[1:]
				continue
			}
			s, e := tape.Raw(c)
			w.dst = append(w.dst, src[s:e]...)
		}
	}
	for k := len(w.ends) - 1; k >= 0; k-- {
		w.close(w.ends[k].closer)
	}
	w.ends = w.ends[:0]
	return edits
}
