package eventdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var errNotDoc = errors.New("test: not a document")

// event reads an event that must be a JSON object.
func event(raw json.RawMessage) (string, error) {
	if raw[0] != '{' {
		return "", errors.New("not an object")
	}
	return string(raw), nil
}

func TestParseMarshal(t *testing.T) {
	in := `{"nextToken": null, "events": [{"a": 1}, {"b": [2, 3]}], "x": {"y": "\u00e9"}}`
	ms, events, err := Parse([]byte(in), errNotDoc, "events", event)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`{"a": 1}`, `{"b": [2, 3]}`}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	appendEvents := func(b []byte) []byte { return append(b, strings.Join(events, ",")...) }
	for _, tt := range []struct{ indent, want string }{
		{"", `{"nextToken":null,"events":[{"a":1},{"b":[2,3]}],"x":{"y":"\u00e9"}}` + "\n"},
		{"  ", "{\n  \"nextToken\": null,\n  \"events\": [\n    {\n      \"a\": 1\n    },\n    {\n      \"b\": [\n        2,\n        3\n      ]\n    }\n  ],\n  \"x\": {\n    \"y\": \"\\u00e9\"\n  }\n}\n"},
	} {
		out, err := Marshal(ms, appendEvents, tt.indent)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, string(out)); diff != "" {
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
		{"data after", `{"events": []} {}`, "data after the JSON document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.in), errNotDoc, "events", event)
			if !errors.Is(err, errNotDoc) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q wrapping errNotDoc", err, tt.want)
			}
			if strings.Contains(err.Error(), "secr") {
				t.Errorf("error %q quotes the document", err)
			}
		})
	}
}

// TestLayout: the layout of a valid document is json.Compact's and
// json.Indent's, on every golden history and log document.
func TestLayout(t *testing.T) {
	files, _ := filepath.Glob("../../../../testdata/*/*.json")
	files = append(files, "") // and a hand-made one
	if len(files) < 5 {
		t.Fatalf("%d files", len(files))
	}
	for _, f := range files {
		src := []byte(`{"a": [], "b": {}, "c": [ { } , [ ] ], "d": "x \" y \\\\", "e": [1, {"f": null}], "g": "\u00e9"}`)
		if f != "" {
			var err error
			if src, err = os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
		// Marshal lays out a document with nothing around it.
		src = bytes.TrimSpace(src)
		if !json.Valid(src) {
			continue
		}
		var compact, indented bytes.Buffer
		json.Compact(&compact, src)
		json.Indent(&indented, src, "", "    ")
		if got := appendLayout(nil, src, ""); !bytes.Equal(got, compact.Bytes()) {
			t.Errorf("%s: compact layout differs from json.Compact", f)
		}
		if got := appendLayout(nil, src, "    "); !bytes.Equal(got, indented.Bytes()) {
			t.Errorf("%s: indented layout differs from json.Indent:\n%s\n%s", f, got, indented.Bytes())
		}
	}
}
