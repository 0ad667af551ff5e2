package jsontape

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sfnenc/sfnenc/internal/benchdoc"
)

// scanOp is one way of reading a whole document that BenchmarkScan times.
type scanOp struct {
	name string
	// new returns the function to time; it may keep buffers between
	// calls, as a caller that reads many documents would.
	new func() func(src []byte) error
}

// scanOps are the operations BenchmarkScan compares. Built with
// GOEXPERIMENT=jsonv2, jsontext_test.go adds a walk with
// encoding/json/jsontext.
var scanOps = []scanOp{
	{"jsontape-scan", func() func([]byte) error {
		return func(src []byte) error {
			d, err := Scan(src, Limits{})
			if err != nil {
				return err
			}
			d.Release()
			return nil
		}
	}},
	{"json-valid", func() func([]byte) error {
		return func(src []byte) error {
			if !json.Valid(src) {
				return errors.New("invalid JSON")
			}
			return nil
		}
	}},
}

// BenchmarkScan builds the tape of the codec's benchmark documents
// (internal/benchdoc) next to encoding/json.Valid on the same bytes:
//
//	GOEXPERIMENT=jsonv2 go test -run '^$' -bench 'BenchmarkScan$/doc=large/' -benchmem -count 8 ./jsontape
func BenchmarkScan(b *testing.B) {
	for _, d := range benchdoc.All() {
		if d.Name == "large-object" {
			continue // the bytes of "large"
		}
		for _, op := range scanOps {
			b.Run("doc="+d.Name+"/op="+op.name, func(b *testing.B) {
				run := op.new()
				b.SetBytes(int64(len(d.JSON)))
				b.ReportAllocs()
				for b.Loop() {
					if err := run(d.JSON); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
