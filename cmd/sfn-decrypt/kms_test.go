package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// kmsRecorder is a reverse proxy in front of a kmstest server that keeps
// the operation and User-Agent of every request, which kmstest does not
// expose.
type kmsRecorder struct {
	URL string
	mu  sync.Mutex
	ops []string // "<operation> <User-Agent>"
}

func newKMSRecorder(t *testing.T, target string) *kmsRecorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &kmsRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		op := req.Header.Get("X-Amz-Target")
		r.mu.Lock()
		r.ops = append(r.ops, op[strings.LastIndexByte(op, '.')+1:]+" "+req.Header.Get("User-Agent"))
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *kmsRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// newKMSWriter writes to dir a configuration whose rules encrypt under the
// KMS keyring kmsKeyring (the JSON object of a "kms" keyring), and returns
// its path and a codec by it that reaches the local-kms server kms.
func newKMSWriter(t *testing.T, kms *kmstest.Server, dir, kmsKeyring string) (cfgPath string, writer *codec.Codec) {
	cfgJSON := `{"encryptionContext": {"app": "orders"},
		"keyrings": {"kms": {"kms": ` + kmsKeyring + `}},
		"rules": [
			{"class": "identity", "keyring": "kms", "select": ["$..ssn", "$..passport"]},
			{"class": "contact", "keyring": "kms", "select": ["$..email", "$..phone"]},
			{"class": "payment", "keyring": "kms", "select": ["$..card"]},
			{"class": "diagnostics", "keyring": "kms", "select": ["$.errorMessage"]}
		]}`
	cfgPath = filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := codec.ParseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	writer, err = codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(kms.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	return cfgPath, writer
}

// writeKMSFixture writes to path a fixture that a writer of newKMSWriter
// encrypted, once KMS has made data keys for it.
func writeKMSFixture(t *testing.T, kms *kmstest.Server, path string, enc []byte) {
	if err := os.WriteFile(path, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	if kms.Requests("GenerateDataKey") == 0 {
		t.Fatal("no GenerateDataKey call made the fixture")
	}
}

// checkKMSCalls checks that every KMS call of ops (from kmsRecorder) carries
// the application id app in its User-Agent and, if wantDecrypt, that one of
// them is a Decrypt.
func checkKMSCalls(t *testing.T, ops []string, app string, wantDecrypt bool) {
	t.Helper()
	decrypts := 0
	for _, op := range ops {
		if !strings.Contains(op, " app/"+app) {
			t.Errorf("KMS request without the reason: %s", op)
		}
		if strings.HasPrefix(op, "Decrypt ") {
			decrypts++
		}
	}
	if wantDecrypt && decrypts == 0 {
		t.Errorf("no KMS Decrypt call: %v", ops)
	}
}

// runKMSRead runs the command with args, which must succeed on a fixture of
// newKMSWriter, and returns its output. Every KMS call it makes (rec records
// them) must carry the application id app, and one must be a Decrypt.
func runKMSRead(t *testing.T, rec *kmsRecorder, app string, args ...string) string {
	t.Helper()
	rec.take()
	out, stderr, code := runCmd(t, "", args...)
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	checkKMSCalls(t, rec.take(), app, true)
	return out
}

// checkKMSDenied runs the command with args (text output of a fixture of
// newKMSWriter) while KMS denies Decrypt, as AWS KMS does for a caller
// without kms:Decrypt (fault injection: local-kms has no key policies). The
// token of member, of class, must stay in the output, marked, and the
// failure be listed on stderr as wantStderr.
func checkKMSDenied(t *testing.T, kms *kmstest.Server, member, class, wantStderr string, args ...string) {
	t.Helper()
	kms.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.AccessDenied})
	defer kms.ClearFaults()
	out, stderr, code := runCmd(t, "", args...)
	if code != exitTokens {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitTokens, stderr)
	}
	if !strings.Contains(out, `"`+member+`": "sfnenc:`) || !strings.Contains(out, "# NOT DECRYPTED (class "+class+"): KMS denied access to the key") {
		t.Errorf("text output does not keep and mark the tokens:\n%s", out)
	}
	if !strings.Contains(stderr, wantStderr) {
		t.Errorf("stderr does not list the failure:\n%s", stderr)
	}
	assertNoCanary(t, "output", out)
	assertNoCanary(t, "stderr", stderr)
}

// checkKMSUnavailable stops KMS and runs the command with args, which must
// fail saying that KMS is unavailable.
func checkKMSUnavailable(t *testing.T, kms *kmstest.Server, args ...string) {
	t.Helper()
	kms.Stop()
	out, stderr, code := runCmd(t, "", args...)
	if code != exitFail {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFail, stderr)
	}
	if !strings.Contains(stderr, "KMS unavailable") {
		t.Errorf("stderr does not say KMS is unavailable:\n%s", stderr)
	}
	assertNoCanary(t, "output", out)
}

// TestHistoryKMS reads a history encrypted under KMS keys of a local-kms
// server, from a file and through the Step Functions API, and checks that
// every KMS and Step Functions call carries the reason in its User-Agent.
func TestHistoryKMS(t *testing.T) {
	kms := kmstest.Start(t)
	rec := newKMSRecorder(t, kms.Endpoint())
	dir := t.TempDir()
	cfgPath, writer := newKMSWriter(t, kms, dir, `{"keyArn": "`+kms.KeyARN("primary")+`", "breakGlassKeyArns": ["`+kms.KeyARN("breakglass")+`"]}`)
	plain := readFile(t, fixture("orders.json"))
	enc, _ := (&generator{reader: writer}).encrypt(t, "orders", plain)
	encPath := filepath.Join(dir, "orders.kms.json")
	writeKMSFixture(t, kms, encPath, enc)
	sfnSrv := startSFN(t, recording{Histories: map[string]recordedHistory{execARN: {File: encPath, PageSize: 10}}}, dir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+rec.URL, "AWS_ENDPOINT_URL_SFN="+sfnSrv.URL)

	for name, src := range map[string][]string{"file": {encPath}, "api": {"--execution-arn", execARN}} {
		t.Run(name, func(t *testing.T) {
			out := runKMSRead(t, rec, "INC-7-kms-check", append([]string{"history", "--config", cfgPath, "--reason", "INC-7 kms check"}, src...)...)
			if diff := cmp.Diff(string(plain), out); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
			for _, r := range sfnSrv.Requests() {
				if !strings.Contains(r.UserAgent, " app/INC-7-kms-check") {
					t.Errorf("Step Functions request without the reason: %s", r.UserAgent)
				}
			}
		})
	}

	t.Run("denied", func(t *testing.T) {
		rec.take()
		checkKMSDenied(t, kms, "ssn", "identity",
			"not decrypted: 10 tokens, class identity: KMS denied access to the key (",
			"history", "--config", cfgPath, "--reason", "INC-7 kms check", "--output", "text", encPath)
		ops := rec.take()
		checkKMSCalls(t, ops, "INC-7-kms-check", true)
		// One writer made the fixture: one data key per class. A refusal
		// is remembered per wrapped key for the run, so the dozens of
		// tokens cost one Decrypt per class, not one each.
		decrypts := 0
		for _, op := range ops {
			if strings.HasPrefix(op, "Decrypt ") {
				decrypts++
			}
		}
		if decrypts > 4 {
			t.Errorf("%d KMS Decrypt calls while denied, want at most one per class (4)", decrypts)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		checkKMSUnavailable(t, kms, "history", "--config", cfgPath, "--reason", "INC-7 kms check", encPath)
	})
}
