package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

var tokenRE = regexp.MustCompile(`"sfnenc:[A-Za-z0-9_-]+"`)

// masked replaces every token with "T", to compare the bytes around them.
func masked(b []byte) string { return tokenRE.ReplaceAllString(string(b), `"T"`) }

const twoRules = `[{"class":"identity","keyring":"dev","select":["$..ssn","$.applicant"]},
	{"class":"contact","keyring":"dev","select":["$..phone","$..email"]}]`

func TestEncryptKeepsOtherBytes(t *testing.T) {
	c := newLocal(t, twoRules)
	ctx := context.Background()
	tests := []struct {
		name, in, want string
	}{
		{"string", `{"ssn":"` + canarySSN + `"}`, `{"ssn":"T"}`},
		{"whitespace and order kept", "{ \"z\" : 1 ,\n\t\"ssn\" :\t\"" + canarySSN + "\"  ,\"a\":[ 1e3, -0.0 ] }\n",
			"{ \"z\" : 1 ,\n\t\"ssn\" :\t\"T\"  ,\"a\":[ 1e3, -0.0 ] }\n"},
		{"number", `{"ssn":123456789012345678901234567890}`, `{"ssn":"T"}`},
		{"true", `{"ssn":true}`, `{"ssn":"T"}`},
		{"false", `{"ssn":false}`, `{"ssn":"T"}`},
		{"null", `{"ssn":null}`, `{"ssn":"T"}`},
		{"object", `{"applicant":{"name":"A","ssn":"` + canarySSN + `"},"x":1}`, `{"applicant":"T","x":1}`},
		{"array", `{"applicant":[1,{"ssn":2}]}`, `{"applicant":"T"}`},
		{"escapes kept", `{"n":"\u00e9\n\"","phone":"\u002B44 ` + canaryPhone + `"}`, `{"n":"\u00e9\n\"","phone":"T"}`},
		{"nested lists", `{"list":[{"phone":"1"},{"email":"e","other":"o"},{"ssn":[{"phone":3}]}]}`,
			`{"list":[{"phone":"T"},{"email":"T","other":"o"},{"ssn":"T"}]}`},
		{"nothing selected", `[1, 2, {"a": "b"}]`, `[1, 2, {"a": "b"}]`},
		{"scalar document", `"just a string"`, `"just a string"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := c.Encrypt(ctx, []byte(tt.in))
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if diff := cmp.Diff(tt.want, masked(enc)); diff != "" {
				t.Errorf("encrypted document mismatch (-want +got):\n%s", diff)
			}
			assertNoCanary(t, "encrypted document", string(enc))
			dec, err := c.Decrypt(ctx, enc)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if diff := cmp.Diff(tt.in, string(dec)); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
			again, err := c.Encrypt(ctx, enc)
			if err != nil {
				t.Fatalf("Encrypt of encrypted: %v", err)
			}
			if !bytes.Equal(again, enc) {
				t.Errorf("Encrypt is not idempotent:\n first %s\nsecond %s", enc, again)
			}
		})
	}
}

// classes returns the class of every token in doc, in order.
func classes(t *testing.T, doc []byte) []string {
	t.Helper()
	var out []string
	for _, m := range tokenRE.FindAll(doc, -1) {
		tok, err := format.Decode(m[1:len(m)-1], nil)
		if err != nil {
			t.Fatalf("token does not parse: %v", err)
		}
		out = append(out, tok.Class)
	}
	return out
}

func TestOverlappingRules(t *testing.T) {
	ctx := context.Background()
	doc := []byte(`{"a":{"b":"inner","c":1},"b":"top"}`)
	tests := []struct {
		name, rules string
		want        string
		wantClasses []string
	}{
		{"outer rule first", `[{"class":"outer","keyring":"dev","select":["$.a"]},{"class":"inner","keyring":"dev","select":["$..b"]}]`,
			`{"a":"T","b":"T"}`, []string{"outer", "inner"}},
		{"inner rule first: the outermost value still wins, with the class of the rule that selects it",
			`[{"class":"inner","keyring":"dev","select":["$..b"]},{"class":"outer","keyring":"dev","select":["$.a"]}]`,
			`{"a":"T","b":"T"}`, []string{"outer", "inner"}},
		{"same value, two rules: the first rule's class",
			`[{"class":"one","keyring":"dev","select":["$.b"]},{"class":"two","keyring":"dev","select":["$['b']"]}]`,
			`{"a":{"b":"inner","c":1},"b":"T"}`, []string{"one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newLocal(t, tt.rules)
			enc, err := c.Encrypt(ctx, doc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, masked(enc)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantClasses, classes(t, enc)); diff != "" {
				t.Errorf("classes mismatch (-want +got):\n%s", diff)
			}
			dec, err := c.Decrypt(ctx, enc)
			if err != nil || !bytes.Equal(dec, doc) {
				t.Errorf("round trip: %v\n%s", err, dec)
			}
		})
	}
}

func TestNestedTokens(t *testing.T) {
	ctx := context.Background()
	inner := newLocal(t, `[{"class":"inner","keyring":"dev","select":["$.a.ssn"]}]`)
	// A reader opens a class only under a rule of its own: the outer
	// codec has both.
	outer := newLocal(t, `[{"class":"outer","keyring":"dev","select":["$.a"]},{"class":"inner","keyring":"dev","select":["$.a.ssn"]}]`)
	doc := []byte(`{"a":{"ssn":"` + canarySSN + `","n":1}}`)
	e1, err := inner.Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := outer.Encrypt(ctx, e1)
	if err != nil {
		t.Fatal(err)
	}
	if got := classes(t, e2); !cmp.Equal(got, []string{"outer"}) {
		t.Fatalf("classes %v", got)
	}
	dec, err := outer.Decrypt(ctx, e2)
	if err != nil || !bytes.Equal(dec, doc) {
		t.Fatalf("nested decrypt: %v\n%s", err, dec)
	}
	// Need to know: only the outer class is opened; the inner token stays.
	only, err := New(ctx, localConfig(t, `[{"class":"outer","keyring":"dev","select":["$.a"]}]`), WithClasses("outer"))
	if err != nil {
		t.Fatal(err)
	}
	dec, err = only.Decrypt(ctx, e2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec, e1) {
		t.Errorf("outer-only decrypt:\n got %s\nwant %s", dec, e1)
	}
}

func TestDecryptOnlySomeClasses(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, twoRules)
	doc := []byte(`{"ssn":"` + canarySSN + `","phone":"` + canaryPhone + `"}`)
	enc, err := c.Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	contactOnly := newLocal(t, twoRules, WithClasses("contact"))
	got, err := contactOnly.Decrypt(ctx, enc)
	if err != nil {
		t.Fatal(err)
	}
	// The identity token must stay byte for byte; the contact token opens.
	ssnTok := tokenRE.FindAll(enc, -1)[0]
	want := `{"ssn":` + string(ssnTok) + `,"phone":"` + canaryPhone + `"}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestTokenMovedStillDecrypts(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, twoRules)
	enc, err := c.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenRE.Find(enc)
	moved := []byte(`{"somewhere":{"else":[` + string(tok) + `]}}`)
	dec, err := c.Decrypt(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"somewhere":{"else":["` + canarySSN + `"]}}`; string(dec) != want {
		t.Errorf("got %s, want %s", dec, want)
	}
}

func TestDecryptFailures(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, twoRules)
	enc, err := c.Encrypt(ctx, []byte(`{"x":{"ssn":"`+canarySSN+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	tok := string(tokenRE.Find(enc))
	tok = tok[1 : len(tok)-1]
	body, err := format.Decode([]byte(tok), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := append([]byte(nil), body.Header...)
	raw = append(raw, body.Payload...)
	reencode := func(b []byte) string { return string(format.AppendText(nil, b)) }
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return reencode(b)
	}
	// The same token under another class: a new header with the class
	// changed, everything else kept.
	otherClass := format.AppendHeader(nil, "contact", body.Keys, body.Commitment)
	otherClass = append(otherClass, body.Payload...)

	otherCtx, err := New(ctx, func() *Config {
		cfg := localConfig(t, twoRules)
		cfg.EncryptionContext = map[string]string{"app": "another"}
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		codec *Codec
		token string
		want  error
	}{
		{"truncated ciphertext", c, reencode(raw[:len(raw)-3]), ErrAuthentication},
		{"truncated in the header", c, reencode(raw[:20]), ErrMalformedToken},
		{"escaped line break", c, tok[:20] + `\n` + tok[20:], ErrMalformedToken},
		{"only the prefix", c, "sfnenc:", ErrMalformedToken},
		{"not base64", c, "sfnenc:!!!!", ErrMalformedToken},
		{"padding", c, tok + "==", ErrMalformedToken},
		{"unknown version", c, flip(0), format.ErrUnsupported},
		{"unknown mode", c, flip(1), format.ErrUnsupported},
		{"altered ciphertext", c, flip(len(raw) - 1), ErrAuthentication},
		{"altered nonce", c, flip(len(body.Header) + 1), ErrAuthentication},
		{"altered commitment", c, flip(len(body.Header) - 1), ErrAuthentication},
		{"altered wrapped key", c, flip(len(body.Header) - 40), envelope.ErrInvalidKey},
		{"extended", c, reencode(append(bytes.Clone(raw), 0)), ErrAuthentication},
		{"class changed", c, reencode(otherClass), envelope.ErrInvalidKey},
		{"other encryption context", otherCtx, tok, envelope.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(`{"a":[1,{"b":"` + tt.token + `"}]}`)
			out, err := tt.codec.Decrypt(ctx, doc)
			if out != nil {
				t.Errorf("Decrypt returned output with an error")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.want)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Pointer != "/a/1/b" {
				t.Errorf("error %v does not name the pointer /a/1/b", err)
			}
			assertNoCanary(t, "error", err.Error())
			// DecryptPartial keeps the token and reports it.
			out, failed, err := tt.codec.DecryptPartial(ctx, doc)
			if err != nil {
				t.Fatalf("DecryptPartial: %v", err)
			}
			if !bytes.Equal(out, doc) || len(failed) != 1 || !errors.Is(failed[0], tt.want) {
				t.Errorf("DecryptPartial = %s, %v", out, failed)
			}
		})
	}
}

// TestTooLarge: a valid document over the size limit is ErrTooLarge, not
// an invalid document, and the error says the size and the limit.
func TestTooLarge(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, twoRules, WithLimits(jsontape.Limits{MaxSize: 1024, MaxDepth: 8}))
	doc := []byte(`{"ssn":"` + strings.Repeat("x", 1100) + canarySSN + `"}`)
	for _, op := range []struct {
		name string
		f    func(context.Context, []byte) ([]byte, error)
	}{{"Encrypt", c.Encrypt}, {"Decrypt", c.Decrypt}} {
		out, err := op.f(ctx, doc)
		if out != nil || !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalidDocument) {
			t.Fatalf("%s: %v, want ErrTooLarge alone", op.name, err)
		}
		want := fmt.Sprintf("codec: document over the size limit: %d bytes, limit 1024", len(doc))
		if diff := cmp.Diff(want, err.Error()); diff != "" {
			t.Errorf("%s error mismatch (-want +got):\n%s", op.name, diff)
		}
	}
}

func TestInvalidDocuments(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, twoRules, WithLimits(jsontape.Limits{MaxSize: 1024, MaxDepth: 8}))
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"empty", ``, jsontape.ErrSyntax},
		{"not JSON", `{"ssn":` + canarySSN + `}`, jsontape.ErrSyntax},
		{"trailing data", `{"ssn":"` + canarySSN + `"} {}`, jsontape.ErrSyntax},
		{"duplicate names", `{"ssn":"` + canarySSN + `","ssn":"x"}`, jsontape.ErrDuplicateName},
		{"duplicate names, escaped", `{"ssn":"` + canarySSN + `","\u0073sn":"x"}`, jsontape.ErrDuplicateName},
		{"invalid UTF-8", "{\"ssn\":\"" + canarySSN + "\xff\"}", jsontape.ErrInvalidUTF8},
		{"lone surrogate", `{"ssn":"` + canarySSN + `\ud800"}`, jsontape.ErrInvalidUTF8},
		{"too deep", `{"ssn":[[[[[[[[[[1]]]]]]]]]]}`, jsontape.ErrTooDeep},
		{"too large", `{"ssn":"` + strings.Repeat("x", 1100) + canarySSN + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, op := range []struct {
				name string
				f    func(context.Context, []byte) ([]byte, error)
			}{{"Encrypt", c.Encrypt}, {"Decrypt", c.Decrypt}} {
				out, err := op.f(ctx, []byte(tt.doc))
				if out != nil {
					t.Errorf("%s returned output with an error", op.name)
				}
				// A valid document over the size limit is not an invalid one.
				invalid := !errors.Is(tt.want, ErrTooLarge)
				if errors.Is(err, ErrInvalidDocument) != invalid || !errors.Is(err, tt.want) {
					t.Errorf("%s error = %v, want %v", op.name, err, tt.want)
				}
				if err != nil {
					assertNoCanary(t, "error", err.Error())
				}
			}
		})
	}
}

