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
// which the caller reads from the tape. Doc.Hold ties the Scan of an event
// to the document, and Doc.Marshal writes the document with what
// decryption changed in its events spliced in, compact or indented;
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
	// held are the scans whose edits the document is written with, in
	// document order.
	held []held
}

// held is a scan the document is written with: at is the node of its
// event in the document's own tape (in is -1), or of the string that holds
// its JSON text (in is at).
type held struct {
	at, in int
	scan   *Scan
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
	d := &Doc{tape: tape, events: make([]int, 0, tape.Count(arr)), held: make([]held, 0, tape.Count(arr))}
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
	d.tape, d.events, d.held = nil, nil, nil
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

// Hold makes the document written with what decryption changes in scan,
// an event of the document's: scan's Tape is the document's own, or, if in
// is not -1, the JSON text of the document's string node in (a log
// event's message), which is then written with the changes spliced in.
// Scans are held in document order.
func (d *Doc) Hold(in int, scan *Scan) {
	at := in
	if in < 0 {
		if scan.Tape != d.tape {
			panic("execdata: Hold of a scan of another tape without its string")
		}
		at = scan.Node
	} else if d.tape.Kind(in) != jsontape.String {
		panic("execdata: Hold in a node that is not a string")
	}
	if k := len(d.held); k > 0 && d.held[k-1].at >= at {
		panic("execdata: Hold out of document order")
	}
	d.held = append(d.held, held{at: at, in: in, scan: scan})
}

// edits returns the edits of the held scans that hold or lie in the nodes
// [n, end), in document order (AppendSpliced keeps those inside n).
func (d *Doc) edits(n, end int) []jsontape.Edit {
	i, _ := slices.BinarySearchFunc(d.held, n, func(h held, n int) int { return h.at - n })
	if i > 0 && d.tape.End(d.held[i-1].at) > n {
		i-- // a scan of a value that holds node n
	}
	var out []jsontape.Edit
	for ; i < len(d.held) && d.held[i].at < end; i++ {
		h := d.held[i]
		switch {
		case h.in < 0:
			out = append(out, h.scan.Edits...)
		case len(h.scan.Edits) > 0:
			out = append(out, jsontape.Edit{Node: h.in, Text: h.scan.Tape.AppendSpliced(nil, 0, h.scan.Edits)})
		}
	}
	return out
}

// AppendValue appends node n, with what decryption changed inside it, to
// dst, with the layout of the document.
func (d *Doc) AppendValue(dst []byte, n int) []byte {
	return d.tape.AppendSpliced(dst, n, d.edits(n, d.tape.End(n)))
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
	edits := d.edits(0, d.tape.Len())
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
