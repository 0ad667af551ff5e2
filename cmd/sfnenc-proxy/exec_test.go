package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/internal/testbin"
)

// TestExecStatusAndSignals: exec exits with the command's status, passes
// signals on, and gives the command the proxy's address as its Runtime API.
func TestExecStatusAndSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the proxy")
	}
	proxy := testbin.Build(t, "cmd/sfnenc-proxy")
	keyset, err := filepath.Abs("../../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	env := append(baseEnv(), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9", "SFNENC_PROXY_PORT=0",
		`SFNENC_CONFIG={"keyrings":{"dev":{"insecureLocalKeyset":"`+keyset+`"}},"rules":[{"class":"pii","keyring":"dev","select":["$.ssn"]}]}`)
	run := func(script string, signal os.Signal) (int, string) {
		t.Helper()
		cmd := exec.Command(proxy, "exec", "--", "/bin/sh", "-c", script)
		cmd.Env = env
		out := new(launch.Buffer) // written while read
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if signal != nil {
			// Once the command runs (it says so), signal the proxy.
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), "ready") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(signal); err != nil {
				t.Fatal(err)
			}
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String()
	}

	if code, out := run(`echo "api=$AWS_LAMBDA_RUNTIME_API"; exit 3`, nil); code != 3 || !strings.HasPrefix(out, "api=127.0.0.1:") || strings.Contains(out, "127.0.0.1:9\n") {
		t.Errorf("exit %d, output %q; want 3 and the proxy's address", code, out)
	}
	if code, _ := run(`trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done`, syscall.SIGTERM); code != 7 {
		t.Errorf("after SIGTERM: exit %d, want 7 (the command's own, from its trap)", code)
	}
	if code, _ := run(`echo ready; exec sleep 30`, syscall.SIGINT); code != 128+int(syscall.SIGINT) {
		t.Errorf("after SIGINT: exit %d, want %d", code, 128+int(syscall.SIGINT))
	}
}

// TestExtensionFailsWithoutAddressFile: with SFNENC_PROXY_PORT=0 the
// wrapper learns the proxy's address from the file the extension writes;
// if it cannot be written, the extension fails (so Lambda's init fails)
// rather than leave the runtime without the proxy.
func TestExtensionFailsWithoutAddressFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the proxy")
	}
	proxy := testbin.Build(t, "cmd/sfnenc-proxy")
	cmd := exec.Command(proxy)
	cmd.Env = append(baseEnv(), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9", "SFNENC_PROXY_PORT=0",
		"TMPDIR="+filepath.Join(os.DevNull, "not-a-directory"), `SFNENC_CONFIG={}`)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "sfnenc-proxy.addr") {
		t.Errorf("got %v: %s; want exit 1 naming the address file", err, out)
	}
}