func TestEncryptRefusesMalformedToken(t *testing.T) {
	c := newLocal(t, twoRules)
	_, err := c.Encrypt(context.Background(), []byte(`{"ssn":"sfnenc:not-a-token"}`))
	if !errors.Is(err, ErrMalformedToken) {
		t.Fatalf("err = %v, want ErrMalformedToken", err)
	}
}

func TestPadding(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"p","keyring":"dev","select":["$.*"],"pad":32}]`)
	enc, err := c.Encrypt(ctx, []byte(`{"a":"x","b":"a somewhat longer value","c":[1, 2 ]}`))
	if err != nil {
		t.Fatal(err)
	}
	toks := tokenRE.FindAll(enc, -1)
	for _, tk := range toks[1:] {
		if len(tk) != len(toks[0]) {
			t.Errorf("padded tokens differ in length: %d and %d", len(tk), len(toks[0]))
		}
	}
	dec, err := c.Decrypt(ctx, enc)
	if err != nil || string(dec) != `{"a":"x","b":"a somewhat longer value","c":[1, 2 ]}` {
		t.Errorf("round trip: %v %s", err, dec)
	}
}

func TestEncryptValue(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, twoRules)
	tok, err := c.EncryptValue(ctx, "contact", []byte(`{"msg":"`+canaryPhone+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "token", tok)
	dec, err := c.Decrypt(ctx, []byte(`["`+tok+`"]`))
	if err != nil || string(dec) != `[{"msg":"`+canaryPhone+`"}]` {
		t.Errorf("got %s, %v", dec, err)
	}
	if _, err := c.EncryptValue(ctx, "nope", []byte(`1`)); !errors.Is(err, ErrUnknownClass) {
		t.Errorf("unknown class: %v", err)
	}
}

