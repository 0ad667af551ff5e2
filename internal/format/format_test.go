package format

import (
	"bytes"
	"encoding/json"
	"errors"
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
		{"mode 3", mod(func(b []byte) []byte { b[1] = 3; return b }), ErrUnsupported},
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
		body := append(bytes.Clone(tok.Header), tok.Payload...)
		if got := AppendText(nil, body); !bytes.Equal(got, text) {
			t.Fatalf("re-encoded %q, want %q", got, text)
		}
		var again []byte
		if tok.Mode == ModeESDK {
			again = AppendESDKHeader(nil, tok.Class)
		} else {
			again = AppendHeader(nil, tok.Class, tok.Keys, tok.Commitment)
		}
		if !bytes.Equal(again, tok.Header) {
			t.Fatalf("header re-encodes differently")
		}
	})
}
