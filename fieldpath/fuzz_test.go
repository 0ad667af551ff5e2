package fieldpath

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/theory/jsonpath"

	"github.com/sfnenc/sfnenc/internal/jsonpathcts"
	"github.com/sfnenc/sfnenc/jsontape"
)

// scanSeeds returns the documents that seed the scanner's fuzz target
// (jsontape/testdata/scan), failing if there are none.
func scanSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "jsontape", "testdata", "scan", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no seed documents match ../jsontape/testdata/scan/*.json (%v)", err)
	}
	var docs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, data)
	}
	return docs
}

// FuzzSelect compares Select with the query library's own evaluation on the
// document decoded by encoding/json.
func FuzzSelect(f *testing.F) {
	docs := scanSeeds(f)
	sf, err := os.Open(filepath.Join("testdata", "selectors.txt"))
	if err != nil {
		f.Fatal(err)
	}
	var exprs []string
	for sc := bufio.NewScanner(sf); sc.Scan(); {
		if line := sc.Text(); line != "" {
			exprs = append(exprs, line)
		}
	}
	sf.Close()
	if len(exprs) == 0 {
		f.Fatal("no seed selectors in testdata/selectors.txt")
	}
	for _, doc := range docs {
		for _, e := range exprs {
			f.Add(e, doc)
		}
	}
	// The suite seeds more, where it is present (see package jsonpathcts).
	if data, err := jsonpathcts.ReadIfPresent(); err == nil {
		for _, tc := range parseCTS(f, data) {
			f.Add(tc.Selector, []byte(tc.Document))
		}
	}
	f.Fuzz(func(t *testing.T, expr string, doc []byte) {
		sel, err := Parse(expr)
		refErr := refParse(expr)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("Parse(%q) = %v, the query library says %v", expr, err, refErr)
		}
		if err != nil {
			if !errors.Is(err, ErrSelector) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping ErrSelector", expr, err)
			}
			return
		}
		// The library evaluates descendant segments on node lists with
		// repeats, which grows as a power of the document size.
		if len(doc) > 2048 || strings.Count(expr, "..") > 2 {
			return
		}
		d, err := jsontape.Scan(doc, jsontape.Limits{})
		if err != nil {
			return
		}
		defer d.Release()
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return // e.g. numbers beyond the float64 range
		}
		matches, err := Select(d, []*Selector{sel})
		if err != nil {
			// Only a query the library cannot evaluate on this document
			// may fail, and then the library itself must fail on it.
			if !errors.Is(err, ErrEvaluation) || !refPanics(expr, v) {
				t.Fatalf("Select(%q) = %v", expr, err)
			}
			return
		}
		var got []string
		for _, m := range matches {
			if m.Selector != 0 {
				t.Fatalf("match %+v: want selector 0", m)
			}
			got = append(got, d.Pointer(m.Node))
		}
		slices.Sort(got)
		if diff := cmp.Diff(refSelect(t, expr, doc), got); diff != "" {
			t.Fatalf("Select(%q) differs from the query library (-want +got):\n%s", expr, diff)
		}
	})
}

// refParse parses expr with the query library, turning a panic into an error.
func refParse(expr string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	_, err = jsonpath.Parse(expr)
	return err
}

// refPanics reports whether the query library panics evaluating expr on v.
func refPanics(expr string, v any) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	jsonpath.MustParse(expr).SelectLocated(v)
	return false
}
