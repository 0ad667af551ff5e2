package leaktest

import (
	"bytes"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/internal/format"
)

type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(string, ...any)     { r.errors++ }
func (r *recorder) Fatalf(f string, a ...any) { r.errors++ }

func TestCheck(t *testing.T) {
	r := &recorder{TB: t}
	Check(r, "stderr", "error at /ssn: CANARY-1 and CANARY-2", "CANARY-1", "CANARY-2", "CANARY-3")
	if r.errors != 2 {
		t.Errorf("%d errors, want 2", r.errors)
	}
}

func TestTokenClasses(t *testing.T) {
	body := append(format.AppendHeader(nil, "contact", []format.WrappedKey{{Provider: format.ProviderInsecureLocal, KeyID: "local:1", Ciphertext: []byte{1}}},
		bytes.Repeat([]byte{0}, format.CommitmentSize)), make([]byte, format.NonceSize+format.TagSize)...)
	tok := string(format.AppendText(nil, body))
	doc := []byte(`{"a":"` + tok + `","b":["` + tok + `","sfnenc:bad","x"]}`)
	if diff := cmp.Diff(map[string]int{"contact": 2}, TokenClasses(t, doc)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestStringValues(t *testing.T) {
	doc := []byte(`{"a":"x","b":["y",{"c":"z","d":1}],"e":null,"f":true}`)
	got := StringValues(t, doc)
	sort.Strings(got)
	if diff := cmp.Diff([]string{"x", "y", "z"}, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