// TestClassBoundToKeyring plays a holder of the development keyset, which
// the configuration names for another class: tokens of class identity they
// mint under it do not open for a reader whose identity rule names another
// keyring.
func TestClassBoundToKeyring(t *testing.T) {
	ctx := context.Background()
	keys := func(name string) string {
		p, err := filepath.Abs("../testdata/keys/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgJSON := func(identityKeyring string) *Config {
		cfg, err := ParseConfig([]byte(`{"keyrings":{"main":{"insecureLocalKeyset":"` + keys("insecure-test-keyset.json") + `"},` +
			`"dev":{"insecureLocalKeyset":"` + keys("insecure-other-keyset.json") + `"}},` +
			`"rules":[{"class":"identity","keyring":"` + identityKeyring + `","select":["$.ssn"]},{"class":"scratch","keyring":"dev","select":["$.note"]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	reader, err := New(ctx, cfgJSON("main"))
	if err != nil {
		t.Fatal(err)
	}
	forger, err := New(ctx, cfgJSON("dev"))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forger.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Decrypt(ctx, forged); !errors.Is(err, envelope.ErrNoKey) {
		t.Errorf("a token of class identity under the dev keyring: err = %v, want ErrNoKey", err)
	}
	// The reader's own writer is not affected.
	own, err := reader.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Decrypt(ctx, own); err != nil {
		t.Errorf("own token: %v", err)
	}
	// A reader that retires the dev keyring for identity says so.
	cfg := cfgJSON("main")
	cfg.Rules[0].Read = []ReadRule{{Keyring: "dev"}}
	rotating, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotating.Decrypt(ctx, forged); err != nil {
		t.Errorf("with read [dev]: %v", err)
	}
	// Encrypt refuses to pass the foreign token on as the rule's.
	if _, err := reader.Encrypt(ctx, forged); !errors.Is(err, ErrForeignToken) {
		t.Errorf("Encrypt of a foreign token at a selected path: %v, want ErrForeignToken", err)
	}
}

// TestReservedPrefix: any end user can put text that starts with the prefix
// in a document; Encrypt refuses it, naming where it is (the outer value's
// pointer when it is inside a value to seal), so that the codec's own output
// always decrypts.
func TestReservedPrefix(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"pii","keyring":"dev","select":["$.applicant"]}]`)
	for _, tc := range []struct{ doc, ptr string }{
		{`{"comment":"sfnenc: see attached"}`, "/comment"},
		{`{"comment":"\u0073fnenc:AAAA"}`, "/comment"},
		{`{"applicant":{"accounts":{"GB29NWBK60161331926819":"sfnenc:x"}}}`, "/applicant"},
	} {
		_, err := c.Encrypt(ctx, []byte(tc.doc))
		var te *TokenError
		if !errors.Is(err, ErrReservedPrefix) || !errors.As(err, &te) || te.Pointer != tc.ptr {
			t.Errorf("Encrypt(%s) = %v, want ErrReservedPrefix at %s", tc.doc, err, tc.ptr)
		}
		if err != nil && strings.Contains(err.Error(), "GB29") {
			t.Errorf("the error names a member inside the value to seal: %v", err)
		}
	}
	if _, err := c.EncryptValue(ctx, "pii", []byte(`["sfnenc: x"]`)); !errors.Is(err, ErrReservedPrefix) {
		t.Errorf("EncryptValue: %v, want ErrReservedPrefix", err)
	}
}

// TestEncryptErrorsNameNoInnerMember: a document that fails to scan inside a
// value about to be sealed is reported by offset, not by a pointer whose
// names are plaintext.
func TestEncryptErrorsNameNoInnerMember(t *testing.T) {
	c := newLocal(t, `[{"class":"pii","keyring":"dev","select":["$.applicant"]}]`)
	_, err := c.Encrypt(context.Background(), []byte(`{"applicant":{"emails":{"ada@example.com":1,"ada@example.com":2}}}`))
	if !errors.Is(err, jsontape.ErrDuplicateName) || strings.Contains(err.Error(), "ada@") {
		t.Errorf("err = %v", err)
	}
}

// TestReport checks what the report of a call says.
func TestReport(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"pii","keyring":"dev","select":["$.a","$.b"]}]`)
	var rep Report
	enc, err := c.Encrypt(WithReport(ctx, &rep), []byte(`{"a":"x","b":[1],"c":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"pii": 2}, rep.Count(Made)); diff != "" {
		t.Errorf("made (-want +got):\n%s", diff)
	}
	if rep.KeyMisses+rep.KeyHits != 1 {
		t.Errorf("key lookups %d+%d, want 1", rep.KeyHits, rep.KeyMisses)
	}
	rep = Report{}
	if _, err := c.Decrypt(WithReport(ctx, &rep), enc); err != nil {
		t.Fatal(err)
	}
	var ptrs []string
	for _, e := range rep.Events {
		if e.Op == Decrypted {
			ptrs = append(ptrs, e.Pointer)
		}
	}
	if diff := cmp.Diff([]string{"/a", "/b"}, ptrs); diff != "" {
		t.Errorf("decrypted pointers (-want +got):\n%s", diff)
	}
	// A failed token's text is in the report, as it stays in the output,
	// escaped or not there; the error says nothing of it.
	tok := tokenRE.FindString(string(enc))
	bad := tok[:len(tok)-3] + "AA" + `"`
	escaped := `"\u0073` + bad[2:] // "s" spelled as an escape
	rep = Report{CountsOnly: true}
	out, terrs, err := c.DecryptPartial(WithReport(ctx, &rep), []byte(`{"x":`+bad+`,"y":[`+escaped+`]}`))
	if err != nil || len(terrs) != 2 {
		t.Fatalf("DecryptPartial of altered tokens: %v, %d failures", err, len(terrs))
	}
	var failed []Event
	for _, e := range rep.Events {
		if e.Op == Failed {
			failed = append(failed, Event{Op: e.Op, Class: e.Class, Pointer: e.Pointer, Token: e.Token})
		}
	}
	want := []Event{{Op: Failed, Class: "pii", Pointer: "/x", Token: bad[1 : len(bad)-1]}, {Op: Failed, Class: "pii", Pointer: "/y/0", Token: bad[1 : len(bad)-1]}}
	if diff := cmp.Diff(want, failed); diff != "" {
		t.Errorf("failed events (-want +got):\n%s", diff)
	}
	if !bytes.Contains(out, []byte(bad)) {
		t.Errorf("the altered token is not in the output as it was")
	}
	for _, te := range terrs {
		if strings.Contains(te.Error(), bad[8:40]) {
			t.Errorf("the error quotes the token: %v", te)
		}
	}
	info, err := ParseToken(tok[1 : len(tok)-1])
	if err != nil || info.Class != "pii" || info.Format != "native" {
		t.Errorf("ParseToken = %+v, %v", info, err)
	}
	if !IsToken("sfnenc:x") || IsToken("x") {
		t.Error("IsToken")
	}
	if _, err := ParseToken("sfnenc:x"); !errors.Is(err, ErrMalformedToken) || strings.Count(err.Error(), "malformed") != 1 {
		t.Errorf("ParseToken(malformed) = %v", err)
	}
}

