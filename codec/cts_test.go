package codec

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/jsonpathcts"
	"github.com/sfnenc/sfnenc/jsontape"
)

type ctsCase struct {
	Name         string          `json:"name"`
	Selector     string          `json:"selector"`
	Document     json.RawMessage `json:"document"`
	ResultPaths  []string        `json:"result_paths"`
	ResultsPaths [][]string      `json:"results_paths"`
	Invalid      bool            `json:"invalid_selector"`
}

// outermost drops every path that lies inside another path of the list:
// only the outermost of nested matches becomes a token.
func outermost(paths []string) []string {
	var out []string
	for _, p := range paths {
		inside := false
		for _, q := range paths {
			if q != p && strings.HasPrefix(p, q) && (p[len(q)] == '[') {
				inside = true
				break
			}
		}
		if !inside && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// TestCompliance checks, for every case of the RFC 9535 compliance suite,
// that encrypting with the case's selector turns exactly the values at the
// case's result paths into tokens (the outermost, where they nest), and
// that decrypting gives back the document byte for byte; and that every
// invalid selector is refused when the configuration is loaded.
func TestCompliance(t *testing.T) {
	data := jsonpathcts.Read(t)
	var suite struct{ Tests []ctsCase }
	if err := json.Unmarshal(data, &suite); err != nil {
		t.Fatal(err)
	}
	if len(suite.Tests) == 0 {
		t.Fatal("no compliance cases")
	}
	kr, err := envelope.LoadInsecureLocalKeyset("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	passed := 0
	for _, tc := range suite.Tests {
		ok := t.Run(tc.Name, func(t *testing.T) {
			cfg := &Config{
				Keyrings: map[string]KeyringConfig{"dev": {InsecureLocalKeyset: "unused"}},
				Rules:    []Rule{{Class: "cts", Keyring: "dev", Select: []string{tc.Selector}}},
			}
			c, err := New(ctx, cfg, WithKeyring("dev", kr))
			if tc.Invalid {
				var ce *ConfigError
				if !errors.Is(err, fieldpath.ErrSelector) || !errors.As(err, &ce) || ce.Field != "rules[0].select[0]" {
					t.Fatalf("invalid selector %q: New error = %v, want a configuration error for rules[0].select[0]", tc.Selector, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("selector %q: %v", tc.Selector, err)
			}
			enc, err := c.Encrypt(ctx, tc.Document)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			doc, err := jsontape.Scan(enc, jsontape.Limits{})
			if err != nil {
				t.Fatalf("encrypted document: %v", err)
			}
			var got []string
			for n := 0; n < doc.Len(); n++ {
				if doc.Kind(n) == jsontape.String && strings.HasPrefix(string(doc.AppendString(nil, n)), "sfnenc:") {
					got = append(got, doc.NormalizedPath(n))
				}
			}
			slices.Sort(got)
			alts := tc.ResultsPaths
			if tc.ResultPaths != nil || alts == nil {
				alts = [][]string{tc.ResultPaths}
			}
			want := outermost(alts[0])
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("selector %q on %s: token paths mismatch (-want +got):\n%s", tc.Selector, tc.Document, diff)
			}
			dec, err := c.Decrypt(ctx, enc)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if string(dec) != string(tc.Document) {
				t.Fatalf("round trip mismatch:\n got %s\nwant %s", dec, tc.Document)
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("RFC 9535 compliance suite: %d of %d cases pass", passed, len(suite.Tests))
}
