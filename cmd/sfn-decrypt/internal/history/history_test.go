package history

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/jsontape"
)

const fixtures = "../../../../testdata/history"

func TestParseErrors(t *testing.T) {
	ev := `{"id":1,"type":"ExecutionStarted","timestamp":"2024-05-01T10:00:00+00:00"}`
	tests := []struct{ name, in, want string }{
		{"empty", ``, "ends early"},
		{"not JSON", `events: []`, "not valid JSON (at byte 1)"},
		{"array", `[` + ev + `]`, "not a JSON object"},
		{"no events", `{"executions":[]}`, `no "events" array`},
		{"events not an array", `{"events":{}}`, `"events" is not an array`},
		{"event not an object", `{"events":[1]}`, "events[0]: not an object"},
		{"no id", `{"events":[{"type":"X","timestamp":1}]}`, `events[0]: no "id"`},
		{"id not an integer", `{"events":[{"id":1.5,"type":"X","timestamp":1}]}`, `"id" is not an integer`},
		{"id not a number", `{"events":[{"id":"x","type":"X","timestamp":1}]}`, "wrong type"},
		{"no type", `{"events":[{"id":1,"timestamp":1}]}`, `no "type"`},
		{"no timestamp", `{"events":[{"id":1,"type":"X"}]}`, `no "timestamp"`},
		{"timestamp of a wrong type", `{"events":[{"id":1,"type":"X","timestamp":true}]}`, "neither a string nor a number"},
		{"truncated", `{"events":[` + ev + `,{"id":2,"ty`, "ends early"},
		{"twice", `{"events":[],"events":[]}`, "appears twice"},
		{"event member twice", `{"events":[{"id":1,"id":2,"type":"X","timestamp":1}]}`, `events[0]: member "id" appears twice`},
		{"bad UTF-8 beside good events", `{"events":[` + ev + `],"x":"` + "\xff" + `"}`, "invalid UTF-8 (at byte"},
		{"trailing data", `{"events":[]} {}`, "data after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if !errors.Is(err, ErrNotHistory) {
				t.Fatalf("Parse error = %v, want ErrNotHistory", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	in := `{"events": [{"timestamp": 1714557600.5, "type": "X", "id": 1, "previousEventId": 0, "xEventDetails": {"a": "\u00e9"}}], "NextToken": "t"}`
	h, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Partial() || h.Len() != 1 {
		t.Errorf("Partial = %v, Len = %d", h.Partial(), h.Len())
	}
	tests := []struct{ arn, indent, want string }{
		{"", "", `{"events":[{"timestamp":1714557600.5,"type":"X","id":1,"previousEventId":0,"xEventDetails":{"a":"\u00e9"}}],"NextToken":"t"}` + "\n"},
		{"arn:e", "", `{"executionArn":"arn:e","events":[{"timestamp":1714557600.5,"type":"X","id":1,"previousEventId":0,"xEventDetails":{"a":"\u00e9"}}],"NextToken":"t"}` + "\n"},
		{"", "  ", "{\n  \"events\": [\n    {\n      \"timestamp\": 1714557600.5,\n      \"type\": \"X\",\n      \"id\": 1,\n      \"previousEventId\": 0,\n      \"xEventDetails\": {\n        \"a\": \"\\u00e9\"\n      }\n    }\n  ],\n  \"NextToken\": \"t\"\n}\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := h.WriteJSON(&b, tt.arn, tt.indent); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, b.String()); diff != "" {
			t.Errorf("WriteJSON(%q, %q) mismatch (-want +got):\n%s", tt.arn, tt.indent, diff)
		}
	}
}

func TestTimestamps(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"timestamp":1714557600.157,"type":"X","id":1}`, `{"timestamp":"2024-05-01T10:00:00.157000+00:00","type":"X","id":1}`},
		{`{"timestamp":1.7145576E9,"id":1}`, `{"timestamp":"2024-05-01T10:00:00+00:00","id":1}`},
		{`{"id":1,"timestamp":"2024-05-01T10:00:00Z"}`, `{"id":1,"timestamp":"2024-05-01T10:00:00Z"}`},
		{`{"id":1,"x":{"timestamp":1}}`, `{"id":1,"x":{"timestamp":1}}`},
	}
	for _, tt := range tests {
		tape, err := jsontape.Scan([]byte(tt.in), jsontape.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got := cliTimestamp(tape, []byte(tt.in), 0)
		if string(got) != tt.want {
			t.Errorf("cliTimestamp(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := FormatTime(time.Date(2024, 5, 1, 12, 0, 0, 1500, time.FixedZone("x", 7200))); got != "2024-05-01T10:00:00.000001+00:00" {
		t.Errorf("FormatTime = %s", got)
	}
}

func TestARNs(t *testing.T) {
	tests := []struct {
		arn     string
		machine bool
		region  string // "" for an error
	}{
		{"arn:aws:states:eu-west-2:111122223333:execution:orders:e1", false, "eu-west-2"},
		{"arn:aws:states:us-east-1:111122223333:execution:orders/Map:label:e1", false, "us-east-1"},
		{"arn:aws:states:eu-west-2:111122223333:express:orders:e1:x", false, ""},
		{"arn:aws:states:eu-west-2:111122223333:stateMachine:orders", false, ""},
		{"arn:aws:lambda:eu-west-2:111122223333:function:f", false, ""},
		{"not-an-arn", false, ""},
		{"arn:aws:states:eu-west-2:111122223333:stateMachine:orders", true, "eu-west-2"},
		{"arn:aws:states:eu-west-2:111122223333:execution:orders:e1", true, ""},
	}
	for _, tt := range tests {
		f := ExecutionRegion
		if tt.machine {
			f = StateMachineRegion
		}
		region, err := f(tt.arn)
		if region != tt.region || (err == nil) != (tt.region != "") {
			t.Errorf("region of %s (machine %v) = %q, %v; want %q", tt.arn, tt.machine, region, err, tt.region)
		}
		if err != nil && !errors.Is(err, ErrBadARN) {
			t.Errorf("error %v does not wrap ErrBadARN", err)
		}
	}
}

// FuzzParse checks that whatever Parse accepts, WriteJSON writes as a
// history that Parse reads back to the same bytes.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(fixtures, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, s := range seeds {
		if strings.HasSuffix(s, "config.json") || strings.HasSuffix(s, "keyset.json") {
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatalf("no history fixtures in %s", fixtures)
	}
	f.Add([]byte(`{"events":[{"id":1,"type":"X","timestamp":1.5}],"nextToken":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrNotHistory) {
				t.Fatalf("error does not wrap ErrNotHistory: %v", err)
			}
			return
		}
		var a, b bytes.Buffer
		if err := h.WriteJSON(&a, "", ""); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		h2, err := Parse(a.Bytes())
		if err != nil {
			t.Fatalf("Parse of WriteJSON output: %v\n%s", err, a.Bytes())
		}
		if err := h2.WriteJSON(&b, "", ""); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) || h.Len() != h2.Len() {
			t.Fatalf("round trip differs:\n%s\n%s", a.Bytes(), b.Bytes())
		}
		if evs := h.Events(); len(evs) != h.Len() {
			t.Fatalf("%d events, Len %d", len(evs), h.Len())
		}
	})
}
