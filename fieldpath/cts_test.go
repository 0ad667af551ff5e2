package fieldpath

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/internal/jsonpathcts"
	"github.com/sfnenc/sfnenc/jsontape"
)

type ctsCase struct {
	Name            string          `json:"name"`
	Selector        string          `json:"selector"`
	Document        json.RawMessage `json:"document"` // raw, so number spelling survives
	ResultPaths     []string        `json:"result_paths"`
	ResultsPaths    [][]string      `json:"results_paths"`
	InvalidSelector bool            `json:"invalid_selector"`
}

// loadCTS reads the compliance suite (see package jsonpathcts), skipping
// tb if it is missing outside CI.
func loadCTS(tb testing.TB) []ctsCase {
	tb.Helper()
	return parseCTS(tb, jsonpathcts.Read(tb))
}

func parseCTS(tb testing.TB, data []byte) []ctsCase {
	tb.Helper()
	var suite struct {
		Tests []ctsCase `json:"tests"`
	}
	if err := json.Unmarshal(data, &suite); err != nil {
		tb.Fatal(err)
	}
	return suite.Tests
}

// outermostPaths drops every normalized path of which another path in paths
// is a strict prefix by segments, and sorts the rest. A normalized path reads
// left to right without lookahead, so a complete path that is a string prefix
// of another, followed there by '[', is a prefix by segments.
func outermostPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		inner := false
		for _, q := range paths {
			if len(q) < len(p) && strings.HasPrefix(p, q) && p[len(q)] == '[' {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestCompliance(t *testing.T) {
	cases := loadCTS(t)
	var passed, failed, rejected int
	for _, tc := range cases {
		ok := t.Run(tc.Name, func(t *testing.T) {
			sel, err := Parse(tc.Selector)
			if tc.InvalidSelector {
				if !errors.Is(err, ErrSelector) {
					t.Fatalf("Parse(%q) = %v, want an error wrapping ErrSelector", tc.Selector, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.Selector, err)
			}
			d, err := jsontape.Scan(tc.Document, jsontape.Limits{})
			if err != nil {
				// Reported separately: a document the scanner refuses
				// must be refused for a reason of its own, not skipped.
				rejected++
				t.Fatalf("Scan rejected the document: %v", err)
			}
			defer d.Release()
			var got []string
			matches, err := Select(d, []*Selector{sel})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range matches {
				if m.Selector != 0 {
					t.Errorf("match %+v: selector index, want 0", m)
				}
				got = append(got, d.NormalizedPath(m.Node))
			}
			got = outermostPaths(got)
			alternatives := tc.ResultsPaths
			if tc.ResultPaths != nil || alternatives == nil {
				alternatives = [][]string{tc.ResultPaths}
			}
			var diff string
			for _, want := range alternatives {
				if diff = cmp.Diff(outermostPaths(want), got); diff == "" {
					return
				}
			}
			t.Errorf("Select(%q) mismatch (-want +got):\n%s", tc.Selector, diff)
		})
		if ok {
			passed++
		} else {
			failed++
		}
	}
	t.Logf("RFC 9535 compliance suite: %d of %d cases passed, %d failed, %d documents rejected by Scan",
		passed, len(cases), failed, rejected)
}

// TestWidenedCoversFiltered: on every case of the compliance suite whose
// selector has a filter, every node the query selects is selected by its
// widened query too (or lies inside one that is): whatever the filtered
// values say, the widened query covers what the filter could choose.
func TestWidenedCoversFiltered(t *testing.T) {
	n := 0
	for _, tc := range loadCTS(t) {
		sel, err := Parse(tc.Selector)
		if err != nil || !sel.HasFilter() {
			continue
		}
		d, err := jsontape.Scan(tc.Document, jsontape.Limits{})
		if err != nil {
			continue
		}
		exact, err := Select(d, []*Selector{sel})
		if err != nil {
			t.Fatal(err)
		}
		wide, err := Select(d, []*Selector{sel.Widened()})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range exact {
			if !slices.ContainsFunc(wide, func(w Match) bool { return w.Node <= m.Node && m.Node < d.End(w.Node) }) {
				t.Errorf("%s: %s selects %s, its widened query does not", tc.Name, tc.Selector, d.NormalizedPath(m.Node))
			}
		}
		d.Release()
		n++
	}
	t.Logf("%d cases with filters", n)
}
