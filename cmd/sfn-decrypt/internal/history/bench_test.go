package history

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"
)

// BenchmarkHistoryDecrypt measures what "sfn-decrypt history FILE" does
// with a saved history (parse it, decrypt every data field, write the JSON
// out) next to the codec's own DecryptPartial of the same data fields in
// the same run: the difference is the cost of reading and writing the
// history around the codec. op=parse, op=scan, op=decrypt and op=write
// show where it goes.
func BenchmarkHistoryDecrypt(b *testing.B) {
	ctx := context.Background()
	cfg, err := codec.LoadConfig(filepath.Join(fixtures, "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := codec.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(fixtures, "orders.encrypted.json"))
	if err != nil {
		b.Fatal(err)
	}
	fields := dataFields(b, data)
	if len(fields) == 0 {
		b.Fatal("no data fields")
	}
	d := eventdata.NewDecryptor(c)
	b.Run("op=history", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			h, err := Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			d.Events(ctx, h.Events())
			if err := h.WriteJSON(io.Discard, "", ""); err != nil {
				b.Fatal(err)
			}
			h.Release()
		}
	})
	// Where the difference goes: reading the document (one strict scan,
	// and the events read from it), and the strict scan alone, which no
	// reader of a history can skip.
	b.Run("op=parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			h, err := Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			h.Release()
		}
	})
	b.Run("op=scan", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			doc, err := jsontape.Scan(data, jsontape.Limits{MaxSize: len(data) + 1, MaxDepth: 1 << 10})
			if err != nil {
				b.Fatal(err)
			}
			doc.Release()
		}
	})
	// Decryption of a history read once, and the writing of its JSON.
	parsed, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			d.Events(ctx, parsed.Events())
		}
	})
	b.Run("op=write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := parsed.WriteJSON(io.Discard, "", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=codec-fields", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range fields {
				if _, _, err := c.DecryptPartial(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// dataFields returns the JSON documents held by the data fields of a
// history's events (input, output, parameters and the like), as Step
// Functions stores them: JSON text in strings.
func dataFields(b testing.TB, data []byte) [][]byte {
	var h struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, ev := range h.Events {
		for k, raw := range ev {
			if !strings.HasSuffix(k, "EventDetails") {
				continue
			}
			var details map[string]json.RawMessage
			if json.Unmarshal(raw, &details) != nil {
				continue
			}
			for _, v := range details {
				var s string
				if json.Unmarshal(v, &s) != nil || !json.Valid([]byte(s)) {
					continue
				}
				out = append(out, []byte(s))
			}
		}
	}
	return out
}
