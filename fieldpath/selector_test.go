package fieldpath

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/sfnenc/sfnenc/jsontape"

	"github.com/google/go-cmp/cmp"
	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

const storeDoc = `{
  "store": {
    "book": [
      {"category": "reference", "author": "Nigel", "price": 8.95, "isbn": null},
      {"category": "fiction", "author": "Evelyn", "price": 12.99, "tags": ["a", "b"]},
      {"category": "fiction", "author": "Herman", "price": 8.99, "isbn": "0-553"},
      {"category": "fiction", "author": "Tolkien", "price": 22.99, "isbn": "0-395"}
    ],
    "bicycle": {"color": "red", "price": 399}
  },
  "records": [
    {"ssn": "s0", "phone": ["p0"], "address": {"city": "c0", "ssn": "inner"}},
    {"ssn": "s1", "phone": [], "address": {"city": "c1"}}
  ],
  "esc\u0061ped": 1,
  "a/b~": [10, 1.0, 1e0, 100e-2, 2]
}`

// refSelect runs expr with the query library on doc decoded by encoding/json
// and returns the JSON Pointers of the outermost selected nodes, sorted.
func refSelect(tb testing.TB, expr string, doc []byte) []string {
	tb.Helper()
	p, err := jsonpath.Parse(expr)
	if err != nil {
		tb.Fatalf("jsonpath.Parse(%q): %v", expr, err)
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		tb.Fatalf("json.Unmarshal: %v", err)
	}
	var paths []spec.NormalizedPath
	for _, ln := range p.SelectLocated(v) {
		paths = append(paths, ln.Path)
	}
	return outermostPointers(paths)
}

