package codec

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// TestKMSRequestsAreWhatTheCodecSends holds Config.KMSRequests, the list
// that policies are written from, to the requests a real run sends to KMS:
// every recorded request is one the list names for its class and duty
// (action, key, every context key, the fixed values), and every request the
// list names was made. A context key the codec starts to send, or a key it
// starts to call, fails this test until the list says so.
func TestKMSRequestsAreWhatTheCodecSends(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	primary, bg := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	js := fmt.Sprintf(`{"encryptionContext":{"app":"policy-test","stage":"dev"},
		"keyrings":{"main":{"kms":{"keyArn":%q,"breakGlassKeyArns":[%q]}},
		            "ks":{"kmsKeyset":{"keyArn":%q,"breakGlassKeyArns":[%q],"dir":%q}}},
		"rules":[{"class":"contact","keyring":"main","select":["$..phone"]},
		         {"class":"identity","keyring":"main","select":["$..ssn"],"format":"esdk","bind":"$.caseId"},
		         {"class":"session","keyring":"ks","select":["$..url"]},
		         {"class":"verdict","keyring":"main","select":["$..verdict"],"signed":true,"context":{"tenant":"$.tenantId"}},
		         {"class":"ticket","keyring":"ks","select":["$..ticket"],"signed":true}]}`, primary, bg, primary, bg, filepath.Join(dir, "keysets"))
	cfg, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	ac := srv.Config(t, config.WithRetryMaxAttempts(1))

	// check compares what was recorded since the last call with the list.
	seen := 0
	check := func(t *testing.T, d Duty, classes ...string) {
		t.Helper()
		recs := srv.Recorded()[seen:]
		seen += len(recs)
		type req struct{ Action, Key, Class, Role string }
		got := map[req]bool{}
		for _, r := range recs {
			class := r.EncryptionContext[format.ClassKey]
			list, err := cfg.KMSRequests(class, d)
			if err != nil {
				t.Fatalf("%s %s: %v", r.Op, r.KeyID, err)
			}
			// A signed keyset file's copies differ by sfnenc:role.
			i := slices.IndexFunc(list, func(q KMSRequest) bool {
				return q.Action == "kms:"+r.Op && q.KeyARN == r.KeyID && q.Context[keyset.RoleKey] == r.EncryptionContext[keyset.RoleKey]
			})
			if i < 0 {
				t.Errorf("%s: %s on %s for class %q is not in KMSRequests(%q, %v): %+v", d, r.Op, r.KeyID, class, class, d, list)
				continue
			}
			q := list[i]
			if diff := cmp.Diff(q.ContextKeys, slices.Sorted(maps.Keys(r.EncryptionContext))); diff != "" {
				t.Errorf("%s: %s on %s for %q: context keys mismatch (-listed +sent):\n%s", d, r.Op, r.KeyID, class, diff)
			}
			for k, v := range q.Context {
				if r.EncryptionContext[k] != v {
					t.Errorf("%s: %s for %q: context %s = %q, listed %q", d, r.Op, class, k, r.EncryptionContext[k], v)
				}
			}
			got[req{q.Action, q.KeyARN, class, q.Context[keyset.RoleKey]}] = true
		}
		for _, class := range classes {
			list, _ := cfg.KMSRequests(class, d)
			for _, q := range list {
				if !got[req{q.Action, q.KeyARN, class, q.Context[keyset.RoleKey]}] {
					t.Errorf("%s: KMSRequests(%q) lists %s on %s (%v), which the run never sent", d, class, q.Action, q.KeyARN, q.Context)
				}
			}
		}
	}

	// ticket's file was made before the class was signed, by the
	// configuration of then (not recorded).
	old, err := keyset.NewStore(filepath.Join(dir, "keysets"), envelope.KMSClients(ac), primary, bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Create(ctx, "ticket", cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}

	srv.Record()
	admin, err := keyset.NewStore(filepath.Join(dir, "keysets"), envelope.KMSClients(ac), primary, bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, "session", cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Rotate(ctx, "session", cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}
	// The signed class's administrator converts ticket's file, then
	// rotates it as a signed file.
	signer, err := keyset.NewStore(filepath.Join(dir, "keysets"), envelope.KMSClients(ac), primary, bg)
	if err != nil {
		t.Fatal(err)
	}
	signer.SetSigned("ticket", true)
	for range 2 {
		if _, err := signer.Rotate(ctx, "ticket", cfg.EncryptionContext); err != nil {
			t.Fatal(err)
		}
	}
	check(t, KeysetAdmin, "session", "ticket")

	newCodec := func(c *Config) *Codec {
		t.Helper()
		cd, err := New(ctx, c, WithKMSClients(envelope.KMSClients(ac)), WithESDK(esdk.Factory(ac)))
		if err != nil {
			t.Fatal(err)
		}
		return cd
	}
	doc := []byte(`{"caseId":"C-1","tenantId":"T-9","phone":"` + canaryPhone + `","ssn":"` + canarySSN + `","url":"https://x.example/1","verdict":"ok","ticket":"t-1"}`)
	enc, err := newCodec(cfg).Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	check(t, Write, "contact", "identity", "session", "verdict", "ticket")

	if _, err := newCodec(cfg).Decrypt(ctx, enc); err != nil {
		t.Fatal(err)
	}
	check(t, Read, "contact", "identity", "session", "verdict", "ticket")

	// The break-glass procedure: a configuration whose keyArn is the
	// break-glass key.
	bgcfg, err := ParseConfig([]byte(fmt.Sprintf(`{"encryptionContext":{"app":"policy-test","stage":"dev"},
		"keyrings":{"main":{"kms":{"keyArn":%q}},"ks":{"kmsKeyset":{"keyArn":%q,"dir":%q}}},
		"rules":[{"class":"contact","keyring":"main","select":["$..phone"]},
		         {"class":"identity","keyring":"main","select":["$..ssn"],"format":"esdk","bind":"$.caseId"},
		         {"class":"session","keyring":"ks","select":["$..url"]},
		         {"class":"verdict","keyring":"main","select":["$..verdict"],"signed":true,"context":{"tenant":"$.tenantId"}},
		         {"class":"ticket","keyring":"ks","select":["$..ticket"],"signed":true}]}`, bg, bg, filepath.Join(dir, "keysets"))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newCodec(bgcfg).Decrypt(ctx, enc); err != nil {
		t.Fatal(err)
	}
	check(t, BreakGlassRead, "contact", "identity", "session", "verdict", "ticket")
}

func TestKMSRequestsUnknownClass(t *testing.T) {
	cfg := localConfig(t, `[{"class":"a","keyring":"dev","select":["$.a"]}]`)
	if _, err := cfg.KMSRequests("b", Read); err == nil {
		t.Fatal("KMSRequests of a class the configuration lacks: no error")
	}
	list, err := cfg.KMSRequests("a", Write)
	if err != nil || len(list) != 0 {
		t.Fatalf("a local keyring's class: %v, %v; want no request", list, err)
	}
}
