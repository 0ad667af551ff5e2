package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/iamsim"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

const account = "111122223333"

// recorded is a KMS request of a real run, and who made it.
type recorded struct {
	by string
	kmstest.Request
}

// signature is what tells two requests apart for a policy: the action,
// the key, the class and the context keys.
func (r recorded) signature() string {
	return r.Op + " " + r.KeyID + " " + r.EncryptionContext[format.ClassKey] + " " + strings.Join(slices.Sorted(maps.Keys(r.EncryptionContext)), ",")
}

// TestPoliciesInTheSimulator records the KMS requests of real runs against
// local-kms (which enforces no policy) for each principal of a
// configuration with ESDK mode and a bound business key, envelope mode,
// keyset mode and a break-glass key, and evaluates each request, with the
// policies Build writes, in an offline IAM policy simulator
// (@cloud-copilot/iam-simulate: a model of IAM's evaluation, not AWS's):
// each request is allowed for the roles whose own runs make it and denied
// for every other; and the attacks on each (an extra context key, another
// stage, another class, no MFA for the break-glass role, a grant or a
// re-encryption, an unknown role) are denied.
func TestPoliciesInTheSimulator(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keysets")
	primary, other, bg := srv.KeyARN("primary"), srv.KeyARN("other"), srv.KeyARN("breakglass")
	rules := `"rules":[{"class":"identity","keyring":"main","select":["$..ssn"],"format":"esdk","bind":"$.caseId"},
		         {"class":"contact","keyring":"main","select":["$..phone"]},
		         {"class":"session","keyring":"compact","select":["$..url"]}]`
	parse := func(js string) *codec.Config {
		t.Helper()
		c, err := codec.ParseConfig([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := parse(fmt.Sprintf(`{"encryptionContext":{"app":"kyc","stage":"prod"},
		"keyrings":{"main":{"kms":{"keyArn":%q,"breakGlassKeyArns":[%q]}},
		            "compact":{"kmsKeyset":{"keyArn":%q,"breakGlassKeyArns":[%q],"dir":%q}}},%s}`, primary, bg, other, bg, dir, rules))
	// The break-glass procedure reads with the break-glass key as keyArn.
	bgcfg := parse(fmt.Sprintf(`{"encryptionContext":{"app":"kyc","stage":"prod"},
		"keyrings":{"main":{"kms":{"keyArn":%q}},"compact":{"kmsKeyset":{"keyArn":%q,"dir":%q}}},%s}`, bg, bg, dir, rules))

	principals := []Principal{
		{Name: "kyc-intake", Kind: Function, Writes: []string{"identity", "contact"}},
		{Name: "kyc-screen", Kind: Function, Reads: []string{"identity"}, Writes: []string{"session"}},
		{Name: "kyc-notify", Kind: Function, Reads: []string{"contact", "session"}},
		{Name: "kyc-operator", Kind: Reader, Reads: []string{"contact"}},
		{Name: "kyc-keys", Kind: KeysetAdmin, Reads: []string{"session"}},
		{Name: "kyc-break-glass", Kind: BreakGlass, Reads: []string{"identity", "contact", "session"}},
	}
	for i := range principals {
		principals[i].RoleName = principals[i].Name
	}
	pols, err := Build(Input{Config: cfg, Principals: principals})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, pols); err != nil {
		t.Fatal(err)
	}
	var docs struct{ Roles, Keys map[string]json.RawMessage }
	if err := json.Unmarshal(buf.Bytes(), &docs); err != nil {
		t.Fatal(err)
	}

	// The real runs, one principal at a time, each with a fresh codec so
	// that no cache hides a request.
	ac := srv.Config(t, config.WithRetryMaxAttempts(1))
	newCodec := func(c *codec.Config, opts ...codec.Option) *codec.Codec {
		t.Helper()
		cd, err := codec.New(ctx, c, append([]codec.Option{codec.WithKMSClients(envelope.KMSClients(ac)), codec.WithESDK(esdk.Factory(ac))}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cd
	}
	var recs []recorded
	srv.Record()
	take := func(by string) {
		for _, r := range srv.Recorded()[len(recs):] {
			recs = append(recs, recorded{by: by, Request: r})
		}
	}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	admin, err := keyset.NewStore(dir, envelope.KMSClients(ac), other, bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, "session", cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Rotate(ctx, "session", cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}
	take("kyc-keys")
	doc := must(newCodec(cfg).Encrypt(ctx, []byte(`{"caseId":"C-7","ssn":"078-05-1120","phone":"+44 20 7946 0000"}`)))
	take("kyc-intake")
	screen := newCodec(cfg, codec.WithClasses("identity"))
	must(screen.Decrypt(ctx, doc))
	doc = must(screen.Encrypt(ctx, append(bytes.TrimSuffix(doc, []byte("}")), []byte(`,"url":"https://idp.example/s/1"}`)...)))
	take("kyc-screen")
	must(newCodec(cfg, codec.WithClasses("contact", "session")).Decrypt(ctx, doc))
	take("kyc-notify")
	must(newCodec(cfg, codec.WithClasses("contact")).Decrypt(ctx, doc))
	take("kyc-operator")
	must(newCodec(bgcfg).Decrypt(ctx, doc))
	take("kyc-break-glass")

	makes := map[string]map[string]bool{} // principal -> signatures of its runs
	for _, r := range recs {
		if makes[r.by] == nil {
			makes[r.by] = map[string]bool{}
		}
		makes[r.by][r.signature()] = true
	}
	for _, p := range principals {
		if len(makes[p.Name]) == 0 {
			t.Fatalf("%s made no KMS request", p.Name)
		}
	}

	type check struct {
		what string
		req  iamsim.Request
		want bool // allowed
	}
	var checks []check
	request := func(role, action string, r kmstest.Request, mfa bool) iamsim.Request {
		c := map[string]any{"aws:PrincipalArn": "arn:aws:iam::" + account + ":role/" + role}
		for k, v := range r.EncryptionContext {
			c["kms:EncryptionContext:"+k] = v
		}
		c["kms:EncryptionContextKeys"] = slices.Sorted(maps.Keys(r.EncryptionContext))
		if mfa {
			c["aws:MultiFactorAuthPresent"] = "true"
		}
		return iamsim.Request{Principal: "arn:aws:iam::" + account + ":role/" + role, Action: action, Resource: r.KeyID, Account: account,
			Context: c, IdentityPolicy: docs.Roles[role], ResourcePolicy: docs.Keys[r.KeyID]}
	}
	isBG := func(role string) bool { return role == "kyc-break-glass" }
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.signature()] {
			continue
		}
		seen[r.signature()] = true
		for _, p := range principals {
			checks = append(checks, check{fmt.Sprintf("%s (made by %s) as %s", r.signature(), r.by, p.Name),
				request(p.Name, "kms:"+r.Op, r.Request, isBG(p.Name)), makes[p.Name][r.signature()]})
		}
		own := func(mod func(*kmstest.Request)) kmstest.Request {
			c := r.Request
			c.EncryptionContext = maps.Clone(c.EncryptionContext)
			mod(&c)
			return c
		}
		by := r.by
		checks = append(checks,
			check{r.signature() + ": an extra context key", request(by, "kms:"+r.Op, own(func(c *kmstest.Request) { c.EncryptionContext["tenant"] = "t-1" }), isBG(by)), false},
			check{r.signature() + ": another stage", request(by, "kms:"+r.Op, own(func(c *kmstest.Request) { c.EncryptionContext["stage"] = "dev" }), isBG(by)), false},
			check{r.signature() + ": another class", request(by, "kms:"+r.Op, own(func(c *kmstest.Request) { c.EncryptionContext[format.ClassKey] = "payment" }), isBG(by)), false},
			check{r.signature() + ": no class", request(by, "kms:"+r.Op, own(func(c *kmstest.Request) { delete(c.EncryptionContext, format.ClassKey) }), isBG(by)), false},
			check{r.signature() + ": CreateGrant", request(by, "kms:CreateGrant", r.Request, isBG(by)), false},
			check{r.signature() + ": ReEncryptFrom", request(by, "kms:ReEncryptFrom", r.Request, isBG(by)), false},
			check{r.signature() + ": GenerateDataKeyWithoutPlaintext", request(by, "kms:GenerateDataKeyWithoutPlaintext", r.Request, isBG(by)), false},
			check{r.signature() + ": a role of no policy", request("intruder", "kms:"+r.Op, r.Request, true), false},
		)
		if isBG(by) {
			checks = append(checks, check{r.signature() + ": break-glass without MFA", request(by, "kms:"+r.Op, r.Request, false), false})
		}
	}
	reqs := make([]iamsim.Request, len(checks))
	for i, c := range checks {
		reqs[i] = c.req
	}
	got := iamsim.Run(t, reqs)
	allowed := 0
	for i, c := range checks {
		if ok := got[i] == iamsim.Allowed; ok != c.want {
			t.Errorf("%s: %s, want allowed=%v", c.what, got[i], c.want)
		}
		if got[i] == iamsim.Allowed {
			allowed++
		}
	}
	t.Logf("%d distinct KMS requests recorded, %d evaluations, %d allowed", len(seen), len(checks), allowed)
}
