// Package eventdata decrypts the sfnenc tokens in the data of AWS Step
// Functions events. It serves every source of events the sfn-decrypt command
// reads: execution history (from GetExecutionHistory or a saved file) and
// CloudWatch Logs, whose events carry the same details.
//
// Step Functions stores a state's input, output, task parameters, error cause
// and assigned variables as JSON text inside JSON strings, so a token is
// usually inside a string, not a string of its own. Decryptor.Text decrypts
// the tokens in one such string: JSON text with tokens inside it, a string
// that is a token, or plain text with tokens in it. Decryptor.Strings applies
// Text to every string of a value in a document already scanned (an event of
// a history), and returns the strings that changed as jsontape.Edit values,
// which Document.AppendSpliced writes into the document; Decryptor.Value does both for JSON
// text of its own. Tokens that cannot be decrypted stay as they are and are
// reported as Failure values.
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
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrTruncated is wrapped by the error of a Failure for a token in data that
// Step Functions truncated: cut off by the end of the data, or inside text
// whose JSON structure is lost with its end.
var ErrTruncated = errors.New("eventdata: token in data truncated by Step Functions")

// Decrypter decrypts the tokens of a JSON document, leaving those it cannot
// decrypt in place. *codec.Codec implements it.
type Decrypter interface {
	DecryptPartial(ctx context.Context, src []byte) ([]byte, []*codec.TokenError, error)
}

// Failure is a token that was left in place because it could not be
// decrypted. It names where the token is and why, never a value.
type Failure struct {
	// Field is the JSON Pointer of the string that holds the token, in the
	// value given to Decryptor.Value ("" when the string was given to
	// Decryptor.Text).
	Field string
	// Pointer is the JSON Pointer of the token in the JSON text of the
	// string ("" if the string is not JSON or is the token itself). Where
	// the token is in a string of that JSON text that holds JSON text in
	// turn, the pointers of each level are joined by '#', as in
	// "/error/Cause#/errorMessage".
	Pointer string
	// Class is the token's class, if the token could be parsed.
	Class string
	// Token is the token's text, as it stays in the output.
	Token string
	// Err says why; it wraps the codec and envelope sentinels
	// (envelope.ErrDenied, codec.ErrAuthentication, ...).
	Err error
}

// Reason is a short human reason for the failure, such as "KMS denied
// access to the key".
func (f Failure) Reason() string {
	switch {
	case errors.Is(f.Err, keyset.ErrDestroyed):
		return "made with a destroyed key"
	case errors.Is(f.Err, keyset.ErrDisabled):
		return "made with a disabled key"
	case errors.Is(f.Err, keyset.ErrNoSuchKey):
		return "its key is not in the class's keyset"
	case errors.Is(f.Err, keyset.ErrBadFile):
		return "damaged or foreign keyset file"
	case errors.Is(f.Err, envelope.ErrNoCredentials):
		return "no AWS credentials to call KMS"
	case errors.Is(f.Err, envelope.ErrKeyNotFound):
		return "KMS has no such key"
	case errors.Is(f.Err, envelope.ErrDenied):
		return "KMS denied access to the key"
	case errors.Is(f.Err, codec.ErrUnknownClass):
		return "no rule for this class in the configuration"
	case errors.Is(f.Err, codec.ErrForged):
		return "forged: not signed by a writer of the class"
	case errors.Is(f.Err, codec.ErrUnsigned):
		return "not signed, and the class requires it"
	case errors.Is(f.Err, envelope.ErrInvalidKey):
		return "wrong key or encryption context"
	case errors.Is(f.Err, envelope.ErrNoKey):
		return "no configured key can unwrap it"
	case errors.Is(f.Err, envelope.ErrUnavailable):
		return "KMS unavailable"
	case errors.Is(f.Err, codec.ErrAuthentication):
		return "failed authentication (altered, or another context or class)"
	case errors.Is(f.Err, ErrTruncated):
		return "in data truncated by Step Functions"
	case errors.Is(f.Err, codec.ErrMalformedToken):
		return "malformed token"
	}
	return "cannot decrypt"
}

// Unavailable reports whether the token failed because the key service
// could not be reached or throttled past the retries, rather than because the
// caller may not or cannot decrypt it.
func (f Failure) Unavailable() bool { return errors.Is(f.Err, envelope.ErrUnavailable) }

