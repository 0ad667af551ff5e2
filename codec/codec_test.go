package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/format"
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
	outer := newLocal(t, `[{"class":"outer","keyring":"dev","select":["$.a"]}]`)
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
	c := newLocal(t, twoRules, WithLimits(fieldpath.Limits{MaxSize: 1024, MaxDepth: 8}))
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
	c := newLocal(t, twoRules, WithLimits(fieldpath.Limits{MaxSize: 1024, MaxDepth: 8}))
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"empty", ``, fieldpath.ErrSyntax},
		{"not JSON", `{"ssn":` + canarySSN + `}`, fieldpath.ErrSyntax},
		{"trailing data", `{"ssn":"` + canarySSN + `"} {}`, fieldpath.ErrSyntax},
		{"duplicate names", `{"ssn":"` + canarySSN + `","ssn":"x"}`, fieldpath.ErrDuplicateName},
		{"duplicate names, escaped", `{"ssn":"` + canarySSN + `","\u0073sn":"x"}`, fieldpath.ErrDuplicateName},
		{"invalid UTF-8", "{\"ssn\":\"" + canarySSN + "\xff\"}", fieldpath.ErrInvalidUTF8},
		{"lone surrogate", `{"ssn":"` + canarySSN + `\ud800"}`, fieldpath.ErrInvalidUTF8},
		{"too deep", `{"ssn":[[[[[[[[[[1]]]]]]]]]]}`, fieldpath.ErrTooDeep},
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
				if !errors.Is(err, ErrInvalidDocument) || !errors.Is(err, tt.want) {
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
