package codec

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestScopeValueFilter plays a payload editor against a rule whose selector
// filters on values: they change the value the filter tests ("Primary"
// instead of "primary") so that the filter no longer selects the field, and
// put plaintext of their choosing there. Strict reads hold whatever the
// filtered values say: every value the filter could select must be a token
// of a class whose rule could select it, or null.
func TestScopeValueFilter(t *testing.T) {
	ctx := context.Background()
	rules := `[{"class":"identity","keyring":"dev","select":["$.applicants[?@.role=='primary'].ssn"]},
	           {"class":"coidentity","keyring":"dev","select":["$.applicants[?@.role=='co'].ssn"]},
	           {"class":"contact","keyring":"dev","select":["$..phone"]}]`
	c := newLocal(t, rules)
	tok := func(class, v string) string {
		s, err := c.EncryptValue(ctx, class, []byte(`"`+v+`"`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	primary, co := tok("identity", canarySSN), tok("coidentity", "987-65-4321")
	for _, tc := range []struct {
		name, doc string
		want      string // "" for success, else the ContractError's text
		decrypted string // a value the handler must see, if it succeeds
	}{
		{"genuine", `{"applicants":[{"role":"primary","ssn":"` + primary + `"},{"role":"co","ssn":"` + co + `"}]}`, "", canarySSN},
		{"filter value changed, plaintext planted", `{"applicants":[{"role":"Primary","ssn":"000-00-0000"}]}`,
			"codec: plaintext at /applicants/0/ssn, where the rules expect a token of class identity", ""},
		{"role removed, plaintext planted", `{"applicants":[{"ssn":"000-00-0000"}]}`,
			"codec: plaintext at /applicants/0/ssn, where the rules expect a token of class identity", ""},
		{"object planted", `{"applicants":[{"role":"x","ssn":{"a":1,"b":"` + primary + `"}}]}`,
			"codec: an object with 2 members, 1 of them tokens, at /applicants/0/ssn, where the rules expect a token of class identity", ""},
		{"token of a class no rule selects there", `{"applicants":[{"role":"x","ssn":"` + tok("contact", "+1") + `"}]}`,
			"codec: a token of class contact at /applicants/0/ssn, where the rules expect a token of class identity", ""},
		{"role changed on a genuine token: stays a token", `{"applicants":[{"role":"Primary","ssn":"` + primary + `"}]}`, "", ""},
		{"null", `{"applicants":[{"role":"Primary","ssn":null}]}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.NewScope()
			out, err := s.Decrypt(ctx, []byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if tc.decrypted != "" && !strings.Contains(string(out), tc.decrypted) {
					t.Errorf("the selected token was not decrypted: %s", out)
				}
				if tc.decrypted == "" && strings.Contains(string(out), canarySSN) {
					t.Errorf("a token the filter does not select was decrypted: %s", out)
				}
				return
			}
			if !errors.Is(err, ErrContract) || err.Error() != tc.want {
				t.Fatalf("Decrypt = %s, %v; want %q", out, err, tc.want)
			}
		})
	}

	t.Run("writes what the next function's strict reads expect", func(t *testing.T) {
		s := c.NewScope()
		if _, err := s.Decrypt(ctx, []byte(`{"applicants":[]}`)); err != nil {
			t.Fatal(err)
		}
		// The handler adds an applicant whose role the filter does not
		// select: its ssn is sealed as identity anyway.
		out, err := s.Encrypt(ctx, []byte(`{"applicants":[{"role":"guarantor","ssn":"`+canarySSN+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		assertNoCanary(t, "result", string(out))
		if _, err := c.NewScope().Decrypt(ctx, out); err != nil {
			t.Errorf("the next function refuses the result: %v", err)
		}
	})
	t.Run("accept plaintext guards what it accepted", func(t *testing.T) {
		s := c.NewScope(AcceptPlaintext())
		in := `{"applicants":[{"role":"Primary","ssn":"` + canarySSN + `"}]}`
		if _, err := s.Decrypt(ctx, []byte(in)); err != nil {
			t.Fatal(err)
		}
		out, err := s.Encrypt(ctx, []byte(`{"echo":"`+canarySSN+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		assertNoCanary(t, "result", string(out))
	})
}

// TestContractErrorNamesTheValue: a value that is not a token at a selected
// path is named by what it is (never by its content), so that the reader of
// a failed execution knows what to fix.
func TestContractErrorNamesTheValue(t *testing.T) {
	c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.applicant"]}]`)
	ctx := context.Background()
	tok, err := c.EncryptValue(ctx, "identity", []byte(`"x"`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"applicant":"` + canarySSN + `"}`, "codec: plaintext at /applicant, where the rules expect a token of class identity"},
		{`{"applicant":42}`, "codec: plaintext at /applicant, where the rules expect a token of class identity"},
		{`{"applicant":{"name":"` + tok + `","ssn":"` + tok + `","id":"` + canarySSN + `"}}`,
			"codec: an object with 3 members, 2 of them tokens, at /applicant, where the rules expect a token of class identity"},
		{`{"applicant":["` + tok + `"]}`, "codec: an array with 1 element, 1 of them tokens, at /applicant, where the rules expect a token of class identity"},
		{`{"applicant":["` + tok + `","` + tok + `"]}`, "codec: an array with 2 elements, 2 of them tokens, at /applicant, where the rules expect a token of class identity"},
		{`{"applicant":{}}`, "codec: an object with 0 members, at /applicant, where the rules expect a token of class identity"},
	} {
		_, err := c.NewScope().Decrypt(ctx, []byte(tc.doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.doc, err, tc.want)
		}
		if err != nil {
			assertNoCanary(t, "error", err.Error())
		}
	}
}
