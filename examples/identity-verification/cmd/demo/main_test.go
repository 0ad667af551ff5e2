package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/localsfn"
)

func TestWrap(t *testing.T) {
	long := strings.Repeat("word ", 40) + strings.Repeat("x", 300)
	lines := wrap(long, "   ", "       ", false)
	var rebuilt []string
	for i, l := range lines {
		if n := len([]rune(l)); n > width {
			t.Errorf("line %d is %d columns: %q", i, n, l)
		}
		rebuilt = append(rebuilt, strings.TrimSpace(l))
	}
	if got := strings.ReplaceAll(strings.Join(rebuilt, " "), " ", ""); got != strings.ReplaceAll(long, " ", "") {
		t.Errorf("wrapping lost text:\n%s", strings.Join(lines, "\n"))
	}
	if full := wrap(long, "   ", "       ", true); len(full) != 1 {
		t.Errorf("-full wrapped into %d lines", len(full))
	}
}

// TestEventLinesFit: a history event's document is indented below its line
// and fits 120 columns, tokens shortened; with -full it stays on one line.
func TestEventLinesFit(t *testing.T) {
	tok := "sfnenc:" + strings.Repeat("A", 600)
	input := `{"creditApplicationId":"APP-2026-0042","creditApplicant":"` + tok + `","note":"` + strings.Repeat("long text ", 30) + `"}`
	h := &localsfn.History{Events: []localsfn.Event{{ID: 1, Type: "ExecutionStarted", ExecutionStarted: &localsfn.DataDetails{Input: input}}}}
	short := func(s string) string { return shortenTokens(s, false) }
	lines := eventLines(h, short, false)
	if len(lines) < 4 {
		t.Fatalf("document not indented:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > width {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	if full := eventLines(h, nil, true); len(full) != 1 || !strings.Contains(full[0], tok) {
		t.Errorf("-full: %q", full)
	}
}

// TestLaterCommands: the commands the demo prints for the reader name
// files that exist from the repository root, where make demo runs.
func TestLaterCommands(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..")
	o := options{example: "examples/identity-verification", bin: "bin"}
	cmds := strings.Join(laterCommands(o, "out/identity-verification-demo/x.history.json"), "\n")
	for _, f := range []string{"examples/identity-verification/config/local-kms-seed.yaml", "examples/identity-verification/config/sfnenc.json"} {
		if !strings.Contains(cmds, f) {
			t.Errorf("commands lack %s:\n%s", f, cmds)
		}
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Error(err)
		}
	}
	for _, want := range []string{"bin/local-kms &", "bin/sfn-decrypt history", "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599", "PORT=4599", "kill %1"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands lack %q:\n%s", want, cmds)
		}
	}
}
