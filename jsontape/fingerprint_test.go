package jsontape

import "testing"

func TestFingerprints(t *testing.T) {
	f := NewFingerprinter()
	root := func(s string) uint64 {
		t.Helper()
		d, err := Scan([]byte(s), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		return d.Fingerprints(f, nil)[0]
	}
	same := [][2]string{
		{`{"a":1,"b":"x"}`, ` { "b" : "x" , "a" : 1.0 } `},
		{`"Ada"`, `"\u0041da"`},
		{`[1,[2,{"k":null}]]`, `[1e0, [2, {"k": null}]]`},
		{`-0`, `0`},
		{`{"a":{"b":[true,false]}}`, `{"a":{"b":[true,false]}}`},
	}
	for _, p := range same {
		if root(p[0]) != root(p[1]) {
			t.Errorf("%s and %s: fingerprints differ", p[0], p[1])
		}
	}
	differ := [][2]string{
		{`{"a":1,"b":2}`, `{"a":2,"b":1}`},
		{`[1,2]`, `[2,1]`},
		{`"1"`, `1`},
		{`{"a":"b"}`, `{"b":"a"}`},
		{`true`, `false`},
		{`null`, `""`},
		{`[]`, `{}`},
		{`[[]]`, `[]`},
		{`{"a":[1]}`, `{"a":1}`},
		{`["a","b"]`, `["ab"]`},
	}
	for _, p := range differ {
		if root(p[0]) == root(p[1]) {
			t.Errorf("%s and %s: same fingerprint", p[0], p[1])
		}
	}
	// A node's fingerprint is the fingerprint of its value wherever it is.
	d, err := Scan([]byte(`{"x":{"name":"Ada","n":[1,2]},"y":[{"n":[1,2],"name":"Ada"}]}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	fp := d.Fingerprints(f, nil)
	if fp[1] != fp[7] {
		t.Errorf("equal nested objects: %x != %x", fp[1], fp[7])
	}
	if fp[1] != root(`{"n":[1,2],"name":"Ada"}`) {
		t.Error("nested object and the same object as a document differ")
	}
	if got, want := fp[2], f.String([]byte("Ada")); got != want {
		t.Errorf("String fingerprint %x, node %x", want, got)
	}
}
