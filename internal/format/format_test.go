package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func sampleBody() []byte {
	h := AppendHeader(nil, "contact", []WrappedKey{
		{Provider: ProviderAWSKMS, KeyID: "arn:aws:kms:eu-west-2:111122223333:key/k", Ciphertext: bytes.Repeat([]byte{7}, 140)},
		{Provider: ProviderInsecureLocal, KeyID: "local:1", Ciphertext: []byte{1, 2, 3}},
	}, bytes.Repeat([]byte{9}, CommitmentSize))
	return append(h, bytes.Repeat([]byte{5}, NonceSize+TagSize+4)...)
}

func TestParseRoundTrip(t *testing.T) {
	body := sampleBody()
	tok, err := Decode(AppendText(nil, body), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Class != "contact" || len(tok.Keys) != 2 || tok.Keys[1].KeyID != "local:1" {
		t.Errorf("parsed %+v", tok)
	}
	if got := append(bytes.Clone(tok.Header), tok.Payload...); !bytes.Equal(got, body) {
		t.Error("header and payload do not make the body")
	}
}

func TestParseRefuses(t *testing.T) {
	body := sampleBody()
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(body)) }
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version 2", mod(func(b []byte) []byte { b[0] = 2; return b }), ErrUnsupported},
		{"version 0", mod(func(b []byte) []byte { b[0] = 0; return b }), ErrUnsupported},
		{"mode 6", mod(func(b []byte) []byte { b[1] = 6; return b }), ErrUnsupported},
		{"mode 0", mod(func(b []byte) []byte { b[1] = 0; return b }), ErrUnsupported},
		{"class length 0", mod(func(b []byte) []byte { b[2] = 0; return b }), ErrMalformed},
		{"class with a space", mod(func(b []byte) []byte { b[4] = ' '; return b }), ErrMalformed},
		{"no wrapped keys", mod(func(b []byte) []byte { b[3+7] = 0; return b }), ErrMalformed},
		{"17 wrapped keys", mod(func(b []byte) []byte { b[3+7] = 17; return b }), ErrMalformed},
		{"unknown provider", mod(func(b []byte) []byte { b[3+7+1] = 9; return b }), ErrMalformed},
		{"key id length past the end", mod(func(b []byte) []byte { b[3+7+2] = 0xff; return b }), ErrMalformed},
		{"key id length over the limit, with the bytes present", func() []byte {
			b := append([]byte{Version1, byte(ModeEnvelope), 1, 'c', 1, byte(ProviderAWSKMS), 0xff, 0xff}, make([]byte, 0xffff+100)...)
			return b
		}(), ErrMalformed},
		{"wrapped key length over the limit, with the bytes present", func() []byte {
			b := []byte{Version1, byte(ModeEnvelope), 1, 'c', 1, byte(ProviderAWSKMS), 0, 1, 'k', 0xff, 0xff}
			return append(b, make([]byte, 0xffff+100)...)
		}(), ErrMalformed},
		{"truncated in the commitment", body[:len(body)-NonceSize-TagSize-4-1], ErrMalformed},
		{"payload shorter than nonce and tag", body[:len(body)-5], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.body); !errors.Is(err, tt.want) {
				t.Errorf("Parse error = %v, want %v", err, tt.want)
			}
		})
	}
}

func keysetBody() []byte {
	h := AppendKeysetHeader(nil, "identity", 0x0102)
	return append(h, bytes.Repeat([]byte{5}, KeysetOverhead+20)...)
}

func TestKeysetRoundTrip(t *testing.T) {
	body := keysetBody()
	want := []byte{Version1, byte(ModeKeyset), 8, 'i', 'd', 'e', 'n', 't', 'i', 't', 'y', 0x01, 0x02}
	if !bytes.Equal(body[:len(want)], want) {
		t.Fatalf("header % x, want % x", body[:len(want)], want)
	}
	text := AppendText(nil, body)
	// SECURITY.md promises a 20-byte value of class "identity" in at most
	// 100 characters of token text.
	if len(text) > 100 {
		t.Errorf("token text of a 20-byte value is %d characters, want at most 100", len(text))
	}
	var tok Token
	if _, err := tok.Decode(text, nil); err != nil {
		t.Fatal(err)
	}
	if tok.Mode != ModeKeyset || tok.Class != "identity" || tok.KeyID != 0x0102 || len(tok.Keys) != 0 || tok.Commitment != nil {
		t.Errorf("parsed %+v", tok)
	}
	if !bytes.Equal(tok.Header, want) || len(tok.Payload) != KeysetOverhead+20 {
		t.Errorf("header % x payload %d bytes", tok.Header, len(tok.Payload))
	}
	// Reusing the token for an envelope token resets the key id.
	if _, err := tok.Decode(AppendText(nil, sampleBody()), nil); err != nil || tok.KeyID != 0 {
		t.Errorf("after an envelope token: key id %d, err %v", tok.KeyID, err)
	}
}

