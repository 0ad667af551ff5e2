package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfnenc-proxy/internal/layer"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/internal/leaktest"
	"github.com/sfnenc/sfnenc/internal/noderic"
	"github.com/sfnenc/sfnenc/internal/testbin"
)

// Canary values: the tests put them in events, encrypted, and hunt for them
// in every output of the proxy, where they must never appear.
const (
	canarySSN   = "CANARY-SSN-5e1d07"
	canaryPhone = "+44-CANARY-7700-900123"
	canaryCard  = "CANARY-PAN-4929"
)

var canaries = []string{canarySSN, canaryPhone, canaryCard}

// testRules: pii and card encrypt the customer's SSN and phone and the card;
// diag encrypts error messages.
const testRules = `[
	{"class":"pii","keyring":"dev","select":["$.customer.ssn","$.customer.phone","$.blobs[*]"]},
	{"class":"card","keyring":"dev","select":["$..card"]},
	{"class":"diag","keyring":"dev","select":["$.diagnostics"]}
]`

// config is the functions' configuration with the KMS key keyARN.
func config(keyARN string) string {
	return `{"encryptionContext":{"app":"sfnenc-proxy-it"},"keyrings":{"dev":{"kms":{"keyArn":"` + keyARN + `"}}},"rules":` + testRules + `}`
}

// customerEvent is a plaintext event with the canaries.
func customerEvent(action string) []byte {
	return []byte(`{"action":"` + action + `","customer":{"name":"Ann","ssn":"` + canarySSN + `","phone":"` + canaryPhone + `"},"card":{"pan":"` + canaryCard + `","exp":"12/29"}}`)
}

// env is what the tests share: the tools, the binaries and a KMS server for
// the test's own codecs (the service that starts the execution, the next
// state). Each function gets a KMS server of its own, seeded with the same
// keys, so that its requests can be counted and faulted on their own.
type env struct {
	rie, proxy, goHandler string
	kms                   *kmstest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the proxy and runs Lambda functions under the emulator")
	}
	return &env{
		rie:       testbin.Path(t, "aws-lambda-rie"),
		proxy:     testbin.Build(t, "cmd/sfnenc-proxy"),
		goHandler: testbin.Build(t, "cmd/sfnenc-proxy/internal/testhandler", "lambda.norpc"),
		kms:       kmstest.Start(t),
	}
}

// codec returns a new codec of the test, with empty caches.
func (e *env) codec(t *testing.T) *codec.Codec {
	t.Helper()
	cfg, err := codec.ParseConfig([]byte(config(e.kms.KeyARN("primary"))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(e.kms.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) encrypt(t *testing.T, doc []byte) []byte {
	t.Helper()
	out, err := e.codec(t).Encrypt(context.Background(), doc)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return out
}

// runtimeKind is a handler's runtime: the command that runs it.
type runtimeKind struct {
	name    string
	command func(t *testing.T, e *env) []string
}

var runtimes = []runtimeKind{
	{"go", func(t *testing.T, e *env) []string { return []string{e.goHandler} }},
	{"node", func(t *testing.T, e *env) []string {
		node, ric := noderic.Path(t)
		dir, err := filepath.Abs("testdata/node")
		if err != nil {
			t.Fatal(err)
		}
		return []string{node, ric, filepath.Join(dir, "index.handler")}
	}},
}

// function is a Lambda function under the emulator.
type function struct {
	url  string
	proc *launch.Process
	logs *launch.Buffer // the emulator's, the proxy's and the runtime's output
	seen string         // where the handler writes the events it saw
	kms  *kmstest.Server
	mu   sync.Mutex
	lmi  bool // Managed Instances mode: concurrent invocations allowed
}

// baseEnv is this process's environment without AWS_, SFNENC_ and
// TESTHANDLER_ variables.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SFNENC_") && !strings.HasPrefix(kv, "TESTHANDLER_") && !strings.HasPrefix(kv, "_LAMBDA") {
			out = append(out, kv)
		}
	}
	return out
}

