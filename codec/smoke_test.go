package codec

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$..ssn"]},{"class":"contact","keyring":"dev","select":["$..phone"]}]`)
	in := []byte(`{"a": 1, "ssn": "` + canarySSN + `", "list": [ {"phone": "` + canaryPhone + `"}, {"phone": 12.50} ] }`)
	ctx := context.Background()
	enc, err := c.Encrypt(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", enc)
	assertNoCanary(t, "encrypted", string(enc))
	dec, err := c.Decrypt(ctx, enc)
	if err != nil {
		t.Fatal(err)
	}
	if string(dec) != string(in) {
		t.Fatalf("round trip:\n got %s\nwant %s", dec, in)
	}
	enc2, err := c.Encrypt(ctx, enc)
	if err != nil || string(enc2) != string(enc) {
		t.Fatalf("not idempotent: %v", err)
	}
	t.Logf("stats %+v", c.Stats())
}
