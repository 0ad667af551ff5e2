package execdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/jsontape"
)

var errNotDoc = errors.New("test: not a document")

// object checks that an event is a JSON object.
func object(tape *jsontape.Document, n int) error {
	if tape.Kind(n) != jsontape.Object {
		return errors.New("not an object")
	}
	return nil
}

func TestParseMarshal(t *testing.T) {
	in := `{"nextToken": null, "events": [{"a": 1}, {"b": [2, "x"]}], "x": {"y": "\u00e9"}}`
	d, err := Parse([]byte(in), errNotDoc, "events", object)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, n := range d.Events() {
		events = append(events, string(d.Bytes(n)))
	}
	if diff := cmp.Diff([]string{`{"a": 1}`, `{"b": [2, "x"]}`}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	// Give "x" (the last node of the second event) new text, and the
	// name's value another, as decryption of the whole document would.
	tape := d.Tape()
	x := tape.End(d.Events()[1]) - 1
	y := tape.Len() - 1
	scan := &Scan{Tape: tape, DetailsNode: -1}
	d.Hold(-1, scan)
	scan.Edits = []jsontape.Edit{{Node: x, Text: []byte(`{"q":"\"quoted\""}`)}, {Node: y, Text: []byte("é")}}
	if got, want := string(d.AppendValue(nil, d.Events()[1])), `{"b": [2, "{\"q\":\"\\\"quoted\\\"\"}"]}`; got != want {
		t.Errorf("AppendValue = %s, want %s", got, want)
	}
	first := []Member{{Name: "executionArn", Raw: json.RawMessage(`"arn:e"`)}}
	for _, tt := range []struct {
		first  []Member
		indent string
		want   string
	}{
		{nil, "", `{"nextToken":null,"events":[{"a":1},{"b":[2,"{\"q\":\"\\\"quoted\\\"\"}"]}],"x":{"y":"é"}}` + "\n"},
		{first, "", `{"executionArn":"arn:e","nextToken":null,"events":[{"a":1},{"b":[2,"{\"q\":\"\\\"quoted\\\"\"}"]}],"x":{"y":"é"}}` + "\n"},
		{first, "  ", "{\n  \"executionArn\": \"arn:e\",\n  \"nextToken\": null,\n  \"events\": [\n    {\n      \"a\": 1\n    },\n    {\n      \"b\": [\n        2,\n        \"{\\\"q\\\":\\\"\\\\\\\"quoted\\\\\\\"\\\"}\"\n      ]\n    }\n  ],\n  \"x\": {\n    \"y\": \"é\"\n  }\n}\n"},
	} {
		if diff := cmp.Diff(tt.want, string(d.Marshal(tt.first, tt.indent))); diff != "" {
			t.Errorf("Marshal(indent %q) mismatch (-want +got):\n%s", tt.indent, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", ``, "the JSON ends early, at byte 0 (truncated?)"},
		{"cut off", `{"events": [{"a": "secr`, "the JSON ends early"},
		{"not JSON", `{"events": [] x}`, "not valid JSON (at byte 14)"},
		{"not an object", `[]`, `the document is not a JSON object with an "events" array`},
		{"no events", `{"other": []}`, `the document has no "events" array`},
		{"events not an array", `{"events": {"secret": 1}}`, `"events" is not an array of events`},
		{"member twice", `{"events": [], "events": []}`, `member "events" appears twice`},
		{"bad event", `{"events": [{}, "secret"]}`, `events[1]: not an object`},
		{"event member twice", `{"events": [{"a": 1, "a": 2}]}`, `events[0]: member "a" appears twice (at byte 9 of the event)`},
		{"name twice deeper", `{"events": [], "x": {"y/~": 1, "y/~": 2}}`, `member "y/~" appears twice`},
		{"bad UTF-8", "{\"events\": [], \"x\": \"secret\xff\"}", `invalid UTF-8`},
		{"data after", `{"events": []} {}`, "data after the JSON document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), errNotDoc, "events", object)
			if !errors.Is(err, errNotDoc) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q wrapping errNotDoc", err, tt.want)
			}
			if strings.Contains(err.Error(), "secr") {
				t.Errorf("error %q quotes the document", err)
			}
		})
	}
}

// goldenDocs are the golden history and log documents, and a hand-made one.
func goldenDocs(t testing.TB) map[string][]byte {
	files, _ := filepath.Glob("../../../../testdata/*/*.json")
	if len(files) < 5 {
		t.Fatalf("%d files", len(files))
	}
	docs := map[string][]byte{"hand-made": []byte(`{"events": [], "a": [], "b": {}, "c": [ { } , [ ] ], "d": "x \" y \\\\", "e": [1, {"f": null}], "g": "\u00e9"}`)}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = src
	}
	return docs
}

