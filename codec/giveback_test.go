package codec

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// TestScopeGivesBackOriginalTokens: where a result holds, at a place it is
// sealed, a value that the Scope decrypted, unchanged, the original token
// comes back, without a new token; a changed value, one under another
// business key, or one of another class is sealed anew.
func TestScopeGivesBackOriginalTokens(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.ssn","$.copy"],"signed":true,"bind":"$.app"},
	                   {"class":"contact","keyring":"dev","select":["$.phone"]}]`)
	writer := c.NewScope(AcceptPlaintext())
	if _, err := writer.Decrypt(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	event, err := writer.Encrypt(ctx, []byte(`{"app":"A-1","ssn":"a@b `+canarySSN+`","phone":"`+canaryPhone+`","n":{"k":[1, 2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	ssnTok, phoneTok := tokenAt(t, event, "ssn"), tokenAt(t, event, "phone")
	for _, tc := range []struct {
		name   string
		result func(plain string) string
		given  []string // tokens that must come back as they were
		made   int      // new tokens
	}{
		{"unchanged", func(p string) string { return p }, []string{ssnTok, phoneTok}, 0},
		{"re-spelled string", func(p string) string { return strings.Replace(p, "a@b", `a\u0040b`, 1) }, []string{ssnTok, phoneTok}, 0},
		{"moved to another path of the class", func(p string) string {
			return strings.Replace(p, `"ssn"`, `"copy"`, 1)
		}, []string{ssnTok, phoneTok}, 0},
		{"moved outside every rule", func(p string) string {
			return strings.Replace(p, `"ssn"`, `"elsewhere"`, 1)
		}, []string{ssnTok, phoneTok}, 0},
		{"changed", func(p string) string { return strings.Replace(p, "a@b", "x@y", 1) }, []string{phoneTok}, 1},
		{"another business key", func(p string) string { return strings.Replace(p, "A-1", "A-2", 1) }, []string{phoneTok}, 1},
		{"a value of one class where another class is sealed", func(p string) string {
			return `{"app":"A-1","phone":"a@b ` + canarySSN + `"}`
		}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.NewScope()
			plain, err := s.Decrypt(ctx, event)
			if err != nil {
				t.Fatal(err)
			}
			var rep Report
			out, err := s.Encrypt(WithReport(ctx, &rep), []byte(tc.result(string(plain))))
			if err != nil {
				t.Fatal(err)
			}
			assertNoCanary(t, "result", string(out))
			for _, tok := range tc.given {
				if !strings.Contains(string(out), `"`+tok+`"`) {
					t.Errorf("the original token is not in the result %s", masked(out))
				}
			}
			made := 0
			for _, n := range rep.Count(Made) {
				made += n
			}
			for _, n := range rep.Count(Resealed) {
				made += n
			}
			if made != tc.made {
				t.Errorf("%d new tokens, want %d (%+v)", made, tc.made, rep.Events)
			}
			if got, want := sum(rep.Count(GivenBack)), len(tc.given); got != want {
				t.Errorf("%d tokens given back, want %d", got, want)
			}
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// tokenAt returns the token text of the top-level member name of doc.
func tokenAt(t *testing.T, doc []byte, name string) string {
	t.Helper()
	i := strings.Index(string(doc), `"`+name+`":"sfnenc:`)
	if i < 0 {
		t.Fatalf("no token at %s in %s", name, doc)
	}
	rest := string(doc[i+len(name)+4:])
	return rest[:strings.IndexByte(rest, '"')]
}

// TestSignedClassReadOnlyScope plays a function that may only read the
// signed class identity (KMS refuses it GenerateDataKey and Encrypt: fault
// injection at local-kms, which has no key policies, stands in for the
// key policy): it returns what it read unchanged with no KMS call, and a
// changed value fails with the key service's refusal, without output.
func TestSignedClassReadOnlyScope(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	primary := srv.KeyARN("primary")
	writer := signedKMSCodec(t, srv, "true", primary)
	event, err := writer.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`","phone":"`+canaryPhone+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"GenerateDataKey", "Encrypt"} {
		srv.Inject(kmstest.Fault{Op: op, Kind: kmstest.AccessDenied})
	}
	reader := signedKMSCodec(t, srv, "true", primary)
	s := reader.NewScope()
	plain, err := s.Decrypt(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	out, err := s.Encrypt(ctx, plain)
	if err != nil {
		t.Fatalf("a read-only function cannot return what it read: %v", err)
	}
	if string(out) != string(event) {
		t.Errorf("result %s, want the event's tokens %s", masked(out), masked(event))
	}
	if n := srv.Requests("GenerateDataKey") + srv.Requests("Encrypt") + srv.Requests("Decrypt"); n != 0 {
		t.Errorf("%d KMS requests to give back tokens, want 0", n)
	}
	changed := strings.Replace(string(plain), canarySSN, "000-00-0000", 1)
	out, err = reader.NewScope(AcceptPlaintext()).Encrypt(ctx, []byte(changed))
	var dke *DataKeyError
	if err == nil || !errors.As(err, &dke) || !errors.Is(err, envelope.ErrDenied) || out != nil {
		t.Fatalf("a changed value of a signed class without write rights: %s, %v; want a DataKeyError wrapping ErrDenied and no output", out, err)
	}
	assertNoCanary(t, "error", err.Error())
}

// TestScopeGivesBackEqualValues: an object whose members a handler's
// encoder reordered and re-spelled is the same value, and its token comes
// back; a number spelled otherwise is not (equal doubles are not always
// equal numbers), and is sealed anew.
func TestScopeGivesBackEqualValues(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.obj","$.num"]}]`)
	event, err := c.Encrypt(ctx, []byte(`{"obj":{"b":"x\u0041","a":[1.50e2, true, null, {"z":"`+canarySSN+`","y":0}]},"num":9007199254740993}`))
	if err != nil {
		t.Fatal(err)
	}
	objTok := tokenAt(t, event, "obj")
	for _, tc := range []struct {
		name, result string
		given, made  int
	}{
		{"reordered and re-spelled object", `{"obj":{"a":[1.50e2,true,null,{"y":0,"z":"` + canarySSN + `"}],"b":"xA"},"num":9007199254740993}`, 2, 0},
		{"a number inside spelled otherwise", `{"obj":{"a":[150,true,null,{"y":0,"z":"` + canarySSN + `"}],"b":"xA"},"num":9007199254740993}`, 1, 1},
		{"a number that rounds to the same double", `{"obj":{"b":"xA","a":[1.50e2,true,null,{"z":"` + canarySSN + `","y":0}]},"num":9007199254740992}`, 1, 1},
		{"a member added", `{"obj":{"b":"xA","c":1,"a":[1.50e2,true,null,{"z":"` + canarySSN + `","y":0}]},"num":9007199254740993}`, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.NewScope()
			if _, err := s.Decrypt(ctx, event); err != nil {
				t.Fatal(err)
			}
			var rep Report
			out, err := s.Encrypt(WithReport(ctx, &rep), []byte(tc.result))
			if err != nil {
				t.Fatal(err)
			}
			assertNoCanary(t, "result", string(out))
			if got := sum(rep.Count(GivenBack)); got != tc.given {
				t.Errorf("%d tokens given back, want %d", got, tc.given)
			}
			if got := sum(rep.Count(Made)); got != tc.made {
				t.Errorf("%d tokens made, want %d", got, tc.made)
			}
			if tc.made == 0 && !strings.Contains(string(out), `"`+objTok+`"`) {
				t.Errorf("the object's token did not come back")
			}
		})
	}
}
