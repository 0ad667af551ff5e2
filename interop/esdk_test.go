package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/leaktest"
)

// jsDir holds the Node project; `make node-deps` installs its node_modules.
const jsDir = "esdk-js"

// canary is a value the tests encrypt and then look for in every output that
// must not hold it.
const canary = "078-05-CANARY-1120"

// encContext is the configured encryption context of every test.
var encContext = map[string]string{"app": "interop", "stage": "test"}

// doc is written as JSON.stringify writes it (compact, keys in insertion
// order, no \u escapes that it would not make), so that a value the Node
// script re-serialises has exactly the bytes it has here.
const doc = `{"id":"APP-1","applicant":{"name":"Ada","ssn":"` + canary + `",` +
	`"dob":{"y":1990,"m":7,"tags":[1,2.5,true,null]},"note":"línea\nzwei \"q\"","phone":"+44 20 7946 0000"},` +
	`"history":[{"ssn":"123-45-6789"},{"phone":"+1 555 0100"}],"amount":2500.5}`

// want are the JSON texts of the values the ESDK rules select in doc, by JSON
// Pointer.
var want = map[string]string{
	"/applicant/ssn":  `"` + canary + `"`,
	"/applicant/dob":  `{"y":1990,"m":7,"tags":[1,2.5,true,null]}`,
	"/applicant/note": `"línea\nzwei \"q\""`,
	"/history/0/ssn":  `"123-45-6789"`,
}

// goCodec returns a codec with two ESDK-mode classes (one padded) and one
// native class, all under the primary key plus the break-glass key, and
// with classes, if given, as the only classes it decrypts.
func goCodec(t testing.TB, srv *kmstest.Server, classes ...string) *codec.Codec {
	t.Helper()
	ec, _ := json.Marshal(encContext)
	cfg, err := codec.ParseConfig(fmt.Appendf(nil, `{"encryptionContext":%s,
		"keyrings":{"main":{"kms":{"keyArn":%q,"breakGlassKeyArns":[%q]}}},
		"rules":[{"class":"identity","keyring":"main","select":["$..ssn","$.applicant.dob"],"format":"esdk"},
		         {"class":"secret","keyring":"main","select":["$.applicant.note"],"format":"esdk","pad":32},
		         {"class":"contact","keyring":"main","select":["$..phone"]}]}`,
		ec, srv.KeyARN("primary"), srv.KeyARN("breakglass")))
	if err != nil {
		t.Fatal(err)
	}
	ac := srv.Config(t, config.WithRetryMaxAttempts(1))
	opts := []codec.Option{codec.WithKMSClients(envelope.KMSClients(ac)), codec.WithESDK(esdk.Factory(ac))}
	if len(classes) > 0 {
		opts = append(opts, codec.WithClasses(classes...))
	}
	c, err := codec.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nodeRequest and nodeResponse are the script's stdin and stdout.
type nodeRequest struct {
	Document          json.RawMessage     `json:"document"`
	EncryptionContext map[string]string   `json:"encryptionContext"`
	KeyARNs           []string            `json:"keyArns"`
	Rules             map[string][]string `json:"rules,omitempty"`
	Endpoint          string              `json:"endpoint,omitempty"`
}

type nodeResponse struct {
	Document json.RawMessage `json:"document"`
	Fields   []struct {
		Pointer   string `json:"pointer"`
		Class     string `json:"class"`
		Plaintext []byte `json:"plaintext"` // base64 in JSON
	} `json:"fields"`
}

// needNode returns the node binary, skipping the test (failing it with
// CI=true) when node or the npm packages are missing.
func needNode(t testing.TB) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format+" (required with CI=true)", args...)
		}
		t.Skipf(format+" (skipped; with CI=true this fails)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not on PATH: install Node 20")
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "@aws-crypto", "client-node")); err != nil {
		missing("%s/node_modules lacks @aws-crypto/client-node: run `make node-deps`", jsDir)
	}
	return node
}

// nodeEnv is the environment of a Node process that uses the KMS of srv.
// The AWS SDK for JavaScript warns on stderr that it will need Node 22
// from 2027; the variable turns that off, so that stderr holds only the
// script's own messages.
func nodeEnv(srv *kmstest.Server) []string {
	return append(os.Environ(), append(srv.Env(), "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true")...)
}

// runNode runs the script with cmd and req through the KMS of srv.
func runNode(t testing.TB, srv *kmstest.Server, cmd string, req nodeRequest) (stdout, stderr []byte, err error) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(needNode(t), "sfnenc-esdk.mjs", cmd)
	c.Dir = jsDir
	c.Env = nodeEnv(srv)
	if req.Endpoint != "" {
		// Only the explicit endpoint leads to KMS: nothing listens on
		// port 1.
		c.Env = append(c.Env, "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:1")
	}
	c.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err = c.Run()
	return out.Bytes(), errb.Bytes(), err
}

func mustNode(t testing.TB, srv *kmstest.Server, cmd string, req nodeRequest) nodeResponse {
	t.Helper()
	out, stderr, err := runNode(t, srv, cmd, req)
	if err != nil {
		t.Fatalf("node %s: %v\n%s", cmd, err, stderr)
	}
	var r nodeResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node %s output: %v", cmd, err)
	}
	return r
}

