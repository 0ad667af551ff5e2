package eventdata

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/testcodec"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"
)

// TestTruncated decrypts JSON text cut off as Step Functions truncates data
// in CloudWatch Logs: whole tokens at every level of JSON in strings are
// replaced by their values, escaped for their level; tokens cut off, or
// inside other text, stay and are reported.
func TestTruncated(t *testing.T) {
	c := testcodec.New(t)
	d := NewDecryptor(c)
	ctx := context.Background()
	email := testcodec.Token(t, c, "contact", `"ada@example.com"`)
	obj := testcodec.Token(t, c, "identity", `{"ssn":"`+canary+`","q":"a\"b"}`)
	bad := testcodec.Tampered(testcodec.Token(t, c, "contact", `"x"`))
	esc := func(s string, n int) string {
		for range n {
			s = string(jsontape.AppendEscaped(nil, []byte(s), '"'))
		}
		return s
	}
	tests := []struct {
		name, in, want string
		fails          []string // reason of each failure
	}{
		{"level 0, cut after", `{"email":"` + email + `","n":[1,2`, `{"email":"ada@example.com","n":[1,2`, nil},
		{"level 0, an object", `{"who":"` + obj + `","n":`, `{"who":{"ssn":"` + canary + `","q":"a\"b"},"n":`, nil},
		{"level 1", `{"cause":"{\"email\":\"` + email + `\",\"n\":1}","more":"ab`, `{"cause":"{\"email\":\"ada@example.com\",\"n\":1}","more":"ab`, nil},
		{"level 1, an object", `{"cause":"{\"who\":\"` + obj + `\"}","x`, `{"cause":"{\"who\":` + esc(`{"ssn":"`+canary+`","q":"a\"b"}`, 1) + `}","x`, nil},
		{"level 2", `{"a":"{\"b\":\"{\\\"email\\\":\\\"` + email + `\\\"}\"}"`, `{"a":"{\"b\":\"{\\\"email\\\":\\\"ada@example.com\\\"}\"}"`, nil},
		{"cut in the token", `{"email":"` + email[:30], `{"email":"` + email[:30], []string{"in data truncated by Step Functions"}},
		{"cut before the closing quote", `{"email":"` + email, `{"email":"` + email, []string{"in data truncated by Step Functions"}},
		{"cut in a level-1 closing quote", `{"c":"{\"email\":\"` + email + `\`, `{"c":"{\"email\":\"` + email + `\`, []string{"in data truncated by Step Functions"}},
		{"cut after the prefix", `{"email":"sfnenc:`, `{"email":"sfnenc:`, []string{"in data truncated by Step Functions"}},
		{"inside other text", `{"cause":"card ` + email + ` declined","n`, `{"cause":"card ` + email + ` declined","n`, []string{"in data truncated by Step Functions"}},
		{"altered", `{"email":"` + bad + `","n`, `{"email":"` + bad + `","n`, []string{"failed authentication (altered, or another context or class)"}},
		{"the prefix in prose", `{"note":"tokens start with sfnenc: and","n`, `{"note":"tokens start with sfnenc: and","n`, nil},
		{"no token", `{"a":[1,2`, `{"a":[1,2`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fails := d.Truncated(ctx, []byte(tt.in))
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			var reasons []string
			for _, f := range fails {
				reasons = append(reasons, f.Reason())
				if f.Token == "" || !strings.Contains(tt.in, f.Token) || f.Pointer != "" {
					t.Errorf("failure %+v does not name its token", f)
				}
				assertNoCanary(t, f.Describe())
			}
			if diff := cmp.Diff(tt.fails, reasons); diff != "" {
				t.Errorf("failures mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// A class not requested stays, and is no failure.
	only := NewDecryptor(testcodec.New(t, codec.WithClasses("identity")))
	in := `{"email":"` + email + `","n`
	if got, fails := only.Truncated(ctx, []byte(in)); string(got) != in || len(fails) != 0 {
		t.Errorf("class not requested: got %s, %v", got, fails)
	}
}

// TestValueTruncated decrypts only the named strings as truncated data.
func TestValueTruncated(t *testing.T) {
	c := testcodec.New(t)
	d := NewDecryptor(c)
	email := testcodec.Token(t, c, "contact", `"ada@example.com"`)
	cut := `{"email":"` + email + `","n":[1`
	whole := `{"email":"` + email + `"}`
	q := func(s string) string { return string(jsontape.AppendQuoted(nil, []byte(s))) }
	ev := `{"details":{"output":` + q(cut) + `,"outputDetails":{"truncated":true},"input":` + q(whole) + `}}`
	got, fails, err := d.ValueTruncated(context.Background(), []byte(ev), []string{"/details/output"})
	if err != nil || len(fails) != 0 {
		t.Fatalf("%v, %v", fails, err)
	}
	want := `{"details":{"output":` + q(`{"email":"ada@example.com","n":[1`) + `,"outputDetails":{"truncated":true},"input":` + q(`{"email":"ada@example.com"}`) + `}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	// Without the pointer, the cut text is taken for plain text.
	_, fails, _ = d.ValueTruncated(context.Background(), []byte(`{"o":`+q(`{"email":"`+email[:20])+`}`), []string{"/o"})
	if len(fails) != 1 || !errors.Is(fails[0].Err, execdata.ErrTruncated) || fails[0].Field != "/o" {
		t.Errorf("failures %+v", fails)
	}
}
