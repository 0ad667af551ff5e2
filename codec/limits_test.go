package codec

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/jsontape"
)

// TestResourceLimits: documents at and beyond the size and depth limits,
// and a selector that matches 100,000 values, end in a result or a clear
// error, in bounded time and memory.
func TestResourceLimits(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"all","keyring":"dev","select":["$.many[*]","$.ssn"]}]`)

	pad := func(n int) []byte { // a document of exactly n bytes
		head, tail := `{"x":"`, `"}`
		return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
	}
	if _, err := c.Decrypt(ctx, pad(jsontape.DefaultMaxSize)); err != nil {
		t.Errorf("a document at the size limit: %v", err)
	}
	if _, err := c.Decrypt(ctx, pad(jsontape.DefaultMaxSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a document over the size limit: %v", err)
	}
	nest := func(depth int) []byte {
		return []byte(strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth))
	}
	if _, err := c.Encrypt(ctx, nest(jsontape.DefaultMaxDepth)); err != nil {
		t.Errorf("nesting at the limit: %v", err)
	}
	if _, err := c.Encrypt(ctx, nest(jsontape.DefaultMaxDepth+1)); !errors.Is(err, jsontape.ErrTooDeep) {
		t.Errorf("nesting over the limit: %v", err)
	}

	// 100,000 selected values: the encrypted document (about 24 MB) is
	// over the 4 MiB limit, so Encrypt refuses before sealing anything...
	many := []byte(`{"many":[` + strings.TrimSuffix(strings.Repeat("1,", 100000), ",") + `]}`)
	out, err := c.Encrypt(ctx, many)
	if out != nil || !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("100,000 values under the default limit: %v", err)
	}
	// ...and with a limit that allows it, all of them are encrypted and
	// come back.
	big := newLocal(t, `[{"class":"all","keyring":"dev","select":["$.many[*]"]}]`, WithLimits(jsontape.Limits{MaxSize: 64 << 20}))
	enc, err := big.Encrypt(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(enc, []byte(`"sfnenc:`)); n != 100000 {
		t.Errorf("%d tokens, want 100000", n)
	}
	dec, err := big.Decrypt(ctx, enc)
	if err != nil || !bytes.Equal(dec, many) {
		t.Errorf("round trip of 100,000 values: %v", err)
	}
}

// TestSelectorEvaluationFailsClosed: a filter the query library cannot
// evaluate on a document (found by fuzzing fieldpath) fails Encrypt; it
// neither crashes nor leaves the values in plaintext.
func TestSelectorEvaluationFailsClosed(t *testing.T) {
	c := newLocal(t, `[{"class":"c","keyring":"dev","select":["$.ssn","$[?match(@,$.pattern)]"]}]`)
	out, err := c.Encrypt(context.Background(), []byte(`{"ssn":"`+canarySSN+`","name":"x"}`))
	if out != nil || !errors.Is(err, fieldpath.ErrEvaluation) {
		t.Fatalf("Encrypt = %q, %v; want no output and ErrEvaluation", out, err)
	}
	assertNoCanary(t, "error", err.Error())
}

// TestDepthWhereTheValueLands: a token moved deeper than it was made (or
// made by EncryptValue) must not produce a document over the depth limit.
func TestDepthWhereTheValueLands(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"pii","keyring":"dev","select":["$.v"]}]`, WithLimits(jsontape.Limits{MaxDepth: 8}))
	tok, err := c.EncryptValue(ctx, "pii", []byte(`[[[["`+canarySSN+`"]]]]`)) // 4 levels
	if err != nil {
		t.Fatal(err)
	}
	at := func(depth int) []byte {
		return []byte(strings.Repeat("[", depth) + `"` + tok + `"` + strings.Repeat("]", depth))
	}
	if _, err := c.Decrypt(ctx, at(4)); err != nil {
		t.Errorf("at depth 4 (4+4 = 8 levels): %v", err)
	}
	for _, depth := range []int{5, 8} {
		_, err := c.Decrypt(ctx, at(depth))
		if !errors.Is(err, ErrAuthentication) {
			t.Errorf("at depth %d: %v, want a refusal", depth, err)
		}
		if err != nil {
			assertNoCanary(t, "error", err.Error())
		}
	}
	// A scalar fits even where no nesting is left.
	scalar, err := c.EncryptValue(ctx, "pii", []byte(`"x"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, []byte(strings.Repeat("[", 8)+`"`+scalar+`"`+strings.Repeat("]", 8))); err != nil {
		t.Errorf("a scalar at the depth limit: %v", err)
	}
}

// TestMaxBytesSplitsDataKeys: a configured MaxBytes below the selected
// bytes of a document makes Encrypt take several data keys instead of
// failing; a single value over it is a DataKeyError.
func TestMaxBytesSplitsDataKeys(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, `[{"class":"pii","keyring":"dev","select":["$[*]"]}]`,
		WithCacheLimits(CacheLimits{MaxBytes: 100}, CacheLimits{}))
	var vals []string
	for i := range 10 {
		vals = append(vals, `"`+strings.Repeat(string(rune('a'+i)), 30)+`"`)
	}
	doc := []byte("[" + strings.Join(vals, ",") + "]")
	var rep Report
	enc, err := c.Encrypt(WithReport(ctx, &rep), doc)
	if err != nil {
		t.Fatal(err)
	}
	// 32 bytes a value, at most 100 bytes a key: 3 values a key, 4 keys.
	if n := rep.KeyMisses + rep.KeyHits; n != 4 {
		t.Errorf("%d data keys, want 4", n)
	}
	if dec, err := c.Decrypt(ctx, enc); err != nil || !bytes.Equal(dec, doc) {
		t.Errorf("round trip: %v", err)
	}
	_, err = c.Encrypt(ctx, []byte(`["`+strings.Repeat("x", 200)+`"]`))
	var dke *DataKeyError
	if !errors.As(err, &dke) || dke.Class != "pii" || strings.Contains(err.Error(), "(root)") {
		t.Errorf("a value over MaxBytes: %v, want a DataKeyError of class pii", err)
	}
}
