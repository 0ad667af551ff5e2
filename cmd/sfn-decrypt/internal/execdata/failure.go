package execdata

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"strings"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
)

// ErrTruncated is wrapped by the error of a Failure for a token in data that
// Step Functions truncated: cut off by the end of the data, or inside text
// whose JSON structure is lost with its end.
var ErrTruncated = errors.New("execdata: token in data truncated by Step Functions")

// Failure is a token that was left in place because it could not be
// decrypted. It names where the token is and why, never a value.
type Failure struct {
	// ExecutionARN, EventID and EventType name the event that holds the
	// token, where the reader knows them (ExecutionARN is "" when the
	// source holds one execution, EventType "" outside events).
	ExecutionARN string
	EventID      int64
	EventType    string
	// Record names the record that holds the token where it is not an
	// event, such as "SUCCEEDED_0.json[3]" for a record of a Distributed
	// Map's results; "" otherwise.
	Record string
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
	return f.event() + f.where()
}

// event names the event of the failure, with a space after, or is "".
func (f Failure) event() string {
	s := ""
	if f.Record != "" {
		s = f.Record + " "
	}
	if f.ExecutionARN != "" {
		s += f.ExecutionARN + " "
	}
	if f.EventType != "" {
		s += fmt.Sprintf("event %d (%s) ", f.EventID, f.EventType)
	}
	return s
}

// where is the token's position in its event.
func (f Failure) where() string {
	w := f.Field
	if w == "" {
		w = "(value)"
	}
	if f.Pointer != "" {
		w += " at " + f.Pointer
	}
	return w
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

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