// TestBinding plays a payload editor who moves a token into another
// application's document: a rule that binds its tokens to the application
// id refuses it, and a missing id fails closed, naming the path.
func TestBinding(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.applicant"],"bind":"$.appId"},
		{"class":"contact","keyring":"dev","select":["$.phone"]}]`)
	doc := []byte(`{"appId":"APP-1","applicant":{"ssn":"` + canarySSN + `"},"phone":"+44"}`)
	enc, err := c.Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := c.Decrypt(ctx, enc); err != nil || !bytes.Equal(dec, doc) {
		t.Fatalf("round trip: %v", err)
	}
	// Through a Scope too.
	if dec, err := c.NewScope().Decrypt(ctx, enc); err != nil || !bytes.Equal(dec, doc) {
		t.Fatalf("scope round trip: %v", err)
	}
	tok := tokenRE.FindAllString(string(enc), -1)
	moved := []byte(`{"appId":"APP-2","applicant":` + tok[0] + `,"phone":` + tok[1] + `}`)
	if _, err := c.Decrypt(ctx, moved); !errors.Is(err, ErrAuthentication) {
		t.Errorf("a token moved to another application: %v, want ErrAuthentication", err)
	}
	if _, err := c.NewScope().Decrypt(ctx, moved); !errors.Is(err, ErrAuthentication) {
		t.Errorf("scope, a token moved to another application: %v, want ErrAuthentication", err)
	}
	// The unbound class moves freely.
	if _, err := c.Decrypt(ctx, []byte(`{"appId":"APP-2","phone":`+tok[1]+`}`)); err != nil {
		t.Errorf("unbound class: %v", err)
	}
	for _, d := range []string{
		`{"applicant":` + tok[0] + `}`,
		`{"appId":{"x":1},"applicant":` + tok[0] + `}`,
		`{"appId":` + tok[1] + `,"applicant":` + tok[0] + `}`,
	} {
		_, err := c.Decrypt(ctx, []byte(d))
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "$.appId") {
			t.Errorf("Decrypt(%.40s...) = %v, want ErrBinding naming $.appId", d, err)
		}
	}
	if _, err := c.Encrypt(ctx, []byte(`{"applicant":{"ssn":"x"}}`)); !errors.Is(err, ErrBinding) {
		t.Errorf("Encrypt without the business key: %v", err)
	}
	inside := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.a"],"bind":"$.a.id"}]`)
	if _, err := inside.Encrypt(ctx, []byte(`{"a":{"id":"APP-1"}}`)); !errors.Is(err, ErrBinding) {
		t.Errorf("Encrypt of the business key itself: %v", err)
	}
	// A number is bound by its spelling.
	num := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.s"],"bind":"$.n"}]`)
	e2, err := num.Encrypt(ctx, []byte(`{"n":42,"s":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := num.Decrypt(ctx, bytes.Replace(e2, []byte("42"), []byte("43"), 1)); !errors.Is(err, ErrAuthentication) {
		t.Errorf("another number: %v", err)
	}
	if _, err := ParseConfig([]byte(`{"keyrings":{"d":{"insecureLocalKeyset":"k"}},"rules":[{"class":"c","keyring":"d","select":["$.a"],"bind":"$..id"}]}`)); !errors.Is(err, ErrConfig) {
		t.Errorf("a bind that is not singular: %v", err)
	}
}