// Where names the token's position: the field's pointer and, if the field
// holds JSON, the token's pointer inside it.
func (f Failure) Where() string {
	w := f.Field
	if w == "" {
		w = "(value)"
	}
	if f.Pointer != "" {
		w += " at " + f.Pointer
	}
	return w
}

// Decryptor decrypts tokens in event data with a Decrypter.
type Decryptor struct {
	c Decrypter
}

// NewDecryptor returns a Decryptor that decrypts with c.
func NewDecryptor(c Decrypter) *Decryptor { return &Decryptor{c: c} }

// Limits bound the JSON text of one event, log message or data field that
// sfn-decrypt scans: Step Functions limits data to 256 KiB per field (and
// CloudWatch Logs a log event to 256 KiB), which escaping can grow several
// times.
var Limits = jsontape.Limits{MaxSize: 64 << 20, MaxDepth: 256}

// maxNesting bounds JSON text inside strings inside JSON text (as a
// caught error's Cause in a state's output) that Text looks into.
const maxNesting = 8

// Value decrypts the tokens in every string of the JSON value src (an event,
// say) with Text, and returns it with those strings replaced; every other byte
// stays as it was. If nothing changes it returns src itself. Failures name the
// string by its JSON Pointer in src. The error is set only if src is not JSON.
func (d *Decryptor) Value(ctx context.Context, src []byte) ([]byte, []Failure, error) {
	return d.strings(ctx, src, 0, false, nil)
}

// ValueTruncated is Value for a JSON value some of whose strings hold JSON
// text that Step Functions truncated: the strings at the JSON Pointers in
// truncated (such as "/details/output") are decrypted with Truncated instead
// of Text.
func (d *Decryptor) ValueTruncated(ctx context.Context, src []byte, truncated []string) ([]byte, []Failure, error) {
	return d.strings(ctx, src, 0, false, truncated)
}

