package check

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCheck runs the checker on arbitrary definitions: it must not panic,
// must end (the limits bound its work), and must report only known rules.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.asl.json")
	for _, g := range []string{"testdata/sam/*.asl.yaml", "testdata/example/*.asl.json", "testdata/classes/*.asl.json"} {
		more, _ := filepath.Glob(g)
		files = append(files, more...)
	}
	if len(files) == 0 {
		f.Fatal("no seed definitions match testdata/*.asl.json or testdata/sam/*.asl.yaml")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	cfg := testConfig(f, "testdata/config.json")
	fns := map[string]Function{
		"verify": {Middleware: true, Classes: []string{"identity"}, ErrorClass: "identity", Explicit: true},
		"legacy": {},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := ParseDefinition(data)
		if err != nil {
			return
		}
		start := time.Now()
		fs, err := Check(def, Options{Config: cfg, Functions: fns, Substitutions: map[string]string{"X": "arn:aws:lambda:r:a:function:verify"}})
		// Not a speed figure: a guard that keeps an input on which the
		// analysis nearly hangs (it must stay bounded by its limits).
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("check took %v on a %d-byte definition", d, len(data))
		}
		if err != nil {
			return
		}
		for _, x := range fs {
			def := severity[x.Rule]
			if def == "" || (x.Severity != def && !(def == SeverityError && x.Severity == SeverityWarning)) {
				t.Fatalf("finding with rule %q severity %q", x.Rule, x.Severity)
			}
		}
	})
}
