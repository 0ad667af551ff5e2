package benchdoc

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/jsontape"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var update = flag.Bool("update", false, "rewrite testdata/bench from the generator")

const dir = "../../testdata/bench"

func TestGenerated(t *testing.T) {
	for _, d := range All() {
		path := filepath.Join(dir, d.File)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, d.JSON, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, d.JSON) {
			t.Errorf("%s differs from the generator's output (run with -update)", path)
		}
		doc, err := jsontape.Scan(d.JSON, jsontape.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		var sels []*fieldpath.Selector
		for _, s := range d.Selectors {
			sels = append(sels, must(fieldpath.Parse(s)))
		}
		matches, err := fieldpath.Select(doc, sels)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(matches); got != d.Selected {
			t.Errorf("%s: selectors pick %d values, want %d", d.Name, got, d.Selected)
		}
		t.Logf("%s: %d bytes", d.Name, len(d.JSON))
	}
}
