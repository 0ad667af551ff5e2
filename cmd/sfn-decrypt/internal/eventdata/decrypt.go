// Package eventdata decrypts the sfnenc tokens in the data of AWS Step
// Functions events, the model of package execdata. It serves every source of
// events the sfn-decrypt command reads: execution history (from
// GetExecutionHistory or a saved file), CloudWatch Logs, whose events carry
// the same details, and the records of Distributed Map results.
//
// Step Functions stores a state's input, output, task parameters, error cause
// and assigned variables as JSON text inside JSON strings, so a token is
// usually inside a string, not a string of its own. Decryptor.Text decrypts
// the tokens in one such string: JSON text with tokens inside it, a string
// that is a token, or plain text with tokens in it; Decryptor.TextMarks
// also says, from the codec's report, which tokens it opened or left alone.
// Decryptor.Events applies Text to every string of the events a reader
// scanned (execdata.Scan: an event of a history, a log message), and keeps
// the strings that changed as edits that the reader's document is written
// with; Decryptor.Value does the same for JSON text of its own. Tokens that
// cannot be decrypted stay as they are and are reported as
// execdata.Failure values.
//
// A Task's parameters and output may wrap a document of its own, read by
// the task's function (the Payload of a lambda:invoke Task) or a child
// execution: such a member is decrypted as its own document, so that the
// codec evaluates the bind and context paths of its tokens where their
// readers and writers do (see wrappers).
//
// In CloudWatch Logs, Step Functions cuts data off to fit the size limit of a
// log event, and says so in the field's <field>Details object. Such a field
// holds the start of JSON text: Decryptor.Truncated decrypts the whole tokens
// in it, and Decryptor.ValueTruncated is Value for an event with such fields.
package eventdata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"
)

// Decrypter decrypts the tokens of a JSON document, leaving those it cannot
// decrypt in place. *codec.Codec implements it.
type Decrypter interface {
	DecryptPartial(ctx context.Context, src []byte) ([]byte, []*codec.TokenError, error)
}

// Decryptor decrypts tokens in event data with a Decrypter.
type Decryptor struct {
	c Decrypter
}

// NewDecryptor returns a Decryptor that decrypts with c.
func NewDecryptor(c Decrypter) *Decryptor { return &Decryptor{c: c} }

// maxNesting bounds JSON text inside strings inside JSON text (as a
// caught error's Cause in a state's output) that Text looks into.
const maxNesting = 8

// Value decrypts the tokens in every string of the JSON value src (an event,
// say) with Text, and returns it with those strings replaced; every other byte
// stays as it was. If nothing changes it returns src itself. Failures name the
// string by its JSON Pointer in src. The error is set only if src is not JSON.
func (d *Decryptor) Value(ctx context.Context, src []byte) ([]byte, []execdata.Failure, error) {
	return d.strings(ctx, src, 0, false, nil)
}

// ValueTruncated is Value for a JSON value some of whose strings hold JSON
// text that Step Functions truncated: the strings at the JSON Pointers in
// truncated (such as "/details/output") are decrypted with Truncated instead
// of Text.
func (d *Decryptor) ValueTruncated(ctx context.Context, src []byte, truncated []string) ([]byte, []execdata.Failure, error) {
	return d.strings(ctx, src, 0, false, truncated)
}

// strings applies Text to the strings of the JSON text src that may hold a
// token, and sets Field of each failure to the string's pointer. With
// skipTokens it leaves alone strings that are tokens (already tried). The
// strings at the pointers in truncated get Truncated instead.
func (d *Decryptor) strings(ctx context.Context, src []byte, depth int, skipTokens bool, truncated []string) ([]byte, []execdata.Failure, error) {
	doc, err := jsontape.Scan(src, execdata.Limits)
	if err != nil {
		return nil, nil, err
	}
	defer doc.Release()
	edits, fails := d.nodeStrings(ctx, doc, 0, depth, skipTokens, truncated)
	if len(edits) == 0 {
		return src, fails, nil
	}
	return doc.AppendSpliced(make([]byte, 0, len(src)+len(src)/2), 0, edits), fails, nil
}

// Events decrypts the tokens in the data of each event that has a Scan,
// with Strings, once: it keeps what changed as the Scan's Edits (which the
// reader writes back into its document), sets the event's Failures, and
// returns the failures of all events, each naming its event.
func (d *Decryptor) Events(ctx context.Context, events []*execdata.Event) []execdata.Failure {
	var all []execdata.Failure
	for _, e := range events {
		sc := e.Scan
		if sc == nil {
			continue
		}
		edits, fails := d.nodeStrings(ctx, sc.Tape, sc.Node, 0, false, sc.Truncated)
		sc.Edits = edits
		for i := range fails {
			fails[i].ExecutionARN, fails[i].EventID, fails[i].EventType = e.ExecutionARN, e.ID, e.Type
		}
		e.Failures = fails
		all = append(all, fails...)
	}
	return all
}

