package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		out, stderr, code := runCmd(t, "", arg)
		if code != exitOK || stderr != "" || !strings.HasPrefix(out, "sfn-decrypt ") || !strings.HasSuffix(out, " "+runtime.Version()+"\n") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, stderr)
		}
	}
}

// TestVersionStamped: a release build's version, stamped by make release,
// is what --version says.
func TestVersionStamped(t *testing.T) {
	defer func(v string) { buildVersion = v }(buildVersion)
	buildVersion = "v1.2.3"
	out, _, code := runCmd(t, "", "--version")
	if want := "sfn-decrypt v1.2.3 "; code != exitOK || !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " "+runtime.Version()+"\n") {
		t.Errorf("--version = %q (exit %d), want it to begin %q", out, code, want)
	}
}

// TestHelpCommand: "help COMMAND" is "COMMAND --help", and every flag in a
// command's help is spelt with two dashes, as the usage lines spell them.
func TestHelpCommand(t *testing.T) {
	oneDash := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	for _, c := range commands() {
		help, stderr, code := runCmd(t, "", "help", c.name)
		if code != exitOK || stderr != "" {
			t.Fatalf("help %s: exit %d, stderr %q", c.name, code, stderr)
		}
		want, _, _ := runCmd(t, "", c.name, "--help")
		if diff := cmp.Diff(want, help); diff != "" {
			t.Errorf("help %s differs from %s --help (-want +got):\n%s", c.name, c.name, diff)
		}
		if !strings.Contains(help, "\n  --config FILE\n") {
			t.Errorf("%s --help does not spell --config as the usage line:\n%s", c.name, help)
		}
		if m := oneDash.FindString(help); m != "" {
			t.Errorf("%s --help has a flag with one dash (%q):\n%s", c.name, m, help)
		}
	}
	if _, stderr, code := runCmd(t, "", "help", "frobnicate"); code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, stderr %q", code, stderr)
	}
}

// TestRoundTripExact: decrypt(encrypt(x)) is x byte for byte, with or
// without a final newline, and with flags before or after INPUT. Only on a
// terminal is a missing final newline added.
func TestRoundTripExact(t *testing.T) {
	cfg := fixture("config.json")
	dir := t.TempDir()
	for _, doc := range []string{`{"ssn":"078-05-1120","n":1}`, "{\"ssn\":\"078-05-1120\"}\n", " [ {\"email\" : \"ada@example.com\"} ] \n\n"} {
		in := filepath.Join(dir, "in.json")
		if err := os.WriteFile(in, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		enc, stderr, code := runCmd(t, "", "encrypt", in, "--config", cfg) // a flag after INPUT
		if code != exitOK {
			t.Fatalf("encrypt: exit %d: %s", code, stderr)
		}
		assertNoCanary(t, "encrypted", enc)
		dec, stderr, code := runCmd(t, enc, "decrypt", "--config", cfg)
		if code != exitOK {
			t.Fatalf("decrypt: exit %d: %s", code, stderr)
		}
		if dec != doc {
			t.Errorf("decrypt(encrypt(%q)) = %q", doc, dec)
		}
	}

	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(`{"a":1}`), stdout: &out, stderr: &errb, getenv: os.Getenv,
		terminal: func(s any) bool { return s == &out }}
	if code := cmdDecrypt(e, []string{"--config", cfg}); code != exitOK || out.String() != "{\"a\":1}\n" {
		t.Errorf("to a terminal: exit %d, output %q; stderr %s", code, out.String(), errb.String())
	}
}

// TestStdinNotice: with no INPUT, on a terminal, the command says that it
// reads standard input instead of seeming to hang; on a pipe it says
// nothing.
func TestStdinNotice(t *testing.T) {
	cfg := fixture("config.json")
	for _, tty := range []bool{true, false} {
		stdin := strings.NewReader(`{"a":1}`)
		var out, errb bytes.Buffer
		e := &env{stdin: stdin, stdout: &out, stderr: &errb, getenv: os.Getenv,
			terminal: func(s any) bool { return tty && s == stdin }}
		if code := cmdEncrypt(e, []string{"--config", cfg}); code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		got := strings.Contains(errb.String(), "sfn-decrypt: reading standard input (end it with Ctrl-D, or give a file as INPUT)")
		if got != tty {
			t.Errorf("terminal %v: stderr %q", tty, errb.String())
		}
	}
}

// TestREADMESynopsis: the README's synopsis lists every flag that a
// command's --help shows.
func TestREADMESynopsis(t *testing.T) {
	readme := string(readFile(t, "../../README.md"))
	start := strings.Index(readme, "## sfn-decrypt\n")
	end := strings.Index(readme[start:], "\n```\n\n")
	if start < 0 || end < 0 {
		t.Fatal("no synopsis in the README")
	}
	synopsis := readme[start : start+end]
	flagRE := regexp.MustCompile(`(?m)^  (--[a-z-]+)`)
	for _, c := range commands() {
		help, _, _ := runCmd(t, "", c.name, "--help")
		for _, m := range flagRE.FindAllStringSubmatch(help, -1) {
			if !strings.Contains(synopsis, "["+m[1]+" ") && !strings.Contains(synopsis, "("+m[1]+" ") &&
				!strings.Contains(synopsis, " "+m[1]+" ") && !strings.Contains(synopsis, "["+m[1]+"]") {
				t.Errorf("the README's synopsis lacks %s of %s", m[1], c.name)
			}
		}
	}
}
