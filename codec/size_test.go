package codec

import (
	"context"
	"testing"

	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// TestTokenSize checks the size a token adds to a field against the
// format's arithmetic, and logs it for the README: a 256 KiB payload with
// many selected fields can outgrow the Step Functions limit.
func TestTokenSize(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	value := `"0123456789abcdefghi"` // a 20-byte string value (19 characters + quotes... 21 bytes of JSON)
	value = `"0123456789abcdefgh"`   // 20 bytes of JSON
	if len(value) != 20 {
		t.Fatalf("value is %d bytes", len(value))
	}
	doc := []byte(`{"ssn":` + value + `}`)
	for _, tt := range []struct {
		name string
		c    *Codec
	}{
		{"insecure local keyset", newLocal(t, twoRules)},
		{"one KMS key (local-kms)", kmsCodec(t, srv, []string{srv.KeyARN("primary")})},
		{"KMS key + break-glass key (local-kms)", kmsCodec(t, srv, []string{srv.KeyARN("primary"), srv.KeyARN("breakglass")})},
		{"signed, insecure local keyset", newLocal(t, `[{"class":"identity","keyring":"dev","select":["$..ssn"],"signed":true}]`)},
		{"signed, one KMS key (local-kms)", signedKMSCodec(t, srv, "true", srv.KeyARN("primary"))},
		{"signed, KMS key + break-glass key (local-kms)", signedKMSCodec(t, srv, "true", srv.KeyARN("primary"), srv.KeyARN("breakglass"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.c.Encrypt(ctx, doc)
			if err != nil {
				t.Fatal(err)
			}
			tok := tokenRE.Find(enc)
			body, err := format.Decode(tok[1:len(tok)-1], nil)
			if err != nil {
				t.Fatal(err)
			}
			bodyLen := len(body.Header) + len(body.Payload) + len(body.Signature)
			if want := len(body.Header) + format.NonceSize + len(value) + format.TagSize + len(body.Signature); bodyLen != want {
				t.Errorf("body is %d bytes, want %d", bodyLen, want)
			}
			if want := 2 + format.TextLen(bodyLen); len(tok) != want {
				t.Errorf("token is %d bytes, want %d", len(tok), want)
			}
			added := len(tok) - len(value)
			var wrapped int
			for _, k := range body.Keys {
				wrapped += len(k.KeyID) + len(k.Ciphertext)
			}
			t.Logf("%s: 20-byte value -> %d-byte token (+%d bytes); header %d bytes, of which wrapped keys (ids and ciphertexts) %d; fields of 20 bytes in 256 KiB at most ~%d",
				// As BENCHMARKS.md counts them: the fields of an array, a
				// comma each.
				tt.name, len(tok), added, len(body.Header), wrapped, 262144/(len(tok)+len(`,`)))
		})
	}
}