// Record decrypts the tokens of one JSON value, doc (scanned already), that
// holds data both ways: tokens as values of their own (a child execution's
// output, as a Distributed Map writes it with Transformation COMPACT) and
// tokens in strings that hold JSON text (its Input and Output with
// Transformation NONE). Each token becomes its value exactly as it was
// encrypted; every other byte stays as it was. A token that is a value is
// reported with its pointer as Field; one inside a string, with the
// string's pointer as Field and its own inside the string's JSON text as
// Pointer. It returns the document's own bytes if nothing changed. The
// error is set only if the codec refuses the value (over its size limit,
// say).
func (d *Decryptor) Record(ctx context.Context, doc *jsontape.Document) ([]byte, []execdata.Failure, error) {
	src := doc.Source()
	if doc.NextWithPrefix(0, codec.TokenPrefix) >= doc.Len() {
		// No token is a value of its own: decrypt the strings on the
		// tape already made, as a history's events are.
		edits, fails := d.nodeStrings(ctx, doc, 0, 0, false, nil)
		if len(edits) == 0 {
			return src, fails, nil
		}
		return doc.AppendSpliced(make([]byte, 0, len(src)+len(src)/2), 0, edits), fails, nil
	}
	out, fails, err := d.decryptJSON(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	for i := range fails {
		fails[i].Field, fails[i].Pointer = fails[i].Pointer, ""
	}
	if !mayHoldToken(out) {
		return out, fails, nil
	}
	// Strings that hold tokens in JSON text; those that are tokens were
	// tried above.
	inner, fs, err := d.strings(ctx, out, 1, true, nil)
	if err != nil {
		return out, fails, nil
	}
	return inner, append(fails, fs...), nil
}

// scratch holds the content of the strings that nodeStrings reads: a text
// that changes is new memory, one that does not is not kept.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

func (d *Decryptor) nodeStrings(ctx context.Context, doc *jsontape.Document, n, depth int, skipTokens bool, truncated []string) ([]jsontape.Edit, []execdata.Failure) {
	src := doc.Source()
	var edits []jsontape.Edit
	var fails []execdata.Failure
	var base string
	rel := func(s int) string {
		if base == "" && n > 0 {
			base = doc.Pointer(n)
		}
		return strings.TrimPrefix(doc.Pointer(s), base)
	}
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	for s := n; s < doc.End(n); s++ {
		if doc.Kind(s) != jsontape.String {
			continue
		}
		// The raw string holds the prefix or a \u escape if its content
		// holds either.
		if start, end := doc.Raw(s); !mayHoldToken(src[start:end]) {
			continue
		}
		content := doc.AppendString((*buf)[:0], s)
		*buf = content
		if !mayHoldToken(content) || skipTokens && bytes.HasPrefix(content, []byte(codec.TokenPrefix)) {
			continue
		}
		var text []byte
		var fs []execdata.Failure
		if len(truncated) > 0 && slices.Contains(truncated, rel(s)) {
			text, fs = d.Truncated(ctx, content)
		} else {
			tctx := ctx
			if sk := sinkFrom(ctx); sk != nil && depth > 0 {
				// JSON text in a string of JSON text: its tokens'
				// pointers join the string's by '#', as failures' do.
				tctx = withSink(ctx, &sink{marks: sk.marks, prefix: sk.prefix + rel(s) + "#"})
			}
			member := ""
			if depth == 0 {
				// An event's own field, not JSON text inside one.
				member = nodeWrappedMember(doc, n, s)
			}
			if member != "" {
				text, fs = d.wrappedText(tctx, content, depth, member)
			} else {
				text, fs = d.text(tctx, content, depth)
			}
		}
		if len(fs) > 0 {
			field := rel(s)
			for i := range fs {
				fs[i].Field = field
			}
			fails = append(fails, fs...)
		}
		if sameSlice(text, content) {
			continue
		}
		edits = append(edits, jsontape.Edit{Node: s, Text: text})
	}
	return edits, fails
}

// Text decrypts the tokens in one string's content s and returns the new
// content (s itself if nothing changed) and the tokens left in place:
//
//   - if s is JSON text (as Step Functions stores input, output, parameters
//     and, often, cause), every token in it is replaced by its value, and so
//     are tokens in strings of it that hold JSON text or plain text in turn
//     (such as the Cause of a caught error in a state's output);
//   - otherwise (plain text, such as an error cause, or a string that is a
//     token) each token in the text is replaced: by the string it holds, or by
//     the JSON text of any other value.
func (d *Decryptor) Text(ctx context.Context, s []byte) ([]byte, []execdata.Failure) {
	return d.text(ctx, s, 0)
}

func (d *Decryptor) text(ctx context.Context, s []byte, depth int) ([]byte, []execdata.Failure) {
	if !mayHoldToken(s) {
		return s, nil
	}
	out, fails, err := d.decryptJSON(ctx, s)
	if err != nil {
		return d.plainText(ctx, s)
	}
	if depth+1 >= maxNesting || !bytes.Contains(out, []byte(codec.TokenPrefix)) && !bytes.Contains(out, []byte(`\u`)) {
		return out, fails
	}
	// Strings of the JSON text that hold tokens further in.
	inner, fs, err := d.strings(ctx, out, depth+1, true, nil)
	if err != nil {
		return out, fails
	}
	for _, f := range fs {
		if f.Pointer != "" {
			f.Pointer = f.Field + "#" + f.Pointer
		} else {
			f.Pointer = f.Field
		}
		f.Field = ""
		fails = append(fails, f)
	}
	if sameSlice(inner, out) {
		return out, fails
	}
	return inner, fails
}

// decryptJSON decrypts the JSON text s, and takes the failed tokens, with
// their text, from the codec's report. It returns s itself if nothing
// changed.
func (d *Decryptor) decryptJSON(ctx context.Context, s []byte) ([]byte, []execdata.Failure, error) {
	sk := sinkFrom(ctx)
	rep := reports.Get().(*codec.Report)
	defer func() {
		clear(rep.Events)
		*rep = codec.Report{Events: rep.Events[:0]}
		reports.Put(rep)
	}()
	// Only a sink (the view) needs the pointers of the tokens decrypted.
	rep.CountsOnly = sk == nil
	out, terrs, err := d.c.DecryptPartial(codec.WithReport(ctx, rep), s)
	if err != nil {
		return nil, nil, err
	}
	if sk != nil {
		sk.add(rep)
	}
	if bytes.Equal(out, s) {
		out = s
	}
	if len(terrs) == 0 {
		return out, nil, nil
	}
	fails := make([]execdata.Failure, 0, len(terrs))
	for _, e := range rep.Events {
		if e.Op == codec.Failed {
			fails = append(fails, execdata.Failure{Pointer: e.Pointer, Class: e.Class, Token: e.Token, Err: e.Err})
		}
	}
	if len(fails) != len(terrs) {
		// A Decrypter that reports nothing: the failures, without text.
		fails = fails[:0]
		for _, te := range terrs {
			fails = append(fails, execdata.Failure{Pointer: te.Pointer, Class: te.Class, Err: te.Err})
		}
	}
	return out, fails, nil
}

// reports are the codec reports of decryptJSON, for reuse.
var reports = sync.Pool{New: func() any { return new(codec.Report) }}

// plainText replaces each token in text that is not JSON.
func (d *Decryptor) plainText(ctx context.Context, s []byte) ([]byte, []execdata.Failure) {
	sp := jsontape.NewSplicer(nil, s, 0)
	var fails []execdata.Failure
	for start, end := range execdata.TokenRuns(s) {
		if end == start+len(codec.TokenPrefix) {
			continue // the prefix alone, as prose may mention it
		}
		val, fs := d.token(ctx, s[start:end])
		fails = append(fails, fs...)
		if val == nil {
			continue
		}
		if val[0] == '"' {
			var str string
			if json.Unmarshal(val, &str) == nil {
				val = []byte(str)
			}
		}
		sp.Put(start, end, val)
	}
	return sp.Bytes(), fails
}

// token decrypts one token found in text by its prefix, and returns the
// JSON text of its value, or nil if it was left in place (it failed, or is
// of a class not to decrypt), and its failures, which name no place in JSON.
func (d *Decryptor) token(ctx context.Context, tok []byte) ([]byte, []execdata.Failure) {
	quoted := make([]byte, 0, len(tok)+2)
	quoted = append(append(append(quoted, '"'), tok...), '"')
	val, fails, err := d.decryptJSON(ctx, quoted)
	if err != nil {
		return nil, nil // cannot happen: a quoted run of base64url is JSON
	}
	for i := range fails {
		fails[i].Pointer = ""
	}
	if sameSlice(val, quoted) {
		return nil, fails
	}
	return val, fails
}

// TextMarks is Text, or Truncated if truncated, that also returns a Mark
// for each token it decrypted or left alone by the configuration's classes,
// as the codec reported them (failed tokens are in the failures).
func (d *Decryptor) TextMarks(ctx context.Context, s []byte, truncated bool) ([]byte, []execdata.Failure, []execdata.Mark) {
	return d.textMarks(ctx, s, truncated, "")
}

// textMarks is TextMarks for a field whose member (see wrappers), if not
// "", is a document of its own.
func (d *Decryptor) textMarks(ctx context.Context, s []byte, truncated bool, member string) ([]byte, []execdata.Failure, []execdata.Mark) {
	var marks []execdata.Mark
	ctx = withSink(ctx, &sink{marks: &marks})
	var out []byte
	var fails []execdata.Failure
	switch {
	case truncated:
		out, fails = d.Truncated(ctx, s)
	case member != "":
		out, fails = d.wrappedText(ctx, s, 0, member)
	default:
		out, fails = d.text(ctx, s, 0)
	}
	return out, fails, marks
}

// sink collects the Marks of a TextMarks call; prefix begins the pointers
// of the JSON text being decrypted.
type sink struct {
	marks  *[]execdata.Mark
	prefix string
}

type sinkKey struct{}

func withSink(ctx context.Context, s *sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, s)
}