func TestKeysetParseRefuses(t *testing.T) {
	body := keysetBody()
	hdr := 3 + len("identity")
	tests := []struct {
		name string
		body []byte
	}{
		{"key id 0", append(AppendESDKHeader(nil, "identity")[:hdr:hdr], append([]byte{0, 0}, body[hdr+2:]...)...)},
		{"cut in the key id", body[:hdr+1]},
		{"no sealed value", body[:hdr+2]},
		{"sealed value shorter than salt, nonce and tag", body[:hdr+2+KeysetOverhead-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body[1] = byte(ModeKeyset)
			if _, err := Parse(tt.body); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse error = %v, want ErrMalformed", err)
			}
		})
	}
	// The shortest sealed value parses (its tag then fails to open).
	if _, err := Parse(body[:hdr+2+KeysetOverhead]); err != nil {
		t.Errorf("Parse of the shortest body: %v", err)
	}
}

func TestKeysetDecodeAllocates(t *testing.T) {
	text := AppendText(nil, keysetBody())
	var tok Token
	buf, _ := tok.Decode(text, nil)
	if n := testing.AllocsPerRun(100, func() { buf, _ = tok.Decode(text, buf) }); n != 0 {
		t.Errorf("Decode allocates %v times per token, want 0", n)
	}
}

func TestDecodeRefusesNonCanonicalText(t *testing.T) {
	text := string(AppendText(nil, sampleBody()))
	for _, s := range []string{
		"sfnenc", "sfnenc:", text + "=", text[:20] + "\n" + text[20:], text[:20] + "+" + text[21:],
		"SFNENC:" + text[7:],
	} {
		if _, err := Decode([]byte(s), nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%.30q...) error = %v, want ErrMalformed", s, err)
		}
	}
}

var tokenRE = regexp.MustCompile(`sfnenc:[A-Za-z0-9_-]+`)

// FuzzDecode: any text decodes without panicking, and a token that parses
// re-encodes to exactly the same text (one spelling per token).
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/vectors/*.vector.json")
	if len(files) == 0 {
		f.Fatal("no seed vectors in testdata/vectors")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var v struct{ Encrypted string }
		if err := json.Unmarshal(data, &v); err != nil {
			f.Fatal(err)
		}
		for _, tok := range tokenRE.FindAllString(v.Encrypted, -1) {
			f.Add([]byte(tok))
		}
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		tok, err := Decode(text, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		body := append(append(bytes.Clone(tok.Header), tok.Payload...), tok.Signature...)
		if got := AppendText(nil, body); !bytes.Equal(got, text) {
			t.Fatalf("re-encoded %q, want %q", got, text)
		}
		var again []byte
		switch tok.Mode {
		case ModeESDK:
			again = AppendESDKHeader(nil, tok.Class)
		case ModeKeyset:
			again = AppendKeysetHeader(nil, tok.Class, tok.KeyID)
		case ModeSignedKeyset:
			again = AppendSignedKeysetHeader(nil, tok.Class, tok.KeyID)
		case ModeSignedEnvelope:
			again = AppendSignedHeader(nil, tok.Class, tok.Keys, tok.Commitment, tok.VerifyingKey)
		default:
			again = AppendHeader(nil, tok.Class, tok.Keys, tok.Commitment)
		}
		if !bytes.Equal(again, tok.Header) {
			t.Fatalf("header re-encodes differently")
		}
	})
}

func TestAppendBase64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		if n == 3 {
			src = []byte{0xff, 0xff, 0xff} // every bit set: the alphabet's last character
		}
		dst := []byte("prefix:")
		want := base64.RawURLEncoding.AppendEncode(bytes.Clone(dst), src)
		if got := appendBase64(dst, src); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: appendBase64 = %q, encoding/base64 = %q", n, got, want)
		}
	}
}
