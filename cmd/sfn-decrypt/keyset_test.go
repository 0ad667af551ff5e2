package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// keysetConfig writes a configuration with a kmsKeyset keyring (primary and
// break-glass key of kms) to dir and returns its path.
func keysetConfig(t *testing.T, kms *kmstest.Server, dir string) string {
	t.Helper()
	cfg := `{"encryptionContext": {"app": "orders"},
		"keyrings": {"ks": {"kmsKeyset": {"keyArn": "` + kms.KeyARN("primary") + `",
			"breakGlassKeyArns": ["` + kms.KeyARN("breakglass") + `"], "dir": "keysets"}},
			"dev": {"insecureLocalKeyset": "` + must(filepath.Abs("../../testdata/keys/insecure-test-keyset.json")) + `"}},
		"rules": [
			{"class": "identity", "keyring": "ks", "select": ["$..ssn"]},
			{"class": "contact", "keyring": "dev", "select": ["$..email"]}
		]}`
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

type keyInfo struct {
	KeyID     int    `json:"keyId"`
	Status    string `json:"status"`
	Primary   bool   `json:"primary"`
	Algorithm string `json:"algorithm,omitempty"`
}

func listKeys(t *testing.T, cfg string) []keyInfo {
	t.Helper()
	out, errs, code := runCmd(t, "", "keyset", "list", "--config", cfg, "--class", "identity", "--output", "json")
	if code != 0 {
		t.Fatalf("keyset list: exit %d, %s", code, errs)
	}
	var keys []keyInfo
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatalf("keyset list output %q: %v", out, err)
	}
	return keys
}

func TestKeysetCommands(t *testing.T) {
	kms := kmstest.Start(t)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+kms.Endpoint())
	dir := t.TempDir()
	cfg := keysetConfig(t, kms, dir)
	file := filepath.Join(dir, "keysets", "identity.json")

	_, errs, code := runCmd(t, "", "keyset", "create", "--config", cfg, "--class", "identity")
	if code != 0 || !strings.Contains(errs, "created "+file) {
		t.Fatalf("keyset create: exit %d, %s", code, errs)
	}
	before := readFile(t, file)
	_, errs, code = runCmd(t, "", "keyset", "create", "--config", cfg, "--class", "identity")
	if code != exitFail || !strings.Contains(errs, "already exists") {
		t.Errorf("second create: exit %d, %s", code, errs)
	}
	if !bytes.Equal(before, readFile(t, file)) {
		t.Error("a refused create changed the file")
	}
	if diff := cmp.Diff([]keyInfo{{1, "enabled", true, "xaes-256-gcm-160"}}, listKeys(t, cfg)); diff != "" {
		t.Errorf("list after create (-want +got):\n%s", diff)
	}
	// encrypt and decrypt through the keyset: a key-1 token.
	doc := `{"ssn":"078-05-1120","email":"ada@example.com"}`
	enc1, errs, code := runCmd(t, doc, "encrypt", "--config", cfg)
	if code != 0 || strings.Contains(enc1, "078-05-1120") {
		t.Fatalf("encrypt: exit %d, %s", code, errs)
	}
	if out, errs, code := runCmd(t, enc1, "decrypt", "--config", cfg); code != 0 || strings.TrimSpace(out) != doc {
		t.Fatalf("decrypt: exit %d, %q, %s", code, out, errs)
	}
	out, _, code := runCmd(t, "", "keyset", "list", "--config", cfg, "--class", "identity")
	if code != 0 || !strings.Contains(out, "KEY ID") || !strings.Contains(out, "enabled") {
		t.Errorf("text list: exit %d, %q", code, out)
	}

	_, errs, code = runCmd(t, "", "keyset", "rotate", "--config", cfg, "--class", "identity")
	if code != 0 || !strings.Contains(errs, "key 2 is the primary key") {
		t.Fatalf("keyset rotate: exit %d, %s", code, errs)
	}
	if diff := cmp.Diff([]keyInfo{{1, "enabled", false, "xaes-256-gcm-160"}, {2, "enabled", true, "xaes-256-gcm-160"}}, listKeys(t, cfg)); diff != "" {
		t.Errorf("list after rotate (-want +got):\n%s", diff)
	}

	// A staged key, then promoted.
	_, errs, code = runCmd(t, "", "keyset", "rotate", "--staged", "--config", cfg, "--class", "identity")
	if code != 0 || !strings.Contains(errs, "staged key 3") {
		t.Fatalf("keyset rotate --staged: exit %d, %s", code, errs)
	}
	if got := listKeys(t, cfg); len(got) != 3 || got[2].Primary || !got[1].Primary {
		t.Errorf("after --staged: %+v", got)
	}
	_, errs, code = runCmd(t, "", "keyset", "rotate", "--config", cfg, "--class", "identity")
	if code != 0 || !strings.Contains(errs, "key 3 is the primary key") {
		t.Fatalf("rotate after --staged: exit %d, %s", code, errs)
	}

	// destroy: refuses without confirmation off a terminal, the primary
	// key, and an unknown key; then destroys key 1.
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--key-id", "1"}, exitUsage, "confirm on a terminal, or pass --yes"},
		{[]string{"--key-id", "3", "--yes"}, exitFail, "primary key cannot be destroyed"},
		{[]string{"--key-id", "9", "--yes"}, exitUsage, "key 9: no key of this id"},
		{[]string{"--yes"}, exitUsage, "--key-id must be"},
	} {
		_, errs, code := runCmd(t, "", append([]string{"keyset", "destroy", "--config", cfg, "--class", "identity"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errs, tt.err) {
			t.Errorf("destroy %v: exit %d, %q; want %d, %q", tt.args, code, errs, tt.code, tt.err)
		}
	}
	_, errs, code = runCmd(t, "", "keyset", "destroy", "--config", cfg, "--class", "identity", "--key-id", "1", "--yes")
	if code != 0 || !strings.Contains(errs, "destroyed key 1") {
		t.Fatalf("destroy: exit %d, %s", code, errs)
	}
	if diff := cmp.Diff([]keyInfo{{1, "destroyed", false, ""}, {2, "enabled", false, "xaes-256-gcm-160"}, {3, "enabled", true, "xaes-256-gcm-160"}}, listKeys(t, cfg)); diff != "" {
		t.Errorf("list after destroy (-want +got):\n%s", diff)
	}
	// The key-1 token can never be read again: exit 3, "destroyed", no
	// output, no plaintext.
	out, errs, code = runCmd(t, enc1, "decrypt", "--config", cfg)
	if code != exitTokens || out != "" || !strings.Contains(errs, "destroyed") || !strings.Contains(errs, "class identity") {
		t.Errorf("decrypt of a destroyed key's token: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	assertNoCanary(t, "stderr", errs)
	// Tokens made now use key 3 and read.
	enc3, errs, code := runCmd(t, doc, "encrypt", "--config", cfg)
	if code != 0 {
		t.Fatalf("encrypt after destroy: exit %d, %s", code, errs)
	}
	if out, errs, code := runCmd(t, enc3, "decrypt", "--config", cfg); code != 0 || strings.TrimSpace(out) != doc {
		t.Errorf("decrypt after destroy: exit %d, %q, %s", code, out, errs)
	}

	// Usage errors.
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"keyset"}, "keyset needs a subcommand"},
		{[]string{"keyset", "frob"}, `unknown keyset subcommand "frob"`},
		{[]string{"keyset", "list", "--class", "identity"}, "--config is required"},
		{[]string{"keyset", "list", "--config", cfg}, "--class is required"},
		{[]string{"keyset", "list", "--config", cfg, "--class", "nope"}, `no rule of class "nope"`},
		{[]string{"keyset", "create", "--config", cfg, "--class", "contact"}, "not a kmsKeyset keyring"},
		{[]string{"keyset", "list", "--config", cfg, "--class", "identity", "--output", "yaml"}, "--output must be"},
	} {
		out, errs, code := runCmd(t, "", tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, tt.err) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errs, tt.err)
		}
	}
}