func outermostPointers(paths []spec.NormalizedPath) []string {
	var out []string
	for _, p := range paths {
		inner := false
		for _, q := range paths {
			if len(q) < len(p) && slices.Equal(q, p[:len(q)]) {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, p.Pointer())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type pointerMatch struct {
	Pointer  string
	Selector int
}

func selectPointers(tb testing.TB, d *jsontape.Document, exprs ...string) []pointerMatch {
	tb.Helper()
	var sels []*Selector
	for _, e := range exprs {
		s, err := Parse(e)
		if err != nil {
			tb.Fatalf("Parse(%q): %v", e, err)
		}
		sels = append(sels, s)
	}
	var got []pointerMatch
	matches, err := Select(d, sels)
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range matches {
		got = append(got, pointerMatch{d.Pointer(m.Node), m.Selector})
	}
	return got
}

func TestSelect(t *testing.T) {
	d, err := jsontape.Scan([]byte(storeDoc), jsontape.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	type pm = pointerMatch
	tests := []struct {
		name string
		sels []string
		want []pm
	}{
		{"root", []string{"$"}, []pm{{"", 0}}},
		{"all, outermost", []string{"$..*"}, []pm{{"/store", 0}, {"/records", 0}, {"/escaped", 0}, {"/a~1b~0", 0}}},
		{"root children", []string{"$.*"}, []pm{{"/store", 0}, {"/records", 0}, {"/escaped", 0}, {"/a~1b~0", 0}}},
		{"descendant name", []string{"$..price"}, []pm{
			{"/store/book/0/price", 0}, {"/store/book/1/price", 0}, {"/store/book/2/price", 0},
			{"/store/book/3/price", 0}, {"/store/bicycle/price", 0},
		}},
		{"descendant name at two depths", []string{"$..ssn"}, []pm{
			{"/records/0/ssn", 0}, {"/records/0/address/ssn", 0}, {"/records/1/ssn", 0},
		}},
		{"negative index", []string{"$.store.book[-1].author"}, []pm{{"/store/book/3/author", 0}}},
		{"index out of range", []string{"$.store.book[4]", "$.store.book[-5]"}, nil},
		{"slice", []string{"$.store.book[1:3]"}, []pm{{"/store/book/1", 0}, {"/store/book/2", 0}}},
		{"negative step", []string{"$.store.book[::-2]"}, []pm{{"/store/book/1", 0}, {"/store/book/3", 0}}},
		{"negative step bounds", []string{"$.store.book[2:0:-1]"}, []pm{{"/store/book/1", 0}, {"/store/book/2", 0}}},
		{"zero step", []string{"$.store.book[::0]"}, nil},
		{"repeated indexes", []string{"$.store.book[0,0,-4]"}, []pm{{"/store/book/0", 0}}},
		{"union of names", []string{"$.store['bicycle','book'][0]"}, []pm{{"/store/book/0", 0}}},
		{"wildcard then name", []string{"$.records[*].address"}, []pm{{"/records/0/address", 0}, {"/records/1/address", 0}}},
		{"descendant index", []string{"$..[0]"}, []pm{
			{"/store/book/0", 0}, {"/store/book/1/tags/0", 0}, {"/records/0", 0}, {"/a~1b~0/0", 0},
		}},
		{"descendant wildcard below", []string{"$.records..*"}, []pm{{"/records/0", 0}, {"/records/1", 0}}},
		{"nested descendants", []string{"$..records..city"}, []pm{{"/records/0/address/city", 0}, {"/records/1/address/city", 0}}},
		{"escaped name in document", []string{"$.escaped"}, []pm{{"/escaped", 0}}},
		{"name with slash and tilde", []string{"$['a/b~'][4]"}, []pm{{"/a~1b~0/4", 0}}},
		{"no match", []string{"$.nope", "$[0]", "$.store.book.author"}, nil},
		{"ancestor from a later selector", []string{"$..ssn", "$.records[*].address"}, []pm{
			{"/records/0/ssn", 0}, {"/records/0/address", 1}, {"/records/1/ssn", 0}, {"/records/1/address", 1},
		}},
		{"lowest selector index", []string{"$..ssn", "$.records[0].ssn"}, []pm{
			{"/records/0/ssn", 0}, {"/records/0/address/ssn", 0}, {"/records/1/ssn", 0},
		}},
		{"lowest selector index, reversed", []string{"$.records[0].ssn", "$..ssn"}, []pm{
			{"/records/0/ssn", 0}, {"/records/0/address/ssn", 1}, {"/records/1/ssn", 1},
		}},
		{"whole object beats parts", []string{"$.store.book[*]", "$.store"}, []pm{{"/store", 1}}},
		{"filter", []string{"$.store.book[?@.price < 10].author"}, []pm{{"/store/book/0/author", 0}, {"/store/book/2/author", 0}}},
		{"filter existence", []string{"$.store.book[?@.isbn]"}, []pm{{"/store/book/0", 0}, {"/store/book/2", 0}, {"/store/book/3", 0}}},
		{"filter compares numbers by value", []string{"$['a/b~'][?@ == 1]"}, []pm{{"/a~1b~0/1", 0}, {"/a~1b~0/2", 0}, {"/a~1b~0/3", 0}}},
		{"filter on descendants", []string{"$..[?@.city == 'c1']"}, []pm{{"/records/1/address", 0}}},
		{"filter with root", []string{"$.store.book[?@.price > $.store.book[1].price].category"}, []pm{{"/store/book/3/category", 0}}},
		{"filter function", []string{"$..book[?length(@.author) == 6]"}, []pm{{"/store/book/1", 0}, {"/store/book/2", 0}}},
		{"filter and tape selectors mixed", []string{"$..phone", "$.records[?@.ssn == 's0']"}, []pm{
			{"/records/0", 1}, {"/records/1/phone", 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := selectPointers(t, d, tt.sels...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Select(%q) mismatch (-want +got):\n%s", tt.sels, diff)
			}
			if len(tt.sels) != 1 {
				return
			}
			// A single query must agree with the query library.
			var gotPtrs []string
			for _, m := range got {
				gotPtrs = append(gotPtrs, m.Pointer)
			}
			slices.Sort(gotPtrs)
			if diff := cmp.Diff(refSelect(t, tt.sels[0], []byte(storeDoc)), gotPtrs); diff != "" {
				t.Errorf("Select(%q) differs from the query library (-want +got):\n%s", tt.sels[0], diff)
			}
		})
	}
}

func TestSelectEscapedNames(t *testing.T) {
	// Member names are compared after unescaping, in both directions.
	d, err := jsontape.Scan([]byte(`{"\u00e9t\u00e9":1,"été2":2,"q\"":3,"\ud83d\ude00":4,"tab\t":5}`), jsontape.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	got := selectPointers(t, d, `$['été']`, `$.été2`, `$['q"']`, `$['😀']`, `$['tab\t']`, `$['\u00e9t\u00e9']`)
	want := []pointerMatch{{"/été", 0}, {"/été2", 1}, {`/q"`, 2}, {"/😀", 3}, {"/tab\t", 4}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Select mismatch (-want +got):\n%s", diff)
	}
}

func TestSelectLargeNumbers(t *testing.T) {
	// Filters see numbers as float64; beyond its range they are ±Inf.
	d, err := jsontape.Scan([]byte(`[1e400, -1e400, 9007199254740993, 5]`), jsontape.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	got := selectPointers(t, d, `$[?@ > 1e300]`, `$[?@ == 9007199254740992]`, `$[?@ < -1e300]`)
	want := []pointerMatch{{"/0", 0}, {"/1", 2}, {"/2", 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Select mismatch (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	for _, expr := range []string{"$", "$.a", "$..*", "$['a','b'][1:-1:2]", "$[?@.a == 1 && length(@.b) > 2]"} {
		s, err := Parse(expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
			continue
		}
		if s.String() != expr {
			t.Errorf("Parse(%q).String() = %q", expr, s.String())
		}
	}
	for _, expr := range []string{"", " $", "$ ", "a", "$.", "$[", "$['a'", "$[?@.a ==]", "$[01]", "$[9007199254740992]", "$..", "@.a", "$[?foo(@)]"} {
		s, err := Parse(expr)
		if !errors.Is(err, ErrSelector) {
			t.Errorf("Parse(%q) = %v, %v; want an error wrapping ErrSelector", expr, s, err)
		}
	}
}

// TestSelectEvaluationFailure: the query library panics evaluating match()
// whose pattern argument selects nothing (found by FuzzSelect). Select
// reports ErrEvaluation instead of crashing or selecting nothing.
func TestSelectEvaluationFailure(t *testing.T) {
	d, err := jsontape.Scan([]byte(`{"":"","a":"x"}`), jsontape.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	sel, err := Parse(`$[?match(@,$.A)]`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := Parse(`$.a`)
	if err != nil {
		t.Fatal(err)
	}
	matches, err := Select(d, []*Selector{ok, sel})
	if !errors.Is(err, ErrEvaluation) || matches != nil {
		t.Errorf("Select = %v, %v; want no matches and ErrEvaluation", matches, err)
	}
}

func TestSelectorNames(t *testing.T) {
	s, err := Parse(`$..phoneNumber['e-mail',0].x[*]`)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Names()
	want := []string{"phoneNumber", "e-mail", "x"}
	if len(got) != len(want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Names() = %q, want %q", got, want)
		}
	}
}

// TestWidened: a filter becomes a wildcard in the widened query, so what the
// filtered values say no longer decides what is selected.
func TestWidened(t *testing.T) {
	doc := `{"applicants":[{"role":"primary","ssn":"1"},{"role":"Primary","ssn":"2"},{"role":"co","ssn":null}],"x":{"ssn":"3"}}`
	for _, tc := range []struct {
		sel        string
		exact, all []string
	}{
		{"$.applicants[?@.role=='primary'].ssn", []string{"$['applicants'][0]['ssn']"},
			[]string{"$['applicants'][0]['ssn']", "$['applicants'][1]['ssn']", "$['applicants'][2]['ssn']"}},
		{"$..[?@.role=='co'].ssn", []string{"$['applicants'][2]['ssn']"},
			[]string{"$['applicants'][0]['ssn']", "$['applicants'][1]['ssn']", "$['applicants'][2]['ssn']", "$['x']['ssn']"}},
		{"$.x.ssn", []string{"$['x']['ssn']"}, []string{"$['x']['ssn']"}},
	} {
		sel, err := Parse(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		d, err := jsontape.Scan([]byte(doc), jsontape.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		paths := func(s *Selector) []string {
			ms, err := Select(d, []*Selector{s})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range ms {
				out = append(out, d.NormalizedPath(m.Node))
			}
			return out
		}
		if diff := cmp.Diff(tc.exact, paths(sel)); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", tc.sel, diff)
		}
		if diff := cmp.Diff(tc.all, paths(sel.Widened())); diff != "" {
			t.Errorf("%s widened mismatch (-want +got):\n%s", tc.sel, diff)
		}
		if sel.Widened().String() != tc.sel {
			t.Errorf("Widened().String() = %q", sel.Widened().String())
		}
		d.Release()
	}
}