// value decodes a JSON text for comparison by value.
func value(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return v
}

// plaintexts returns the fields of r by pointer, with padding removed, and
// checks that each has the class the Go rules give it.
func plaintexts(t *testing.T, r nodeResponse) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, f := range r.Fields {
		want := "identity"
		if f.Pointer == "/applicant/note" {
			want = "secret"
		}
		if f.Class != want {
			t.Errorf("%s: class %q, want %q", f.Pointer, f.Class, want)
		}
		got[f.Pointer] = strings.TrimRight(string(f.Plaintext), " ")
	}
	return got
}

func TestGoEncryptsNodeDecrypts(t *testing.T) {
	needNode(t)
	srv := kmstest.Start(t)
	ctx := context.Background()
	enc, err := goCodec(t, srv).Encrypt(ctx, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// What Node must give back: the ESDK fields decrypted, the native
	// (contact) tokens untouched.
	wantDoc, err := goCodec(t, srv, "identity", "secret").Decrypt(ctx, enc)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(wantDoc, []byte(`"sfnenc:`)); n != 2 {
		t.Fatalf("%d native tokens left, want 2", n)
	}

	for _, tt := range []struct{ key, endpoint string }{
		{"primary", ""},                // endpoint from AWS_ENDPOINT_URL_KMS
		{"breakglass", srv.Endpoint()}, // explicit endpoint
	} {
		t.Run("key="+tt.key, func(t *testing.T) {
			r := mustNode(t, srv, "decrypt", nodeRequest{Document: enc, EncryptionContext: encContext, KeyARNs: []string{srv.KeyARN(tt.key)}, Endpoint: tt.endpoint})
			if diff := cmp.Diff(value(t, wantDoc), value(t, r.Document)); diff != "" {
				t.Errorf("document mismatch (-want +got):\n%s", diff)
			}
			// Byte for byte: the JSON texts that Go sealed.
			if diff := cmp.Diff(want, plaintexts(t, r)); diff != "" {
				t.Errorf("plaintexts mismatch (-want +got):\n%s", diff)
			}
			for _, f := range r.Fields {
				if f.Pointer == "/applicant/note" && len(f.Plaintext)%32 != 0 {
					t.Errorf("padded plaintext of %d bytes, want a multiple of 32", len(f.Plaintext))
				}
			}
		})
	}
}

func TestNodeEncryptsGoDecrypts(t *testing.T) {
	needNode(t)
	srv := kmstest.Start(t)
	ctx := context.Background()
	r := mustNode(t, srv, "encrypt", nodeRequest{
		Document:          json.RawMessage(doc),
		EncryptionContext: encContext,
		KeyARNs:           []string{srv.KeyARN("primary"), srv.KeyARN("breakglass")},
		Rules: map[string][]string{
			"identity": {"applicant.ssn", "applicant.dob", "history.0.ssn", "applicant.missing"},
			"secret":   {"applicant.note"},
		},
	})
	if bytes.Contains(r.Document, []byte(canary)) {
		t.Fatal("encrypted document holds the canary")
	}
	var toks []string
	for _, v := range leaktest.StringValues(t, r.Document) {
		if format.IsToken([]byte(v)) {
			toks = append(toks, v)
		}
	}
	if len(toks) != len(want) {
		t.Fatalf("%d tokens, want %d", len(toks), len(want))
	}
	for _, s := range toks {
		tok, err := format.Decode([]byte(s), nil)
		if err != nil {
			t.Fatal(err)
		}
		// An ESDK message of format version 2, suite 0x0478.
		if tok.Mode != format.ModeESDK || !bytes.HasPrefix(tok.Payload, []byte{0x02, 0x04, 0x78}) {
			t.Errorf("class %s: mode %v, message starts % x", tok.Class, tok.Mode, tok.Payload[:3])
		}
	}
	if diff := cmp.Diff(want, plaintexts(t, r)); diff != "" {
		t.Errorf("sealed plaintexts mismatch (-want +got):\n%s", diff)
	}

	// The Node script re-serialises with JSON.stringify, which writes doc
	// exactly as it is (see doc): the Go codec gives back its very bytes.
	dec, err := goCodec(t, srv).Decrypt(ctx, r.Document)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, string(dec)); diff != "" {
		t.Errorf("decrypted document mismatch (-want +got):\n%s", diff)
	}

	t.Run("Go refuses a class changed in the token header", func(t *testing.T) {
		tok, _ := format.Decode([]byte(toks[0]), nil)
		moved := append(format.AppendESDKHeader(nil, "contact"), tok.Payload...)
		// Class contact's rule reads native tokens only, so the message
		// never reaches the ESDK; if it did, its encryption context
		// (class identity) would refuse it.
		_, err := goCodec(t, srv).Decrypt(ctx, []byte(`["`+string(format.AppendText(nil, moved))+`"]`))
		if !errors.Is(err, envelope.ErrNoKey) {
			t.Errorf("err = %v, want envelope.ErrNoKey", err)
		}
	})
}

