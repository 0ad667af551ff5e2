package eventdata

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/testcodec"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/leaktest"
	"github.com/sfnenc/sfnenc/jsontape"
)

const canary = "CANARY-078-05-1120"

func TestText(t *testing.T) {
	c := testcodec.New(t)
	d := NewDecryptor(c)
	ssn := testcodec.Token(t, c, "identity", `"`+canary+`"`)
	obj := testcodec.Token(t, c, "identity", `{"ssn": "`+canary+`", "n": 1}`)
	email := testcodec.Token(t, c, "contact", `"ada@example.com"`)
	bad := testcodec.Tampered(ssn)
	// A token whose prefix is written with a JSON escape.
	escaped := `sfn\u0065nc:` + strings.TrimPrefix(email, "sfnenc:")

	type failure struct{ Pointer, Class, Token, Reason string }
	tests := []struct {
		name, in, want string
		fails          []failure
	}{
		{"no token", `{"a": 1}`, `{"a": 1}`, nil},
		{"plain text", `gateway timeout`, `gateway timeout`, nil},
		{"the prefix alone", `tokens start with sfnenc: and more`, `tokens start with sfnenc: and more`, nil},
		{"JSON, bytes kept", "{ \"ssn\" :  \"" + ssn + "\" ,\n \"b\": [1, 2.50] }", "{ \"ssn\" :  \"" + canary + "\" ,\n \"b\": [1, 2.50] }", nil},
		{"JSON string that is a token", `"` + ssn + `"`, `"` + canary + `"`, nil},
		{"string that is a token holding a string", ssn, canary, nil},
		{"string that is a token holding an object", obj, `{"ssn": "` + canary + `", "n": 1}`, nil},
		{"tokens in plain text", "card of " + ssn + " declined; mail " + email + ".", "card of " + canary + " declined; mail ada@example.com.", nil},
		{"escaped prefix in JSON", `{"e":"` + escaped + `"}`, `{"e":"ada@example.com"}`, nil},
		{"JSON in a string in JSON", `{"error":{"Cause":"{\"errorMessage\":\"` + ssn + `\"}"}}`, `{"error":{"Cause":"{\"errorMessage\":\"` + canary + `\"}"}}`, nil},
		{"JSON in a string in JSON, failed", `{"error":{"Cause":"{\"m\":\"` + bad + `\"}"}}`, `{"error":{"Cause":"{\"m\":\"` + bad + `\"}"}}`,
			[]failure{{"/error/Cause#/m", "identity", bad, "failed authentication (altered, or another context or class)"}}},
		{"plain text in a string in JSON", `{"Cause":"declined: ` + ssn + `"}`, `{"Cause":"declined: ` + canary + `"}`, nil},
		{"failed token in JSON", `{"ssn":"` + bad + `","e":"` + email + `"}`, `{"ssn":"` + bad + `","e":"ada@example.com"}`,
			[]failure{{"/ssn", "identity", bad, "failed authentication (altered, or another context or class)"}}},
		{"failed token in text", "x " + bad + " y", "x " + bad + " y", []failure{{"", "identity", bad, "failed authentication (altered, or another context or class)"}}},
		{"malformed token in text", "cut sfnenc:AQEI", "cut sfnenc:AQEI", []failure{{"", "", "sfnenc:AQEI", "malformed token"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fails := d.Text(context.Background(), []byte(tt.in))
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("text mismatch (-want +got):\n%s", diff)
			}
			var gotF []failure
			for _, f := range fails {
				gotF = append(gotF, failure{f.Pointer, f.Class, f.Token, f.Reason()})
				assertNoCanary(t, f.Describe())
			}
			if diff := cmp.Diff(tt.fails, gotF); diff != "" {
				t.Errorf("failures mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTextUnchangedIsSame(t *testing.T) {
	d := NewDecryptor(testcodec.New(t))
	for _, in := range []string{`{"a":"b"}`, `plain`, `{"u":"\u00e9"}`} {
		b := []byte(in)
		got, _ := d.Text(context.Background(), b)
		if !sameSlice(got, b) {
			t.Errorf("Text(%q) did not return its input", in)
		}
	}
}

func TestTextClasses(t *testing.T) {
	all := testcodec.New(t)
	d := NewDecryptor(testcodec.New(t, codec.WithClasses("contact")))
	ssn := testcodec.Token(t, all, "identity", `"`+canary+`"`)
	email := testcodec.Token(t, all, "contact", `"ada@example.com"`)
	in := `{"ssn":"` + ssn + `","email":"` + email + `"}`
	got, fails := d.Text(context.Background(), []byte(in))
	if want := `{"ssn":"` + ssn + `","email":"ada@example.com"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if len(fails) != 0 {
		t.Errorf("failures for a class not requested: %v", fails)
	}
}

func TestValue(t *testing.T) {
	c := testcodec.New(t)
	d := NewDecryptor(c)
	ssn := testcodec.Token(t, c, "identity", `"`+canary+`"`)
	bad := testcodec.Tampered(ssn)
	input := string(jsontape.AppendQuoted(nil, []byte(`{"ssn":"`+ssn+`"}`)))
	output := string(jsontape.AppendQuoted(nil, []byte(`{"ssn":"`+bad+`"}`)))
	wantInput := string(jsontape.AppendQuoted(nil, []byte(`{"ssn":"`+canary+`"}`)))
	ev := `{"id": 3, "type": "Future", "futureEventDetails": {"input": ` + input + `, "output": ` + output + `, "cause": "` + ssn + `", "n": 1.50}}`
	got, fails, err := d.Value(context.Background(), []byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id": 3, "type": "Future", "futureEventDetails": {"input": ` + wantInput + `, "output": ` + output + `, "cause": "` + canary + `", "n": 1.50}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if len(fails) != 1 || fails[0].Field != "/futureEventDetails/output" || fails[0].Pointer != "/ssn" || fails[0].Token != bad {
		t.Errorf("failures = %+v", fails)
	}
	if _, _, err := d.Value(context.Background(), []byte(`{"a":`)); err == nil {
		t.Error("Value accepted invalid JSON")
	}
}

func assertNoCanary(t *testing.T, s string) {
	t.Helper()
	leaktest.Check(t, "output", s, canary)
}
