//go:build goexperiment.jsonv2

package jsontape

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"io"
	"testing"
)

func init() {
	scanOps = append(scanOps, scanOp{"jsontext-walk", newJSONTextWalk})
}

// newJSONTextWalk returns a walk of a document with a jsontext.Decoder that
// does the work of Scan as far as jsontext allows: it reads every token,
// with jsontext's checks (grammar, UTF-8, duplicate names, which it finds
// with a name set per object), bounds the depth as Scan does, and records
// per token its kind, depth and offset, as Scan records a node per value.
// It does not keep the parent and the name of each value, which a tape has
// and the codec needs.
func newJSONTextWalk() func([]byte) error {
	type rec struct {
		kind  jsontext.Kind
		depth int32
		off   int64
	}
	var (
		r    bytes.Reader
		dec  = jsontext.NewDecoder(&r)
		recs []rec
	)
	return func(src []byte) error {
		r.Reset(src)
		dec.Reset(&r)
		recs = recs[:0]
		done := false // the top-level value is complete
		for {
			off := dec.InputOffset()
			tok, err := dec.ReadToken()
			if err == io.EOF {
				if len(recs) == 0 {
					return io.ErrUnexpectedEOF
				}
				return nil
			}
			if err != nil {
				return err
			}
			depth := dec.StackDepth()
			if depth > DefaultMaxDepth+1 {
				return ErrTooDeep
			}
			if done {
				return fmt.Errorf("data after the top-level value at offset %d", off)
			}
			done = depth == 0
			recs = append(recs, rec{tok.Kind(), int32(depth), off})
		}
	}
}

// TestJSONTextWalk checks that the walk BenchmarkScan times refuses what
// Scan refuses among the seed documents, so that it does comparable work.
func TestJSONTextWalk(t *testing.T) {
	walk := newJSONTextWalk()
	for _, src := range scanSeeds(t) {
		scanErr, walkErr := Valid(src, Limits{}), walk(src)
		if (scanErr == nil) != (walkErr == nil) {
			t.Errorf("%.40q: Scan says %v, the jsontext walk %v", src, scanErr, walkErr)
		}
	}
	for _, src := range []string{`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, "[\"\xff\"]", `["\ud800"]`, `[1] [2]`, ``, `[1,]`} {
		if walk([]byte(src)) == nil {
			t.Errorf("%q: the jsontext walk accepts it", src)
		}
	}
	if err := walk([]byte(`{"a":[1,{"b":null}],"c":"\u00e9"}`)); err != nil {
		t.Errorf("the jsontext walk refuses a valid document: %v", err)
	}
	deep := func(n int) []byte { return append(bytes.Repeat([]byte("["), n), bytes.Repeat([]byte("]"), n)...) }
	if err := walk(deep(DefaultMaxDepth + 1)); err != nil {
		t.Errorf("the jsontext walk refuses %d nested arrays: %v", DefaultMaxDepth+1, err)
	}
	if err := walk(deep(DefaultMaxDepth + 2)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("the jsontext walk on %d nested arrays: %v, want ErrTooDeep", DefaultMaxDepth+2, err)
	}
	if err := Valid(deep(DefaultMaxDepth+2), Limits{}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("Valid on %d nested arrays: %v, want ErrTooDeep", DefaultMaxDepth+2, err)
	}
}