// TestMarshalSplices plays every replacement at once: on every golden
// document, each string gets new text (quotes, backslashes, controls and
// non-ASCII in it). Marshal must write what json.Compact and json.Indent
// make of the same document spliced by hand: valid JSON, laid out alike.
func TestMarshalSplices(t *testing.T) {
	n := 0
	for name, src := range goldenDocs(t) {
		d, err := Parse(src, errNotDoc, "events", object)
		if err != nil {
			continue // a configuration or keyset file
		}
		n++
		tape := d.Tape()
		scan := &Scan{Tape: tape, DetailsNode: -1}
		d.Hold(-1, scan)
		var spliced []byte
		last := 0
		for s := range tape.Len() {
			if tape.Kind(s) != jsontape.String || s%3 == 0 {
				continue
			}
			text := append(tape.AppendString(nil, s), "\"\\\n\x01\u00e9\u2028"...)
			scan.Edits = append(scan.Edits, jsontape.Edit{Node: s, Text: text})
			start, end := tape.Raw(s)
			q, _ := json.Marshal(string(text))
			spliced = append(append(spliced, src[last:start]...), q...)
			last = end
		}
		spliced = bytes.TrimSpace(append(spliced, src[last:]...))
		var compact, indented bytes.Buffer
		if err := json.Compact(&compact, spliced); err != nil {
			t.Fatal(err)
		}
		json.Indent(&indented, spliced, "", "    ")
		for _, tt := range []struct {
			indent string
			want   []byte
		}{{"", compact.Bytes()}, {"    ", indented.Bytes()}} {
			got, ok := bytes.CutSuffix(d.Marshal(nil, tt.indent), []byte("\n"))
			if !ok || !json.Valid(got) {
				t.Fatalf("%s: Marshal(%q) is not JSON", name, tt.indent)
			}
			// json.Marshal escapes <, > and & and U+2028; AppendString
			// does not need to.
			var a, b any
			json.Unmarshal(got, &a)
			json.Unmarshal(tt.want, &b)
			if diff := cmp.Diff(b, a); diff != "" {
				t.Errorf("%s: Marshal(%q) holds other values (-want +got):\n%s", name, tt.indent, diff)
			}
			if g, w := layoutOnly(got), layoutOnly(tt.want); g != w {
				i := 0
				for i < len(g) && i < len(w) && g[i] == w[i] {
					i++
				}
				t.Errorf("%s: Marshal(%q) is laid out otherwise from byte %d of its layout: %q, want %q", name, tt.indent, i, g[i:min(len(g), i+40)], w[i:min(len(w), i+40)])
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d event documents among the golden files", n)
	}
}

// layoutOnly is JSON text with the content of its strings left out.
func layoutOnly(b []byte) string {
	var out []byte
	for i := 0; i < len(b); i++ {
		out = append(out, b[i])
		if b[i] != '"' {
			continue
		}
		i = stringEnd(b, i) - 1
		out = append(out, '"')
	}
	return string(out)
}

// stringEnd returns the offset after the JSON string that starts at b[i],
// which is valid.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// TestAppendLayout: the layout of any valid JSON text is json.Compact's and
// json.Indent's, on every golden document, empty arrays and objects and
// escapes in names included.
func TestAppendLayout(t *testing.T) {
	docs := goldenDocs(t)
	docs["names"] = []byte(` [ {"a\"b" : [ ], "\u00e9": { } , "": [1, [], {"x": null}]}, "s", 2.5e3, true ] `)
	for name, src := range docs {
		src = bytes.TrimSpace(src)
		var compact, indented bytes.Buffer
		if json.Compact(&compact, src) != nil {
			t.Fatalf("%s: not JSON", name)
		}
		json.Indent(&indented, src, "", "    ")
		if got := AppendLayout(nil, src, ""); !bytes.Equal(got, compact.Bytes()) {
			t.Errorf("%s: compact layout differs from json.Compact:\n%s", name, got)
		}
		if got := AppendLayout(nil, src, "    "); !bytes.Equal(got, indented.Bytes()) {
			t.Errorf("%s: indented layout differs from json.Indent:\n%s", name, got)
		}
	}
}
