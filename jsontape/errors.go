package jsontape

import (
	"errors"
	"fmt"
)

// Sentinel errors. Scan and Valid return them wrapped in a *DocumentError;
// test for them with errors.Is.
var (
	// ErrSyntax means the input is not a JSON text: a grammar error, data
	// after the top-level value, or empty input.
	ErrSyntax = errors.New("jsontape: invalid JSON")
	// ErrDuplicateName means an object has two members with the same name,
	// compared after unescaping.
	ErrDuplicateName = errors.New("jsontape: duplicate object member name")
	// ErrInvalidUTF8 means the input holds bytes that are not UTF-8, or a
	// \u escape that is a lone or misordered UTF-16 surrogate.
	ErrInvalidUTF8 = errors.New("jsontape: invalid UTF-8")
	// ErrTooDeep means a value is nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("jsontape: nesting too deep")
	// ErrTooLarge means the input is longer than Limits.MaxSize.
	ErrTooLarge = errors.New("jsontape: document too large")
)

// DocumentError reports where Scan rejected a document. Its message names the
// byte offset and the JSON Pointer of the value being read, never any text of
// the document's values.
type DocumentError struct {
	// Offset is the byte offset in the input of the offending byte (for
	// ErrTooLarge: the limit).
	Offset int
	// Pointer is the RFC 6901 JSON Pointer of the innermost value that was
	// being read ("" for the root). For ErrDuplicateName it points at the
	// second member with the name.
	Pointer string
	// Err wraps one of the sentinel errors, possibly with a reason.
	Err error
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("%v at offset %d (JSON pointer %q)", e.Err, e.Offset, e.Pointer)
}

// Unwrap returns the underlying error, which wraps a sentinel error.
func (e *DocumentError) Unwrap() error { return e.Err }