// functionEnv is a function's environment: its own KMS server, the
// configuration, a directory for what the handler saw, and extra (which
// wins).
func functionEnv(t *testing.T, extra ...string) ([]string, *kmstest.Server, string) {
	fnKMS := kmstest.Start(t)
	seen := t.TempDir()
	env := append(baseEnv(), fnKMS.Env()...)
	env = append(env,
		"SFNENC_CONFIG="+config(fnKMS.KeyARN("primary")),
		"SFNENC_ERROR_CLASS=diag",
		"SFNENC_PROXY_PORT=0",
		"TESTHANDLER_SEEN_DIR="+seen,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"TMPDIR="+t.TempDir(),
	)
	return append(env, extra...), fnKMS, seen
}

// startExec runs argv behind "sfnenc-proxy exec --" under the emulator.
func (e *env) startExec(t *testing.T, argv []string, extra ...string) *function {
	t.Helper()
	env, fnKMS, seen := functionEnv(t, extra...)
	cmdline := append([]string{e.proxy, "exec", "--"}, argv...)
	return startFunction(t, env, fnKMS, seen, func(invokeAddr, apiAddr string) *exec.Cmd {
		cmd := exec.Command(e.rie, append(launch.EmulatorArgs(invokeAddr, apiAddr), cmdline...)...)
		cmd.Dir = filepath.Dir(e.proxy)
		cmd.Env = env
		return cmd
	})
}

// startDirect runs argv under the emulator without the proxy, for
// comparison.
func (e *env) startDirect(t *testing.T, argv []string, extra ...string) *function {
	t.Helper()
	env, fnKMS, seen := functionEnv(t, extra...)
	return startFunction(t, env, fnKMS, seen, func(invokeAddr, apiAddr string) *exec.Cmd {
		cmd := exec.Command(e.rie, append(launch.EmulatorArgs(invokeAddr, apiAddr), argv...)...)
		cmd.Dir = filepath.Dir(e.proxy)
		cmd.Env = env
		return cmd
	})
}

func startFunction(t *testing.T, env []string, fnKMS *kmstest.Server, seen string, command func(invokeAddr, apiAddr string) *exec.Cmd) *function {
	t.Helper()
	f := &function{logs: new(launch.Buffer), seen: seen, kms: fnKMS}
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_LAMBDA_MAX_CONCURRENCY=") {
			f.lmi = true
		}
	}
	p, url, err := launch.StartEmulatorWith(context.Background(), "function", command, f.logs)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	f.proc, f.url = p, url
	t.Cleanup(func() {
		f.proc.Stop()
		if t.Failed() {
			t.Logf("function output:\n%s", f.logs)
		}
	})
	return f
}

// result is the emulator's answer: the result, or the error report.
type result struct {
	body      []byte
	errorType string
	message   string
	fields    []string // the members of an error report
}

// invoke sends an event with the given request headers and returns the
// answer. The emulator fails on concurrent invocations of one function,
// unless in Managed Instances mode, so invoke serialises them otherwise.
func (f *function) invoke(t *testing.T, event []byte, hdr ...string) result {
	t.Helper()
	if !f.lmi {
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	req, err := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("invoke: %v", err)
		return result{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("invoke: %v", err)
		return result{}
	}
	r := result{body: body}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		if typ, ok := m["errorType"]; ok {
			_ = json.Unmarshal(typ, &r.errorType)
			_ = json.Unmarshal(m["errorMessage"], &r.message)
			for k := range m {
				r.fields = append(r.fields, k)
			}
		}
	}
	if resp.StatusCode != http.StatusOK && r.errorType == "" {
		// The emulator's own failure (the function did not start).
		r.errorType = "HTTP " + resp.Status
	}
	return r
}

// seenEvents returns the events the handler saw, by request id.
func (f *function) seenEvents(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(f.seen)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(f.seen, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(de.Name(), ".json")] = string(b)
	}
	return out
}

