package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// TestRestoreFromSnapshot plays SnapStart, which no emulator can: the
// stand-in Runtime API answers the runtime's GET .../restore/next only when
// the test says the environment was restored. The stand-in (a double for
// fault injection) also plays an invocation before the snapshot, so that
// the proxy holds data keys then. After the restore, no data key of before
// may seal again and the AWS credentials must be fetched afresh: the
// credentials come from a container credentials endpoint (as SnapStart
// functions get them) that counts its requests, and KMS is local-kms,
// which counts its own.
func TestRestoreFromSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs local-kms")
	}
	kms := kmstest.Start(t)
	var credFetches atomic.Int32
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "snapstart-token" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		credFetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		exp := time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339)
		_, _ = w.Write([]byte(`{"AccessKeyId":"AKIDSNAP","SecretAccessKey":"snap-secret","Token":"snap-session","Expiration":"` + exp + `"}`))
	}))
	t.Cleanup(creds.Close)
	for _, kv := range kms.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_ACCESS_KEY_ID") || k == "AWS_SECRET_ACCESS_KEY" || k == "AWS_SESSION_TOKEN" {
			v = ""
		}
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.URL+"/2018-06-01/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "snapstart-token")
	t.Setenv("SFNENC_CONFIG", `{"encryptionContext":{"app":"proxy-test"},"keyrings":{"dev":{"kms":{"keyArn":"`+
		kms.KeyARN("primary")+`"}}},"rules":`+rules+`}`)
	t.Setenv("SFNENC_ERROR_CLASS", "diag")
	for _, k := range []string{"SFNENC_CLASSES", "SFNENC_CONFIG_FILE", "SFNENC_ACCEPT_PLAINTEXT"} {
		if v, ok := os.LookupEnv(k); ok {
			os.Unsetenv(k)
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}

	s := newStandIn(t)
	logs := new(launch.Buffer)
	builds := 0
	p := New(s.addr(), func() *lambdamw.Contract {
		builds++
		return lambdamw.NewContract(lambdamw.WithLogger(newLogger(logs)))
	})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	url := srv.URL

	// The writer: the state before, with its own data key.
	wr := kmsWriter(t, kms)
	event := func() []byte {
		out, err := wr.Encrypt(context.Background(), []byte(`{"customer":{"name":"Ann","ssn":"`+canary+`"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	invoke := func(id string) string {
		t.Helper()
		s.push(id, event())
		_, plain := get(t, url+"/2018-06-01/runtime/invocation/next")
		if !strings.Contains(string(plain), canary) {
			t.Fatalf("the runtime did not get the plaintext: %s", plain)
		}
		// The handler changes the value, so that the result is sealed anew
		// (a value returned unchanged is given back as its own token,
		// with no data key).
		post(t, url+"/2018-06-01/runtime/invocation/"+id+"/response", bytes.Replace(plain, []byte(canary), []byte(canary+"-checked"), 1))
		out := s.next(t)
		return string(out.body)
	}

	before := invoke("before-snapshot")
	if n := credFetches.Load(); n != 1 {
		t.Fatalf("credentials fetched %d times before the snapshot, want 1", n)
	}
	gen, dec := kms.Requests("GenerateDataKey"), kms.Requests("Decrypt")

	// The runtime asks for the restore; the snapshot is taken; the
	// environment is restored and the answer comes.
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, _ := get(t, url+"/2018-06-01/runtime/restore/next")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("restore/next: HTTP %d", resp.StatusCode)
		}
	}()
	time.Sleep(50 * time.Millisecond) // the runtime waits in restore/next
	if builds != 1 {
		t.Fatalf("the contract was rebuilt before the restore")
	}
	close(s.restored)
	<-done
	if builds != 2 {
		t.Fatalf("the contract was built %d times, want 2: once at start, once after the restore", builds)
	}

	after := invoke("after-restore")
	if n := credFetches.Load(); n != 2 {
		t.Errorf("credentials fetched %d times in all, want 2: the ones of before the snapshot were used again", n)
	}
	if n := kms.Requests("GenerateDataKey") - gen; n != 1 {
		t.Errorf("GenerateDataKey after the restore: %d, want 1: a data key of before the snapshot sealed again", n)
	}
	if n := kms.Requests("Decrypt") - dec; n != 1 {
		t.Errorf("Decrypt after the restore: %d, want 1: an unwrapped key of before the snapshot was used again", n)
	}
	// The tokens of the two results have different data keys: the part
	// of a token before its sealed value (header and wrapped key)
	// differs.
	if wrappedKey(t, before) == wrappedKey(t, after) {
		t.Errorf("the result after the restore was sealed under the data key of before")
	}
	if !strings.Contains(logs.String(), "sfnenc-proxy: restored") {
		t.Errorf("no record of the restore: %s", logs)
	}
}

func newLogger(w *launch.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// kmsWriter is a codec of the test with its own KMS client and caches.
func kmsWriter(t *testing.T, kms *kmstest.Server) *codec.Codec {
	t.Helper()
	cfg, err := codec.ParseConfig([]byte(`{"encryptionContext":{"app":"proxy-test"},"keyrings":{"dev":{"kms":{"keyArn":"` +
		kms.KeyARN("primary") + `"}}},"rules":` + rules + `}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(kms.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrappedKey returns the part of the result's SSN token that holds its
// class, key ARN and wrapped data key: all but the sealed value at its
// end (a 96-bit nonce, the 19-byte value, the tag and the commitment are
// under 120 characters of base64).
func wrappedKey(t *testing.T, doc string) string {
	t.Helper()
	var v struct {
		Customer struct {
			SSN string `json:"ssn"`
		} `json:"customer"`
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil || !codec.IsToken(v.Customer.SSN) || len(v.Customer.SSN) < 300 {
		t.Fatalf("no KMS token at /customer/ssn: %v: %.300s", err, doc)
	}
	return v.Customer.SSN[:len(v.Customer.SSN)-120]
}