func sinkFrom(ctx context.Context) *sink {
	s, _ := ctx.Value(sinkKey{}).(*sink)
	return s
}

// add records the tokens that a codec call decrypted or passed through.
func (s *sink) add(rep *codec.Report) {
	for _, e := range rep.Events {
		if e.Op == codec.Decrypted || e.Op == codec.PassedThrough {
			*s.marks = append(*s.marks, execdata.Mark{Pointer: s.prefix + e.Pointer, Class: e.Class, Decrypted: e.Op == codec.Decrypted})
		}
	}
}

// Truncated decrypts the tokens in s, the start of JSON text that Step
// Functions cut off to fit a size limit (a field whose <field>Details object
// says "truncated"), and returns the new text (s itself if nothing changed)
// and the tokens left in place. As JSON text that ends early cannot be parsed,
// tokens are found by their prefix: a token that is a whole JSON string is
// replaced by the JSON text of its value, at any level of JSON text held in
// strings (its quotes escaped as that level escapes them, and the value
// escaped alike). A token cut off by the end of s, or inside other text,
// stays as it is and is reported as a failure wrapping execdata.ErrTruncated.
func (d *Decryptor) Truncated(ctx context.Context, s []byte) ([]byte, []execdata.Failure) {
	sp := jsontape.NewSplicer(nil, s, 0)
	var fails []execdata.Failure
	for start, end := range execdata.TokenRuns(s) {
		if end == start+len(codec.TokenPrefix) && end < len(s) {
			continue // the prefix alone, as prose may mention it
		}
		tok := s[start:end]
		open, level := openingQuote(s, start)
		var closer []byte
		if level >= 0 {
			closer = s[open:start]
		}
		switch {
		case level >= 0 && bytes.HasPrefix(s[end:], closer):
			// A whole string: replace it, quotes included.
		case level >= 0 && bytes.HasPrefix(closer, s[end:]), level < 0 && end == len(s):
			fails = append(fails, execdata.Failure{Token: string(tok), Err: fmt.Errorf("%w: cut off", execdata.ErrTruncated)})
			continue
		default:
			fails = append(fails, execdata.Failure{Token: string(tok), Err: fmt.Errorf("%w: inside other text", execdata.ErrTruncated)})
			continue
		}
		val, fs := d.token(ctx, tok)
		fails = append(fails, fs...)
		if val == nil {
			continue
		}
		for range level {
			val = jsontape.AppendEscaped(nil, val, '"')
		}
		sp.Put(open, end+len(closer), val)
	}
	return sp.Bytes(), fails
}

// openingQuote finds the quote that opens the JSON string a token at start
// would be the whole of, and the level of JSON-in-strings it is at: 0 for a
// bare '"', 1 for '\"', 3 backslashes for 2, and so on. The level is -1 if
// no quote of any level is right before start.
func openingQuote(s []byte, start int) (open, level int) {
	q := start - 1
	if q < 0 || s[q] != '"' {
		return start, -1
	}
	n := 0
	for q-n-1 >= 0 && s[q-n-1] == '\\' {
		n++
	}
	// n backslashes escape a quote at level k if n == 2^k - 1.
	for k := 0; k < 31; k++ {
		if n == 1<<k-1 {
			return q - n, k
		}
		if n < 1<<k-1 {
			break
		}
	}
	return start, -1
}

// mayHoldToken reports whether s may hold a token: the prefix, or a \u
// escape that might spell it inside JSON text.
func mayHoldToken(s []byte) bool {
	return bytes.Contains(s, []byte(codec.TokenPrefix)) || bytes.Contains(s, []byte(`\u`))
}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
