package codec

import (
	"context"
	"strings"

	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// Op says what a call did with one value or token.
type Op uint8

// What a call can do with a value or token.
const (
	// Decrypted: a token was replaced by its value.
	Decrypted Op = iota + 1
	// PassedThrough: a token was left as it is (a class not to be
	// decrypted, a path no rule of its class selects, or a selected value
	// that already was a token).
	PassedThrough
	// Made: a selected value was replaced by a new token.
	Made
	// Resealed: a value that a Scope decrypted was found again in the
	// result outside its path, and replaced by a new token.
	Resealed
	// Failed: a token could not be read or made; Err says why.
	Failed
	// GivenBack: a value that a Scope decrypted came back unchanged where
	// the result is sealed, and its original token was put back in its
	// place (no new token, no key service call).
	GivenBack
)

func (op Op) String() string {
	switch op {
	case Decrypted:
		return "decrypted"
	case PassedThrough:
		return "passedThrough"
	case Made:
		return "encrypted"
	case Resealed:
		return "resealed"
	case Failed:
		return "failed"
	case GivenBack:
		return "givenBack"
	}
	return "unknown"
}

// Event is one entry of a Report.
type Event struct {
	Op      Op
	Class   string // the class of the token ("" if it could not be parsed)
	Pointer string // RFC 6901 pointer; inside a decrypted value, the outermost token's
	Err     error  // for Failed
	// Token is, for a token that failed to decrypt, its text, which stays
	// in the output as it was: a caller that shows where tokens were left
	// (sfn-decrypt) need not scan the output again to find it. It holds
	// a wrapped data key: write it only where the output itself goes.
	Token string
}

// Report records what the calls given its context did: one Event per token
// decrypted, passed through, made or resealed, or failed, and the data-key
// cache's hits and misses. Callers ask the report instead of scanning the
// bytes again. A Report is not safe for concurrent use: give each call (or
// each goroutine) its own.
type Report struct {
	// CountsOnly leaves the Pointer of events empty: for callers that
	// only count (a log record), it saves computing them.
	CountsOnly bool
	Events     []Event
	// KeyHits and KeyMisses count the data keys (one per chunk of values
	// on encryption, one per token on decryption) found in the codec's
	// caches, and those that took a keyring call (or waited for one).
	KeyHits, KeyMisses int
}

// Count returns the number of events of op by class.
func (r *Report) Count(op Op) map[string]int {
	m := map[string]int{}
	for _, e := range r.Events {
		if e.Op == op {
			m[e.Class]++
		}
	}
	return m
}

type reportKey struct{}

// WithReport returns a context that makes the codec's calls record what they
// do in r.
func WithReport(ctx context.Context, r *Report) context.Context {
	return context.WithValue(ctx, reportKey{}, r)
}

func reportFrom(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// add records an event at node n of doc; a nil report records nothing and
// computes no pointer.
func (r *Report) add(op Op, class string, doc *jsontape.Document, n int, err error) {
	if r == nil {
		return
	}
	ptr := ""
	if !r.CountsOnly {
		ptr = doc.Pointer(n)
	}
	r.Events = append(r.Events, Event{Op: op, Class: class, Pointer: ptr, Err: err})
}

// failedToken records a token, text, that failed to decrypt.
func (r *Report) failedToken(terr *TokenError, text []byte) {
	if r == nil {
		return
	}
	r.Events = append(r.Events, Event{Op: Failed, Class: terr.Class, Pointer: terr.Pointer, Err: terr.Err, Token: string(text)})
}

func (r *Report) addAt(op Op, class, ptr string, err error) {
	if r == nil {
		return
	}
	r.Events = append(r.Events, Event{Op: op, Class: class, Pointer: ptr, Err: err})
}

func (r *Report) addPlace(op Op, class string, at place) {
	if r == nil {
		return
	}
	ptr := ""
	if !r.CountsOnly {
		ptr = at.pointer()
	}
	r.Events = append(r.Events, Event{Op: op, Class: class, Pointer: ptr})
}

func (r *Report) key(hit bool) {
	if r == nil {
		return
	}
	if hit {
		r.KeyHits++
	} else {
		r.KeyMisses++
	}
}

// TokenInfo is what a token says of itself without being decrypted.
type TokenInfo struct {
	Class  string
	Format string // "native" or "esdk", as in a rule's format; "keyset" for a keyset-mode token
	// Signed reports a token of a signed mode (a signed class's token;
	// not yet verified: only reading it does that).
	Signed bool
}

// TokenPrefix begins every token. Scanning text for it finds where tokens
// may be; IsToken and ParseToken say what they are.
const TokenPrefix = format.Prefix

// IsToken reports whether s claims to be a token: it begins with the token
// prefix. Such a string is never plain data: it must parse (ParseToken) and
// authenticate, or readers fail on it.
func IsToken(s string) bool { return format.IsToken([]byte(s)) }

// ParseToken parses the text of a token (without JSON quotes) and returns
// its class and format, without decrypting it. The error wraps
// ErrMalformedToken.
func ParseToken(s string) (TokenInfo, error) {
	tok, err := format.Decode([]byte(s), nil)
	if err != nil {
		return TokenInfo{}, &TokenError{Err: wrapMalformed(err)}
	}
	f := "native"
	switch tok.Mode {
	case format.ModeESDK:
		f = "esdk"
	case format.ModeKeyset, format.ModeSignedKeyset:
		f = "keyset"
	}
	return TokenInfo{Class: tok.Class, Format: f, Signed: tok.Mode.Signed()}, nil
}

// wrapMalformed turns a format error into one that wraps ErrMalformedToken
// without repeating its words.
func wrapMalformed(err error) error {
	return &malformed{err}
}

type malformed struct{ err error }

func (m *malformed) Error() string {
	if msg := m.err.Error(); strings.HasPrefix(msg, "malformed token") {
		return msg
	} else {
		return "malformed token: " + msg
	}
}
func (m *malformed) Unwrap() []error {
	return []error{ErrMalformedToken, m.err}
}