// TestNodeRefuses checks the reader's own checks: the class in the token
// header and the expected context must match the message's encryption
// context, and the suite must be 0x0478; otherwise the script exits with an
// error and writes no plaintext.
func TestNodeRefuses(t *testing.T) {
	node := needNode(t)
	srv := kmstest.Start(t)
	ctx := context.Background()
	enc, err := goCodec(t, srv).Encrypt(ctx, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Applicant struct{ SSN string }
	}
	if err := json.Unmarshal(enc, &d); err != nil {
		t.Fatal(err)
	}
	ssn, err := format.Decode([]byte(d.Applicant.SSN), nil)
	if err != nil {
		t.Fatal(err)
	}
	token := func(class string, msg []byte) string {
		return string(format.AppendText(nil, append(format.AppendESDKHeader(nil, class), msg...)))
	}
	altered := bytes.Clone(ssn.Payload)
	altered[len(altered)-1] ^= 1

	// Messages the Node script's encrypt never makes, from the JavaScript
	// ESDK directly: the signed suite 0x0578 (which the ESDK's decrypt
	// accepts under REQUIRE_DECRYPT) and a non-committing suite (which it
	// refuses itself).
	foreign := func(suite int) []byte {
		t.Helper()
		kc, _ := json.Marshal(format.KeyContext(encContext, "identity"))
		c := exec.Command(node, "--input-type=module", "-e", `
			import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node'
			const [arn, suiteId, ctx] = process.argv.slice(1)
			const committing = Number(suiteId) >= 0x0478
			const { encrypt } = buildClient(committing ? CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT : CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
			const { result } = await encrypt(new KmsKeyringNode({ generatorKeyId: arn }), '"`+canary+`"',
				{ suiteId: Number(suiteId), encryptionContext: JSON.parse(ctx) })
			process.stdout.write(result.toString('base64'))`,
			srv.KeyARN("primary"), fmt.Sprint(suite), string(kc))
		c.Dir = jsDir
		c.Env = nodeEnv(srv)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("making a suite 0x%04x message: %v", suite, err)
		}
		var msg []byte
		if err := json.Unmarshal([]byte(`"`+string(out)+`"`), &msg); err != nil {
			t.Fatal(err)
		}
		return msg
	}

	otherContext := map[string]string{"app": "other", "stage": "test"}
	extraContext := map[string]string{"app": "interop", "stage": "test", "tenant": "t1"}
	tests := []struct {
		name    string
		token   string
		ec      map[string]string
		key     string
		wantErr string
	}{
		{"class changed in the header", token("contact", ssn.Payload), encContext, "primary", "encryption context mismatch (token class contact)"},
		{"another expected context", d.Applicant.SSN, otherContext, "primary", "encryption context mismatch"},
		{"an extra expected context entry", d.Applicant.SSN, extraContext, "primary", "encryption context mismatch"},
		{"signed suite 0x0578", token("identity", foreign(0x0578)), encContext, "primary", "algorithm suite 0x578, want 0x0478"},
		{"non-committing suite 0x0178", token("identity", foreign(0x0178)), encContext, "primary", "CommitmentPolicy REQUIRE_ENCRYPT_REQUIRE_DECRYPT"},
		{"key not configured", d.Applicant.SSN, encContext, "other", "unencryptedDataKey has not been set"},
		{"altered message", token("identity", altered), encContext, "primary", "unable to authenticate data"},
		{"padded base64url", d.Applicant.SSN + "=", encContext, "primary", "not canonical base64url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, _ := json.Marshal(tt.token)
			stdout, stderr, err := runNode(t, srv, "decrypt", nodeRequest{
				Document: json.RawMessage(`[` + string(q) + `]`), EncryptionContext: tt.ec, KeyARNs: []string{srv.KeyARN(tt.key)},
			})
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\nstdout: %s", err, stdout)
			}
			if len(stdout) != 0 {
				t.Errorf("stdout not empty: %d bytes", len(stdout))
			}
			if !bytes.HasPrefix(stderr, []byte("sfnenc-esdk: error: ")) || !bytes.Contains(stderr, []byte(tt.wantErr)) {
				t.Errorf("stderr = %q, want it to hold %q", stderr, tt.wantErr)
			}
			t.Logf("%s", bytes.TrimSpace(stderr))
			if bytes.Contains(stderr, []byte(canary)) {
				t.Errorf("stderr holds the canary value")
			}
		})
	}
}

// TestREADMEExample keeps the JavaScript example in README.md the same as
// esdk-js/read-field.mjs (from its first import on), which the tests above
// run through the script.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(jsDir, "read-field.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	_, code, ok := bytes.Cut(src, []byte("\nimport "))
	if !ok {
		t.Fatal("read-field.mjs has no import")
	}
	want := "```js\nimport " + string(code) + "```\n"
	if !bytes.Contains(readme, []byte(want)) {
		t.Errorf("README.md does not show esdk-js/read-field.mjs from its first import on:\n%s", want)
	}
}
