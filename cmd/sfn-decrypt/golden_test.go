package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/jsontape"
)

// goldenNames are the history fixtures in testdata/history.
var goldenNames = []string{"orders", "failures", "evaluation", "aborted", "timedout", "redriven", "denied"}

// TestGolden decrypts each encrypted fixture as a user would and compares
// the JSON output with the plaintext history (or, where the reader cannot
// decrypt everything, with the expected view), and the text output and
// diagnostics with their golden files. With -update it first makes the
// encrypted fixtures and rewrites the golden files.
func TestGolden(t *testing.T) {
	testGoldenFixtures(t, newGenerator, goldenNames, fixture, "history", "TEST-1 golden")
}

// testGoldenFixtures runs checkGoldenFixture on each of the fixtures names
// (their files named by path), in parallel. With -update it first makes the
// encrypted fixtures with the generator that newGenerator returns.
func testGoldenFixtures[G interface{ generate(*testing.T, string) }](t *testing.T, newGenerator func(*testing.T) G,
	names []string, path func(string) string, cmd, reason string) {
	if *update {
		g := newGenerator(t)
		for _, name := range names {
			g.generate(t, name)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkGoldenFixture(t, path, cmd, reason, name)
		})
	}
}

// checkGoldenFixture runs the command cmd (history, logs) on the encrypted
// fixture NAME.encrypted.json as a user would, with the configuration
// config.json beside it (path names the fixture files), and compares the
// JSON output with NAME.json (or, where the reader cannot decrypt
// everything, with the expected view NAME.expected.json), and the text
// output and diagnostics with their golden files NAME.txt and NAME.stderr.
// Only the fixture denied holds tokens the reader cannot decrypt.
func checkGoldenFixture(t *testing.T, path func(string) string, cmd, reason, name string) {
	enc := path(name + ".encrypted.json")
	wantCode := exitOK
	if name == "denied" {
		wantCode = exitTokens
	}
	args := []string{cmd, "--config", path("config.json"), "--reason", reason, enc}
	out, stderr, code := runCmd(t, "", args...)
	if code != wantCode {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, wantCode, stderr)
	}
	want := path(name + ".expected.json")
	if _, err := os.Stat(want); err != nil {
		want = path(name + ".json")
	}
	if diff := cmp.Diff(parseJSON(t, readFile(t, want)), parseJSON(t, []byte(out))); diff != "" {
		t.Errorf("json output mismatch (-want +got):\n%s", diff)
	}
	assertNoCanary(t, "stderr", stderr)

	text, stderr2, code := runCmd(t, "", append(args, "--output", "text")...)
	if code != wantCode {
		t.Fatalf("text: exit code %d, want %d; stderr:\n%s", code, wantCode, stderr2)
	}
	if stderr2 != stderr {
		t.Errorf("stderr differs between json and text output:\n%s\n---\n%s", stderr, stderr2)
	}
	// The file name in a heading depends on where the test runs.
	text = strings.Replace(text, enc, name+".encrypted.json", 1)
	stderr = strings.ReplaceAll(stderr, enc, name+".encrypted.json")
	checkGolden(t, path(name+".txt"), text)
	checkGolden(t, path(name+".stderr"), stderr)
}

// TestGoldenCoverage checks that the fixtures hold every event type of the
// Step Functions API, and that the encrypted fixtures hold no plaintext.
func TestGoldenCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range goldenNames {
		var h struct {
			Events []struct {
				Type string `json:"type"`
			} `json:"events"`
		}
		if err := json.Unmarshal(readFile(t, fixture(name+".json")), &h); err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Events {
			seen[e.Type] = true
		}
		enc := string(readFile(t, fixture(name+".encrypted.json")))
		for _, c := range canaries {
			if strings.Contains(enc, c) {
				t.Errorf("%s.encrypted.json holds plaintext %q", name, c)
			}
		}
	}
	var missing []string
	for _, v := range types.HistoryEventType("").Values() {
		if !seen[string(v)] {
			missing = append(missing, string(v))
		}
	}
	if len(missing) > 0 {
		t.Errorf("event types in no fixture: %v", missing)
	}
}

func parseJSON(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	return v
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := string(readFile(t, path))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", filepath.Base(path), diff)
	}
}

