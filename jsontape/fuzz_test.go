package jsontape

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unicode/utf8"
)

// scanSeeds returns the documents in testdata/scan, failing if there are none.
func scanSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "scan", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no seed documents match testdata/scan/*.json (%v)", err)
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

// FuzzScan compares Scan with encoding/json: what Scan accepts is valid JSON,
// and valid UTF-8 JSON without duplicate names or surrogate escapes, within
// the default limits, is accepted. It also checks the tape against the
// decoded document.
func FuzzScan(f *testing.F) {
	for _, doc := range scanSeeds(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Scan(data, Limits{})
		valid := json.Valid(data)
		if err == nil {
			defer d.Release()
			if !valid {
				t.Fatalf("Scan accepted input that encoding/json rejects")
			}
			checkTape(t, d, data)
			return
		}
		var de *DocumentError
		if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) {
			t.Fatalf("Scan error %#v: want a *DocumentError with an offset in the input", err)
		}
		// encoding/json accepts lone surrogate escapes (it decodes them to
		// U+FFFD), so inputs that may hold one say nothing here.
		if !valid || !utf8.Valid(data) || surrogateEscape.Match(data) {
			return
		}
		dup, depth, ok := inspect(data)
		if !ok {
			t.Fatalf("encoding/json.Valid accepted input its decoder rejects")
		}
		if dup || depth > DefaultMaxDepth {
			if !errors.Is(err, ErrDuplicateName) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("Scan error %v, want duplicate name or too deep", err)
			}
			return
		}
		t.Fatalf("Scan rejected valid JSON: %v", err)
	})
}

var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// inspect decodes data and reports whether an object has a repeated name and
// the depth of the deepest value (the root is at depth 0).
func inspect(data []byte) (dup bool, depth int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		names   map[string]bool
		wantKey bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return dup, depth, true
		}
		if err != nil {
			return false, 0, false
		}
		if delim, isDelim := tok.(json.Delim); isDelim && (delim == '}' || delim == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].wantKey {
			top := &stack[len(stack)-1]
			name := tok.(string)
			dup = dup || top.names[name]
			top.names[name], top.wantKey = true, false
			continue
		}
		depth = max(depth, len(stack))
		if delim, isDelim := tok.(json.Delim); isDelim {
			stack = append(stack, frame{object: delim == '{', names: map[string]bool{}, wantKey: true})
			continue
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// checkTape checks every node of d against encoding/json.
func checkTape(t *testing.T, d *Document, data []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if want := countValues(v); d.Len() != want {
		t.Fatalf("tape has %d nodes, document has %d values", d.Len(), want)
	}
	kinds := map[byte]Kind{'n': Null, 'f': False, 't': True, '"': String, '{': Object, '[': Array}
	pointers := map[string]bool{}
	for n := range d.Len() {
		start, end := d.Raw(n)
		raw := data[start:end]
		if !json.Valid(raw) {
			t.Fatalf("node %d: raw bytes are not a JSON value", n)
		}
		want, ok := kinds[raw[0]]
		if !ok {
			want = Number
		}
		if d.Kind(n) != want {
			t.Fatalf("node %d: kind %v, want %v", n, d.Kind(n), want)
		}
		if p := d.Parent(n); p >= n || (n > 0 && p < 0) || (n == 0 && p != -1) {
			t.Fatalf("node %d: parent %d", n, p)
		}
		if ptr := d.Pointer(n); pointers[ptr] {
			t.Fatalf("node %d: pointer %q repeated", n, ptr)
		} else {
			pointers[ptr] = true
		}
		if d.IsMember(n) {
			name := d.AppendName(nil, n)
			if !d.NameIs(n, string(name)) || d.NameIs(n, string(name)+"x") {
				t.Fatalf("node %d: NameIs disagrees with AppendName", n)
			}
		}
		if d.Kind(n) == String {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			if got := string(d.AppendString(nil, n)); got != s {
				t.Fatalf("node %d: AppendString differs from encoding/json", n)
			}
			for _, l := range []int{0, 1, len(s) / 2, len(s)} {
				if l <= len(s) && d.NextWithPrefix(n, s[:l]) != n {
					t.Fatalf("node %d: NextWithPrefix misses a prefix of %d bytes", n, l)
				}
			}
			if d.NextWithPrefix(n, s+"x") == n {
				t.Fatalf("node %d: NextWithPrefix finds a prefix longer than the string", n)
			}
		}
	}
}

func countValues(v any) int {
	n := 1
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			n += countValues(e)
		}
	case map[string]any:
		for _, e := range v {
			n += countValues(e)
		}
	}
	return n
}

// FuzzSplitter compares the Splitter with Scan: an input the Splitter
// reads as an array, to its end, is a document Scan accepts with as many
// elements, each the record's bytes; and a document Scan accepts that is an
// array is read whole by the Splitter, element for element.
func FuzzSplitter(f *testing.F) {
	for _, doc := range scanSeeds(f) {
		f.Add(doc)
	}
	f.Add([]byte(`[{"a":"],\"["}, [1,[2]], "x"]`))
	f.Add([]byte("{\"a\":1}\n[2]\n\"s\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewSplitter(bytes.NewReader(data), Limits{})
		var recs [][]byte
		var err error
		for len(recs) <= len(data)+1 {
			var d *Document
			if d, err = s.Next(); err != nil {
				break
			}
			recs = append(recs, bytes.Clone(d.Source()))
			d.Release()
		}
		whole, serr := Scan(data, Limits{})
		if serr == nil {
			defer whole.Release()
		}
		isArray := serr == nil && whole.Kind(0) == Array
		if err == io.EOF && s.Framing() == ArrayFraming {
			if !isArray {
				t.Fatalf("the Splitter read %d records of an input Scan refuses as an array (%v)", len(recs), serr)
			}
		}
		if !isArray {
			return
		}
		if err != io.EOF {
			t.Fatalf("the Splitter failed on an array Scan accepts: %v", err)
		}
		if whole.Count(0) != len(recs) {
			t.Fatalf("%d records, Scan counts %d elements", len(recs), whole.Count(0))
		}
		for i, n := 0, 1; n < whole.End(0); i, n = i+1, whole.End(n) {
			start, end := whole.Raw(n)
			if !bytes.Equal(recs[i], data[start:end]) {
				t.Fatalf("record %d is %q, the element %q", i, recs[i], data[start:end])
			}
		}
	})
}