// TestKeysetDestroyConfirms: on a terminal, destroy asks, and destroys only
// when the key id is typed back.
func TestKeysetDestroyConfirms(t *testing.T) {
	kms := kmstest.Start(t)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+kms.Endpoint())
	dir := t.TempDir()
	cfg := keysetConfig(t, kms, dir)
	for _, sub := range []string{"create", "rotate"} {
		if _, errs, code := runCmd(t, "", "keyset", sub, "--config", cfg, "--class", "identity"); code != 0 {
			t.Fatalf("%s: %s", sub, errs)
		}
	}
	destroy := func(answer string) (string, int) {
		var out, errb bytes.Buffer
		e := &env{stdin: &terminalInput{strings.NewReader(answer)}, stdout: &out, stderr: &errb, getenv: os.Getenv,
			terminal: func(s any) bool { _, ok := s.(*terminalInput); return ok }}
		code := cmdKeyset(e, []string{"destroy", "--config", cfg, "--class", "identity", "--key-id", "1"})
		return errb.String(), code
	}
	errs, code := destroy("2\n")
	if code != exitFail || !strings.Contains(errs, "Type the key id to confirm") || !strings.Contains(errs, "not confirmed") {
		t.Errorf("wrong answer: exit %d, %q", code, errs)
	}
	if got := listKeys(t, cfg)[0].Status; got != "enabled" {
		t.Errorf("after a wrong answer key 1 is %s", got)
	}
	if !strings.Contains(errs, "a script confirms with --yes") {
		t.Errorf("the refusal does not say how a script confirms: %q", errs)
	}
	// /dev/null is a character device, not a terminal: a script that
	// gives it as stdin is told to pass --yes, not asked.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var errb bytes.Buffer
	e := &env{stdin: devNull, stdout: io.Discard, stderr: &errb, getenv: os.Getenv, terminal: isTerminal}
	if code := cmdKeyset(e, []string{"destroy", "--config", cfg, "--class", "identity", "--key-id", "1"}); code != exitUsage ||
		strings.Contains(errb.String(), "Type the key id") || !strings.Contains(errb.String(), "pass --yes") {
		t.Errorf("stdin /dev/null: exit %d, %q; want %d and a pointer to --yes", code, errb.String(), exitUsage)
	}
	if errs, code = destroy("1\n"); code != 0 {
		t.Errorf("confirmed: exit %d, %q", code, errs)
	}
	if got := listKeys(t, cfg)[0].Status; got != "destroyed" {
		t.Errorf("after confirmation key 1 is %s", got)
	}
}

// terminalInput stands for a terminal on stdin (a reader that is also a
// writer, as an *os.File is).
type terminalInput struct{ io.Reader }

func (terminalInput) Write(p []byte) (int, error) { return len(p), nil }