// generator makes the encrypted fixtures. The reader's codec encrypts by
// config.json. For denied.json, values that the reader must fail on are
// first encrypted otherwise: partnerRef and plain-text causes under another
// encryption context, vaultRef with another keyset, tampered with the
// reader's key and then altered; and output marked truncated is cut off in
// the middle of a token.
type generator struct {
	reader, partner, vault, tamper *codec.Codec
}

func newGenerator(t *testing.T) *generator {
	other := fixture("other-keyset.json")
	if _, err := os.Stat(other); err != nil {
		var b bytes.Buffer
		if err := envelope.WriteInsecureLocalKeyset(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(other, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return newGeneratorWith(t, fixture("config.json"), other)
}

// newGeneratorWith returns a generator whose reader encrypts by the
// configuration file config and whose vault codec by the keyset file
// vaultKeyset.
func newGeneratorWith(t *testing.T, config, vaultKeyset string) *generator {
	ctx := context.Background()
	cfg, err := codec.LoadConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(c *codec.Config) *codec.Codec {
		cd, err := codec.New(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return cd
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	parse := func(js string) *codec.Config {
		c, err := codec.ParseConfig([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	testKeyset := abs("../../testdata/keys/insecure-test-keyset.json")
	return &generator{
		reader: mk(cfg),
		partner: mk(parse(`{"encryptionContext":{"app":"partner"},"keyrings":{"k":{"insecureLocalKeyset":"` + testKeyset + `"}},
			"rules":[{"class":"partner","keyring":"k","select":["$..partnerRef"]}]}`)),
		vault: mk(parse(`{"encryptionContext":{"app":"orders"},"keyrings":{"k":{"insecureLocalKeyset":"` + abs(vaultKeyset) + `"}},
			"rules":[{"class":"vault","keyring":"k","select":["$..vaultRef"]}]}`)),
		tamper: mk(parse(`{"encryptionContext":{"app":"orders"},"keyrings":{"k":{"insecureLocalKeyset":"` + testKeyset + `"}},
			"rules":[{"class":"identity","keyring":"k","select":["$..tampered"]}]}`)),
	}
}

// dataField reports whether the string at pointer p of a history holds
// data to encrypt: input, output, parameters and cause of any details,
// assigned variables, and every string of details of unknown event types.
func dataField(p string) (field string, ok bool) {
	parts := strings.Split(p, "/")
	// "", "events", i, "<x>EventDetails", field [, var]
	if len(parts) < 5 || parts[1] != "events" || !strings.HasSuffix(parts[3], "EventDetails") {
		return "", false
	}
	switch {
	case len(parts) == 5 && slices.Contains([]string{"input", "output", "parameters", "cause"}, parts[4]):
		return parts[4], true
	case len(parts) == 6 && parts[4] == "assignedVariables":
		return "assignedVariables", true
	case len(parts) == 5 && parts[3] == "receiptIssuedEventDetails" && parts[4] == "receipt":
		return "receipt", true
	}
	return "", false
}

func (g *generator) generate(t *testing.T, name string) {
	src := readFile(t, fixture(name+".json"))
	enc, exp := g.encrypt(t, name, src)
	writeGenerated(t, fixture, name, src, enc, exp)
}

// writeGenerated writes the encrypted fixture NAME.encrypted.json made from
// src and, if the reader does not see src in it, NAME.expected.json: the
// files path names.
func writeGenerated(t *testing.T, path func(string) string, name string, src, enc, exp []byte) {
	if err := os.WriteFile(path(name+".encrypted.json"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	expPath := path(name + ".expected.json")
	if bytes.Equal(exp, src) {
		os.Remove(expPath)
		return
	}
	if err := os.WriteFile(expPath, exp, 0o644); err != nil {
		t.Fatal(err)
	}
}

// encrypt returns the history src encrypted, and what a reader with the
// reader's configuration should see of it.
func (g *generator) encrypt(t *testing.T, name string, src []byte) (enc, exp []byte) {
	return g.encryptFields(t, src, dataField, g.reader, name == "denied", func(p, field string, content, expected []byte) ([]byte, []byte) {
		if name == "denied" && field == "output" && strings.Contains(p, "taskSucceeded") {
			// Cut off by Step Functions, in the middle of a token.
			i := bytes.Index(content, []byte("sfnenc:"))
			return content[:i+40], content[:i+40]
		}
		return content, expected
	})
}

// encryptFields returns the JSON text src with the strings that isData
// takes for data encrypted by reader, and what that reader should see of
// it. With denied, values that the reader must fail on are first encrypted
// otherwise (see generator). cut returns a field's encrypted text and what
// the reader sees of it as Step Functions leaves them: cut off, or whole.
func (g *generator) encryptFields(t *testing.T, src []byte, isData func(pointer string) (field string, ok bool), reader *codec.Codec, denied bool,
	cut func(p, field string, content, expected []byte) ([]byte, []byte)) (enc, exp []byte) {
	ctx := context.Background()
	doc := scanJSON(t, src)
	defer doc.Release()
	var err error
	last := 0
	for n := 0; n < doc.Len(); n++ {
		if doc.Kind(n) != jsontape.String {
			continue
		}
		p := doc.Pointer(n)
		field, ok := isData(p)
		if !ok {
			continue
		}
		content := doc.AppendString(nil, n)
		isJSON := json.Valid(content)
		// Pass 1, denied only: what the reader must fail on.
		if denied {
			if isJSON {
				for _, c := range []*codec.Codec{g.partner, g.vault, g.tamper} {
					if content, err = c.Encrypt(ctx, content); err != nil {
						t.Fatalf("%s: %v", p, err)
					}
				}
				content = tamper(content)
			} else if field == "cause" {
				tok, err := g.partner.EncryptValue(ctx, "partner", jsontape.AppendQuoted(nil, content))
				if err != nil {
					t.Fatal(err)
				}
				content = []byte(tok)
			}
		}
		expected := content
		// Pass 2: the reader's own tokens.
		switch {
		case isJSON:
			content = encryptNested(t, reader, content)
		case field == "cause" && !bytes.HasPrefix(content, []byte("sfnenc:")):
			tok, err := reader.EncryptValue(ctx, "diagnostics", jsontape.AppendQuoted(nil, content))
			if err != nil {
				t.Fatal(err)
			}
			content = []byte(tok)
		}
		content, expected = cut(p, field, content, expected)
		start, end := doc.Raw(n)
		enc = append(append(enc, src[last:start]...), jsontape.AppendQuoted(nil, content)...)
		exp = append(append(exp, src[last:start]...), jsontape.AppendQuoted(nil, expected)...)
		last = end
	}
	return append(enc, src[last:]...), append(exp, src[last:]...)
}

// scanJSON scans the JSON text src, which the test made or read.
func scanJSON(t *testing.T, src []byte) *jsontape.Document {
	t.Helper()
	doc, err := jsontape.Scan(src, jsontape.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// tamper alters the token made for the "tampered" member, in its sealed
// part, so that it fails authentication.
func tamper(doc []byte) []byte {
	i := bytes.Index(doc, []byte(`"tampered":"sfnenc:`))
	if i < 0 {
		return doc
	}
	end := i + len(`"tampered":"`) + bytes.IndexByte(doc[i+len(`"tampered":"`):], '"')
	out := bytes.Clone(doc)
	c := &out[end-5]
	if *c == 'A' {
		*c = 'B'
	} else {
		*c = 'A'
	}
	return out
}

// encryptNested encrypts the JSON text doc by c's rules, after the strings
// in it that hold JSON objects (a caught error's Cause, say).
func encryptNested(t *testing.T, c *codec.Codec, doc []byte) []byte {
	t.Helper()
	fd := scanJSON(t, doc)
	defer fd.Release()
	var out []byte
	last := 0
	for n := 0; n < fd.Len(); n++ {
		if fd.Kind(n) != jsontape.String {
			continue
		}
		inner := fd.AppendString(nil, n)
		if len(inner) == 0 || inner[0] != '{' || !json.Valid(inner) {
			continue
		}
		start, end := fd.Raw(n)
		out = append(out, doc[last:start]...)
		out = jsontape.AppendQuoted(out, encryptNested(t, c, inner))
		last = end
	}
	out = append(out, doc[last:]...)
	enc, err := c.Encrypt(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
