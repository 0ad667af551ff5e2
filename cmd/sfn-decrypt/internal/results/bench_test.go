package results

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/codec"
)

// BenchmarkResultsDecrypt measures "sfn-decrypt results" on a result file
// (NONE records, their Input and Output JSON text with tokens) next to
// "sfn-decrypt history" on a history that holds the same data fields (a
// state's input and output per record), in one run. Bytes per second are of
// each input; B/op of results stays that of a record or so, whatever the
// file's length (the figure for a 1 GB file, measured with /usr/bin/time,
// is in BENCHMARKS.md).
func BenchmarkResultsDecrypt(b *testing.B) {
	ctx := context.Background()
	cfg, err := codec.LoadConfig(filepath.Join("..", "..", "..", "..", "testdata", "history", "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := codec.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(`{"orderId":"o-1","customer":{"ssn":"078-05-1120","email":"ada@example.com","phone":"+44 20 7946 0000"},"card":{"number":"4111 1111 1111 1111","expiry":"12/27"},"items":[{"sku":"A","qty":1},{"sku":"B","qty":2}]}`)
	const records = 200
	var file, hist bytes.Buffer
	file.WriteString("[")
	hist.WriteString(`{"events":[`)
	for i := range records {
		in, err := c.Encrypt(ctx, input)
		if err != nil {
			b.Fatal(err)
		}
		s, _ := json.Marshal(string(in))
		if i > 0 {
			file.WriteString(",")
			hist.WriteString(",")
		}
		fmt.Fprintf(&file, `{"ExecutionArn":"arn:aws:states:eu-west-2:111122223333:execution:c/m:%d","Input":%s,"Name":"%d","Output":%s,"Status":"SUCCEEDED"}`, i, s, i, s)
		fmt.Fprintf(&hist, `{"id":%d,"type":"TaskStateEntered","timestamp":"2024-05-03T09:15:00.120000+00:00","stateEnteredEventDetails":{"name":"S","input":%s}},`, 2*i+1, s)
		fmt.Fprintf(&hist, `{"id":%d,"previousEventId":%d,"type":"TaskStateExited","timestamp":"2024-05-03T09:15:00.220000+00:00","stateExitedEventDetails":{"name":"S","output":%s}}`, 2*i+2, 2*i+1, s)
	}
	file.WriteString("]")
	hist.WriteString("]}")
	d := eventdata.NewDecryptor(c)
	b.Run("op=results", func(b *testing.B) {
		b.SetBytes(int64(file.Len()))
		b.ReportAllocs()
		out := Output{W: bufio.NewWriter(io.Discard)}
		for b.Loop() {
			failed := 0
			n, err := Decrypt(ctx, d, File{Status: "SUCCEEDED", Key: "SUCCEEDED_0.json"}, bytes.NewReader(file.Bytes()), out, func(fs []execdata.Failure) { failed += len(fs) })
			if err != nil || failed > 0 || n != records {
				b.Fatal(err, failed, n)
			}
		}
	})
	b.Run("op=history", func(b *testing.B) {
		b.SetBytes(int64(hist.Len()))
		b.ReportAllocs()
		for b.Loop() {
			h, err := history.Parse(hist.Bytes())
			if err != nil {
				b.Fatal(err)
			}
			if fails := d.Events(ctx, h.Events()); len(fails) > 0 {
				b.Fatal(fails)
			}
			if err := h.WriteJSON(io.Discard, "", ""); err != nil {
				b.Fatal(err)
			}
			h.Release()
		}
	})
}
