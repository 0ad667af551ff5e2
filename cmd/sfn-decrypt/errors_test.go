package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// checkOneLine fails the test unless every line of stderr is one whole
// diagnostic of the command.
func checkOneLine(t *testing.T, stderr string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "sfn-decrypt: ") {
			t.Errorf("a diagnostic is split over lines; line %q in:\n%s", l, stderr)
		}
	}
}

// TestErrorCategories runs encrypt and decrypt against a real local-kms
// into the failures a new user meets, and checks that each is named for
// what it is, with its exit code, on one line, without repeated words.
func TestErrorCategories(t *testing.T) {
	kms := kmstest.Start(t)
	dir := t.TempDir()
	cfgPath, _ := newKMSWriter(t, kms, dir, `{"keyArn": "`+kms.KeyARN("primary")+`"}`)
	// A key ARN of the right shape that local-kms does not hold.
	missing := kms.KeyARN("primary")
	missing = missing[:len(missing)-12] + "000000000000"
	noKeyCfg := filepath.Join(dir, "nokey.json")
	cfg := strings.ReplaceAll(string(readFile(t, cfgPath)), kms.KeyARN("primary"), missing)
	if err := os.WriteFile(noKeyCfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := `{"ssn":"078-05-1120","note":"` + strings.Repeat("n", 80) + `"}` // 111 bytes
	docPath := filepath.Join(dir, "doc.json")
	if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		env      []string
		args     []string
		stdin    string
		code     int
		want     []string
		refuse   []string
		noOutput bool
	}{
		{name: "key not found", args: []string{"encrypt", "--config", noKeyCfg, docPath}, code: exitUsage,
			want:   []string{"key not found", "NotFoundException", "check the key ARN"},
			refuse: []string{"access denied"}},
		{name: "no credentials", env: []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_WEB_IDENTITY_TOKEN_FILE=",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=", "HOME=" + dir},
			args: []string{"encrypt", "--config", cfgPath, docPath}, code: exitUsage,
			want:   []string{"no usable AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "EC2 instance metadata"},
			refuse: []string{"unavailable"}},
		{name: "over the size limit", args: []string{"decrypt", "--config", cfgPath, "--max-size", "50", docPath}, code: exitFail,
			want:   []string{"codec: document over the size limit: 111 bytes, limit 50; raise the limit with --max-size BYTES"},
			refuse: []string{"invalid JSON"}},
		{name: "malformed token", args: []string{"decrypt", "--config", cfgPath}, stdin: `{"ssn":"sfnenc:AQE"}`, code: exitTokens,
			want: []string{"codec: token at /ssn: malformed token: "}},
		{name: "bad max size", args: []string{"decrypt", "--config", cfgPath, "--max-size", "0", docPath}, code: exitUsage,
			want: []string{"--max-size must be a positive number of bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			awsTestEnv(t, append([]string{"AWS_ENDPOINT_URL_KMS=" + kms.Endpoint()}, tt.env...)...)
			out, stderr, code := runCmd(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if out != "" {
				t.Errorf("output on failure: %s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, r := range append(tt.refuse, "codec: token at /ssn: codec:", "malformed token: malformed token") {
				if strings.Contains(stderr, r) {
					t.Errorf("stderr holds %q:\n%s", r, stderr)
				}
			}
			if strings.Count(stderr, "codec: ") > 1 {
				t.Errorf("stderr repeats the package name:\n%s", stderr)
			}
			checkOneLine(t, stderr)
			assertNoCanary(t, "stderr", stderr)
		})
	}
	t.Run("raised size limit", func(t *testing.T) {
		awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+kms.Endpoint())
		out, stderr, code := runCmd(t, "", "encrypt", "--config", cfgPath, "--max-size", "1000", docPath)
		if code != exitOK || !strings.Contains(out, `"ssn":"sfnenc:`) {
			t.Errorf("exit code %d, output %s; stderr:\n%s", code, out, stderr)
		}
	})
}

// TestHistoryKMSDown reads a history of many tokens while KMS is down: the
// diagnostics are one line per cause, with a count, not one per token.
func TestHistoryKMSDown(t *testing.T) {
	kms := kmstest.Start(t)
	dir := t.TempDir()
	cfgPath, writer := newKMSWriter(t, kms, dir, `{"keyArn": "`+kms.KeyARN("primary")+`"}`)
	enc, _ := (&generator{reader: writer}).encrypt(t, "orders", readFile(t, fixture("orders.json")))
	encPath := filepath.Join(dir, "orders.kms.json")
	writeKMSFixture(t, kms, encPath, enc)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+kms.Endpoint(), "AWS_MAX_ATTEMPTS=1")
	kms.Stop()

	_, stderr, code := runCmd(t, "", "history", "--config", cfgPath, "--reason", "INC-8 kms down", "--output", "text", encPath)
	if code != exitFail {
		t.Errorf("exit code %d, want %d", code, exitFail)
	}
	checkOneLine(t, stderr)
	var notDecrypted []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "sfn-decrypt: not decrypted: ") {
			notDecrypted = append(notDecrypted, l)
		}
	}
	// One key, one cause, per class of the fixture's tokens.
	if len(notDecrypted) == 0 || len(notDecrypted) > 4 {
		t.Fatalf("%d lines of failures, want one per class:\n%s", len(notDecrypted), stderr)
	}
	for _, l := range notDecrypted {
		if !strings.Contains(l, " tokens, class ") || !strings.Contains(l, ": KMS unavailable (") || !strings.Contains(l, "; the first at event ") {
			t.Errorf("not a counted cause: %s", l)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain",
		"operation error KMS: Decrypt,\nhttps response error\r\nStatusCode: 0": "operation error KMS: Decrypt, https response error StatusCode: 0",
		"esc \x1b[2J bell \a": `esc \u001b[2J bell \u0007`,
	} {
		if diff := cmp.Diff(want, oneLine(in)); diff != "" {
			t.Errorf("oneLine(%q) mismatch (-want +got):\n%s", in, diff)
		}
	}
}
