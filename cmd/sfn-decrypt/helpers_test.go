package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sfnenc/sfnenc/internal/leaktest"
)

var update = flag.Bool("update", false, "rewrite the encrypted fixtures and expected outputs in testdata/history (TestGolden) and testdata/logs (TestLogsGolden)")

// historyDir holds the history fixtures and their configuration.
const historyDir = "../../testdata/history"

// Canary values are in the fixtures' plaintext; no diagnostic may hold them.
var canaries = []string{"078-05-1120", "4111 1111 1111 1111", "ada@example.com", "P1234567", "grace@example.com", "PR-99", "V-0042", "+44 20 7946 0000"}

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sfn-decrypt": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// runCmd runs the command in-process as a user would, and returns its
// output and exit code.
func runCmd(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func fixture(name string) string { return filepath.Join(historyDir, name) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertNoCanary(t testing.TB, what, s string) {
	t.Helper()
	leaktest.Check(t, what, s, canaries...)
}

// awsTestEnv sets the standard AWS environment of the process for an
// in-process run: dummy credentials, no shared files or instance metadata.
// It is for tests that do not run in parallel.
func awsTestEnv(t *testing.T, extra ...string) {
	for _, kv := range append([]string{
		"AWS_REGION=eu-west-2",
		"AWS_ACCESS_KEY_ID=AKIDTEST",
		"AWS_SECRET_ACCESS_KEY=secret",
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_DEFAULT_PROFILE=",
		"AWS_SDK_UA_APP_ID=",
		"AWS_MAX_ATTEMPTS=",
		"AWS_RETRY_MODE=",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
