package stack

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseDefinition reads arbitrary definitions: no panic; JSON is
// accepted only if encoding/json finds it valid (no trailing comma, no
// data after the value); every state it places has a line and a column.
func FuzzParseDefinition(f *testing.F) {
	var files []string
	for _, g := range []string{"testdata/*.json", "testdata/*.yaml", "../check/testdata/*.asl.json", "../check/testdata/classes/*.asl.json"} {
		more, _ := filepath.Glob(g)
		files = append(files, more...)
	}
	if len(files) == 0 {
		f.Fatal("no seed definitions")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(data, "d")
		if err != nil {
			return
		}
		if s := bytes.TrimSpace(data); len(s) > 0 && (s[0] == '{' || s[0] == '[') && !json.Valid(data) {
			t.Fatal("accepted JSON that encoding/json refuses")
		}
		for name, p := range d.States {
			if p.Line < 1 || p.Column < 1 || p.File != "d" {
				t.Fatalf("state %q at %+v", name, p)
			}
		}
	})
}