// records returns the log records of the contract and of the proxy (JSON
// lines whose msg begins with "lambdamw:" or "sfnenc-proxy:").
func (f *function) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(f.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '{'); i >= 0 {
			var m map[string]any
			if json.Unmarshal([]byte(line[i:]), &m) == nil {
				if msg, _ := m["msg"].(string); strings.HasPrefix(msg, "lambdamw:") || strings.HasPrefix(msg, "sfnenc-proxy:") {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// proxyOutput is every record the contract and the proxy wrote.
func (f *function) proxyOutput(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(f.records(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noCanary fails the test if a canary is in s.
func noCanary(t *testing.T, what, s string) {
	t.Helper()
	leaktest.Check(t, what, s, canaries...)
}

// isToken reports whether the JSON value at the pointer-like path of doc is
// a token of class.
func tokenAt(t *testing.T, doc []byte, class string, path ...string) bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("result is not JSON: %v: %.300s", err, doc)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[p]
	}
	s, ok := v.(string)
	if !ok || !codec.IsToken(s) {
		return false
	}
	c, err := codec.ParseToken(s)
	return err == nil && c.Class == class
}

// startLayered runs argv as Lambda runs a managed runtime with the sfnenc
// layer: the layer (made by layer.Write, as make layer makes it) unpacked
// at /opt, the extension started by the emulator from /opt/extensions, and
// a bootstrap at /opt/bootstrap that applies AWS_LAMBDA_EXEC_WRAPPER as
// the managed runtimes' bootstrap scripts do (the emulator does not). /opt
// (and /var, where the emulator wants /var/task) are private to the
// emulator: it runs in a mount namespace of its own, which needs root.
func (e *env) startLayered(t *testing.T, argv []string, extra ...string) *function {
	t.Helper()
	return e.startLayer(t, true, argv, extra...)
}

// startLayeredWithout is startLayered with a layer that lacks the
// extension, as if it failed to start: only the wrapper is there.
func (e *env) startLayeredWithout(t *testing.T, argv []string, extra ...string) *function {
	t.Helper()
	return e.startLayer(t, false, argv, extra...)
}

func (e *env) startLayer(t *testing.T, withExtension bool, argv []string, extra ...string) *function {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "the extension-mode tests mount the layer at /opt in a private mount namespace, which needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		unavailable(t, "the extension-mode tests need unshare (util-linux): %v", err)
	}
	opt := t.TempDir()
	var zipped bytes.Buffer
	if err := layer.Write(&zipped, e.proxy); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if !withExtension && zf.Name == layer.ExtensionPath {
			continue
		}
		dst := filepath.Join(opt, zf.Name)
		if zf.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, zf.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	var quoted []string
	for _, a := range argv {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	bootstrap := "#!/bin/sh\n# As the managed runtimes' bootstrap scripts do.\nif [ -n \"$AWS_LAMBDA_EXEC_WRAPPER\" ]; then exec \"$AWS_LAMBDA_EXEC_WRAPPER\" " +
		strings.Join(quoted, " ") + "; fi\nexec " + strings.Join(quoted, " ") + "\n"
	if err := os.WriteFile(filepath.Join(opt, "bootstrap"), []byte(bootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	env, fnKMS, seen := functionEnv(t, append([]string{"AWS_LAMBDA_EXEC_WRAPPER=/opt/sfnenc-wrapper"}, extra...)...)
	// In Managed Instances mode the emulator runs the extension and the
	// runtime as another user: let it reach what the test made.
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			openUp(t, v, 0o1777)
		}
	}
	openUp(t, seen, 0o1777)
	openUp(t, opt, 0o755)
	for _, a := range argv {
		if strings.HasPrefix(a, filepath.Clean(os.TempDir())+string(filepath.Separator)) {
			openUp(t, filepath.Dir(a), 0o755)
		}
	}
	return startFunction(t, env, fnKMS, seen, func(invokeAddr, apiAddr string) *exec.Cmd {
		script := `mount --bind "$0" /opt && mount -t tmpfs tmpfs /var && mkdir /var/task && exec "$@"`
		args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, opt, e.rie}, launch.EmulatorArgs(invokeAddr, apiAddr)...)
		cmd := exec.Command("unshare", args...)
		cmd.Dir = opt
		cmd.Env = env
		return cmd
	})
}

// openUp sets the mode of dir, and makes the directories above it that
// are in the temporary directory searchable by others.
func openUp(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Dir(dir); strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// unavailable skips the test, or fails it in CI.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
