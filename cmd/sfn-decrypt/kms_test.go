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

// TestHistoryKMS reads a history encrypted under KMS keys of a local-kms
// server, from a file and through the Step Functions API, and checks that
// every KMS and Step Functions call carries the reason in its User-Agent.
func TestHistoryKMS(t *testing.T) {
	kms := kmstest.Start(t)
	rec := newKMSRecorder(t, kms.Endpoint())
	dir := t.TempDir()
	cfgJSON := `{"encryptionContext": {"app": "orders"},
		"keyrings": {"kms": {"kms": {"keyArn": "` + kms.KeyARN("primary") + `", "breakGlassKeyArns": ["` + kms.KeyARN("breakglass") + `"]}}},
		"rules": [
			{"class": "identity", "keyring": "kms", "select": ["$..ssn", "$..passport"]},
			{"class": "contact", "keyring": "kms", "select": ["$..email", "$..phone"]},
			{"class": "payment", "keyring": "kms", "select": ["$..card"]},
			{"class": "diagnostics", "keyring": "kms", "select": ["$.errorMessage"]}
		]}`
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := codec.ParseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(kms.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	plain := readFile(t, fixture("orders.json"))
	enc, _ := (&generator{reader: writer}).encrypt(t, "orders", plain)
	encPath := filepath.Join(dir, "orders.kms.json")
	if err := os.WriteFile(encPath, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	if kms.Requests("GenerateDataKey") == 0 {
		t.Fatal("no GenerateDataKey call made the fixture")
	}
	sfnSrv := startSFN(t, recording{Histories: map[string]recordedHistory{execARN: {File: encPath, PageSize: 10}}}, dir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+rec.URL, "AWS_ENDPOINT_URL_SFN="+sfnSrv.URL)

	checkUA := func(t *testing.T, ops []string, wantDecrypt bool) {
		t.Helper()
		decrypts := 0
		for _, op := range ops {
			if !strings.Contains(op, " app/INC-7-kms-check") {
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

	for name, src := range map[string][]string{"file": {encPath}, "api": {"--execution-arn", execARN}} {
		t.Run(name, func(t *testing.T) {
			rec.take()
			args := append([]string{"history", "--config", cfgPath, "--reason", "INC-7 kms check"}, src...)
			out, stderr, code := runCmd(t, "", args...)
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if diff := cmp.Diff(string(plain), out); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
			checkUA(t, rec.take(), true)
			for _, r := range sfnSrv.Requests() {
				if !strings.Contains(r.UserAgent, " app/INC-7-kms-check") {
					t.Errorf("Step Functions request without the reason: %s", r.UserAgent)
				}
			}
		})
	}

	t.Run("denied", func(t *testing.T) {
		// Fault injection: local-kms has no key policies, so the proxy
		// answers Decrypt as AWS KMS does for a caller without kms:Decrypt.
		kms.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.AccessDenied})
		defer kms.ClearFaults()
		rec.take()
		out, stderr, code := runCmd(t, "", "history", "--config", cfgPath, "--reason", "INC-7 kms check", "--output", "text", encPath)
		if code != exitTokens {
			t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitTokens, stderr)
		}
		if !strings.Contains(out, `"ssn": "sfnenc:`) || !strings.Contains(out, "# NOT DECRYPTED (class identity): KMS denied access to the key") {
			t.Errorf("text output does not keep and mark the tokens:\n%s", out)
		}
		if !strings.Contains(stderr, "not decrypted: event 1 (ExecutionStarted) /executionStartedEventDetails/input at /customer/ssn, class identity: KMS denied access to the key") {
			t.Errorf("stderr does not list the failure:\n%s", stderr)
		}
		assertNoCanary(t, "output", out)
		assertNoCanary(t, "stderr", stderr)
		checkUA(t, rec.take(), true)
	})

	t.Run("unavailable", func(t *testing.T) {
		kms.Stop()
		out, stderr, code := runCmd(t, "", "history", "--config", cfgPath, "--reason", "INC-7 kms check", encPath)
		if code != exitFail {
			t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFail, stderr)
		}
		if !strings.Contains(stderr, "KMS unavailable") {
			t.Errorf("stderr does not say KMS is unavailable:\n%s", stderr)
		}
		assertNoCanary(t, "output", out)
	})
}
