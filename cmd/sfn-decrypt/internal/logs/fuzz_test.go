package logs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
)

// FuzzParse parses a document of log events, decrypts it and writes it out
// again: what is written must parse to the same messages, and the timeline
// must be written without error. Seeds are the fixtures in testdata/logs.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("../../../../testdata/logs/*.json")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/logs: %v", err)
	}
	for _, s := range seeds {
		f.Add(readFile(f, s))
	}
	f.Add([]byte(`{"events":[{"timestamp":1,"message":"{\"id\":\"1\",\"type\":\"T\",\"execution_arn\":\"a\",\"details\":{\"input\":\"{\\\"a\\\":\\\"sfnenc:AA\",\"inputDetails\":{\"truncated\":\"true\"}}}"}]}`))
	d, _ := newDecryptor(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrNotLog) {
				t.Fatalf("error %v does not wrap ErrNotLog", err)
			}
			return
		}
		d.Events(context.Background(), l.Events())
		var b bytes.Buffer
		if err := l.WriteJSON(&b, "    "); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		again, err := Parse(b.Bytes())
		if err != nil {
			t.Fatalf("the output does not parse: %v\n%s", err, b.Bytes())
		}
		if len(again.Records) != len(l.Records) {
			t.Fatalf("%d records written, %d read back", len(l.Records), len(again.Records))
		}
		for i, r := range l.Records {
			if !bytes.Equal(again.Records[i].msg, r.Message()) {
				t.Fatalf("record %d: message %q read back as %q", i, r.Message(), again.Records[i].msg)
			}
		}
		if err := timeline.New(io.Discard).WriteGrouped(l.Events(), l.Messages()); err != nil {
			t.Fatalf("WriteText: %v", err)
		}
	})
}