// strings applies Text to the strings of the JSON text src that may hold a
// token, and sets Field of each failure to the string's pointer. With
// skipTokens it leaves alone strings that are tokens (already tried). The
// strings at the pointers in truncated get Truncated instead.
func (d *Decryptor) strings(ctx context.Context, src []byte, depth int, skipTokens bool, truncated []string) ([]byte, []Failure, error) {
	doc, err := jsontape.Scan(src, Limits)
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

// Strings decrypts, with Text, the tokens in every string of node n of doc
// (a document already scanned: a history, say, with n one of its events),
// and returns the strings that changed, in document order, and the tokens
// left in place. Failures name the string by its JSON Pointer from node n.
// The strings at the pointers in truncated (from node n, as
// "/details/output") are decrypted with Truncated instead.
func (d *Decryptor) Strings(ctx context.Context, doc *jsontape.Document, n int, truncated []string) ([]jsontape.Edit, []Failure) {
	return d.nodeStrings(ctx, doc, n, 0, false, truncated)
}

// scratch holds the content of the strings that nodeStrings reads: a text
// that changes is new memory, one that does not is not kept.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

func (d *Decryptor) nodeStrings(ctx context.Context, doc *jsontape.Document, n, depth int, skipTokens bool, truncated []string) ([]jsontape.Edit, []Failure) {
	src := doc.Source()
	var edits []jsontape.Edit
	var fails []Failure
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
		var fs []Failure
		if len(truncated) > 0 && slices.Contains(truncated, rel(s)) {
			text, fs = d.Truncated(ctx, content)
		} else {
			text, fs = d.text(ctx, content, depth)
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
func (d *Decryptor) Text(ctx context.Context, s []byte) ([]byte, []Failure) {
	return d.text(ctx, s, 0)
}

func (d *Decryptor) text(ctx context.Context, s []byte, depth int) ([]byte, []Failure) {
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

// decryptJSON decrypts the JSON text s and fills in the text of each failed
// token. It returns s itself if nothing changed.
func (d *Decryptor) decryptJSON(ctx context.Context, s []byte) ([]byte, []Failure, error) {
	out, terrs, err := d.c.DecryptPartial(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	if bytes.Equal(out, s) {
		out = s
	}
	if len(terrs) == 0 {
		return out, nil, nil
	}
	tokens := tokensByPointer(out)
	fails := make([]Failure, len(terrs))
	for i, te := range terrs {
		fails[i] = Failure{Pointer: te.Pointer, Class: te.Class, Token: tokens[te.Pointer], Err: te.Err}
	}
	return out, fails, nil
}

// TokenRuns yields the runs of text in s that look like tokens, in order:
// the prefix and the base64url characters after it, as start and end
// offsets. A run of the prefix alone (as prose may mention it) is yielded
// too.
func TokenRuns(s []byte) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i := 0; i < len(s); {
			j := bytes.Index(s[i:], []byte(codec.TokenPrefix))
			if j < 0 {
				return
			}
			start := i + j
			end := start + len(codec.TokenPrefix)
			for end < len(s) && isBase64URL(s[end]) {
				end++
			}
			if !yield(start, end) {
				return
			}
			i = end
		}
	}
}

// plainText replaces each token in text that is not JSON.
func (d *Decryptor) plainText(ctx context.Context, s []byte) ([]byte, []Failure) {
	sp := jsontape.NewSplicer(nil, s, 0)
	var fails []Failure
	for start, end := range TokenRuns(s) {
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
func (d *Decryptor) token(ctx context.Context, tok []byte) ([]byte, []Failure) {
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

// Truncated decrypts the tokens in s, the start of JSON text that Step
// Functions cut off to fit a size limit (a field whose <field>Details object
// says "truncated"), and returns the new text (s itself if nothing changed)
// and the tokens left in place. As JSON text that ends early cannot be parsed,
// tokens are found by their prefix: a token that is a whole JSON string is
// replaced by the JSON text of its value, at any level of JSON text held in
// strings (its quotes escaped as that level escapes them, and the value
// escaped alike). A token cut off by the end of s, or inside other text,
// stays as it is and is reported as a failure wrapping ErrTruncated.
func (d *Decryptor) Truncated(ctx context.Context, s []byte) ([]byte, []Failure) {
	sp := jsontape.NewSplicer(nil, s, 0)
	var fails []Failure
	for start, end := range TokenRuns(s) {
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
			fails = append(fails, Failure{Token: string(tok), Err: fmt.Errorf("%w: cut off", ErrTruncated)})
			continue
		default:
			fails = append(fails, Failure{Token: string(tok), Err: fmt.Errorf("%w: inside other text", ErrTruncated)})
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

// tokensByPointer maps the JSON Pointer of each string in doc that claims to
// be a token to its text.
func tokensByPointer(doc []byte) map[string]string {
	m := map[string]string{}
	fd, err := jsontape.Scan(doc, Limits)
	if err != nil {
		return m
	}
	defer fd.Release()
	var buf []byte
	for n := 0; n < fd.Len(); n++ {
		if fd.Kind(n) != jsontape.String {
			continue
		}
		if buf = fd.AppendString(buf[:0], n); bytes.HasPrefix(buf, []byte(codec.TokenPrefix)) {
			m[fd.Pointer(n)] = string(buf)
		}
	}
	return m
}

// mayHoldToken reports whether s may hold a token: the prefix, or a \u
// escape that might spell it inside JSON text.
func mayHoldToken(s []byte) bool {
	return bytes.Contains(s, []byte(codec.TokenPrefix)) || bytes.Contains(s, []byte(`\u`))
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Describe is the one-line description of a failure for diagnostics, as
// "<where>, class <c>: <reason> (<detail>)". It holds no value.
func (f Failure) Describe() string {
	s := f.Where()
	if f.Class != "" {
		s += ", class " + f.Class
	}
	s += ": " + f.Reason()
	if f.Err != nil {
		s += " (" + f.detail() + ")"
	}
	return s
}

// detail is the error's text without the reason's own words at its start.
func (f Failure) detail() string {
	return strings.TrimPrefix(f.Err.Error(), f.Reason()+": ")
}

// requestID matches the request id in an AWS SDK error message, which
// differs between requests that failed for one cause.
var requestID = regexp.MustCompile(`RequestID: [^,]*, `)

// Cause says why the token failed, without where: its class, the reason and
// the error (less the AWS request id), so that failures of one cause have
// one Cause.
func (f Failure) Cause() string {
	s := f.Reason()
	if f.Class != "" {
		s = "class " + f.Class + ": " + s
	}
	if f.Err != nil {
		// The error may open with the reason's own words: say them once.
		s += " (" + requestID.ReplaceAllString(f.detail(), "") + ")"
	}
	return s
}

// NoCredentials reports whether the token failed because no AWS
// credentials were found to call KMS: a configuration problem.
func (f Failure) NoCredentials() bool { return errors.Is(f.Err, envelope.ErrNoCredentials) }
