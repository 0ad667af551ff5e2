package jsontape_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/jsontape"
)

func TestSplicer(t *testing.T) {
	src := []byte("0123456789")
	t.Run("nothing replaced returns the source", func(t *testing.T) {
		sp := jsontape.NewSplicer(nil, src, 0)
		if got := sp.Bytes(); &got[0] != &src[0] || sp.Spliced() {
			t.Errorf("Bytes() = %q (spliced %v), want the source itself", got, sp.Spliced())
		}
	})
	t.Run("nothing replaced with dst appends a copy", func(t *testing.T) {
		dst := []byte("x:")
		sp := jsontape.NewSplicer(dst, src, 0)
		if got := sp.Bytes(); string(got) != "x:0123456789" {
			t.Errorf("Bytes() = %q", got)
		}
	})
	t.Run("ranges in order", func(t *testing.T) {
		sp := jsontape.NewSplicer(nil, src, 0)
		sp.Put(0, 1, []byte("A"))
		sp.Put(3, 5, nil)
		out := sp.Cut(7, 8)
		if string(out) != "A1256" {
			t.Fatalf("Cut returned %q", out)
		}
		sp.Fill(append(out, "<7>"...))
		sp.Put(10, 10, []byte("!"))
		if diff := cmp.Diff("A1256<7>89!", string(sp.Bytes())); diff != "" || !sp.Spliced() {
			t.Errorf("Bytes() mismatch (-want +got):\n%s", diff)
		}
		if string(src) != "0123456789" {
			t.Errorf("the source changed: %q", src)
		}
	})
	t.Run("output never aliases the source", func(t *testing.T) {
		sp := jsontape.NewSplicer(nil, src, 0)
		sp.Put(9, 10, []byte("9"))
		out := sp.Bytes()
		out[0] = 'X'
		if src[0] != '0' {
			t.Error("writing the output changed the source")
		}
	})
}

func TestAppendQuoted(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "line\nbreak\r\ttab", "\x00\x1f\x7f", "é €\u2028 <&>"} {
		b := jsontape.AppendQuoted([]byte("x"), []byte(s))
		if b[0] != 'x' {
			t.Fatalf("AppendQuoted dropped dst: %s", b)
		}
		var got string
		if err := json.Unmarshal(b[1:], &got); err != nil {
			t.Fatalf("AppendQuoted(%q) = %s: %v", s, b, err)
		}
		if got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
		if bytes.Contains(b, []byte(`\u003c`)) {
			t.Errorf("AppendQuoted(%q) escapes HTML: %s", s, b)
		}
	}
}

func TestAppendSpliced(t *testing.T) {
	src := []byte(`{"a": "x", "b": ["y", 1, "z"], "c": "w"}`)
	doc, err := jsontape.Scan(src, jsontape.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Release()
	b := doc.Member(0, "b")
	edits := []jsontape.Edit{
		{Node: doc.Member(0, "a"), Text: []byte(`"quoted" \ text`)},
		{Node: b + 1, Text: []byte("Y")},
		{Node: b + 3, Text: []byte("\n")},
		{Node: doc.Member(0, "c"), Text: []byte("W")},
	}
	tests := []struct {
		name string
		dst  []byte
		n    int
		want string
	}{
		{"whole document", nil, 0, `{"a": "\"quoted\" \\ text", "b": ["Y", 1, "\n"], "c": "W"}`},
		// Only the edits inside the node apply; an edit that replaces a
		// string cannot end it early, whatever its text.
		{"one member", []byte("prefix "), b, `prefix ["Y", 1, "\n"]`},
		{"node without edits", nil, b + 2, `1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := doc.AppendSpliced(tt.dst, tt.n, edits)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("AppendSpliced mismatch (-want +got):\n%s", diff)
			}
			if tt.dst == nil && jsontape.Valid(got, jsontape.Limits{}) != nil {
				t.Errorf("output is not JSON: %s", got)
			}
		})
	}
}
