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

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/fieldpath"
)

// logsDir holds the CloudWatch Logs fixtures and their configuration.
const logsDir = "../../testdata/logs"

// logNames are the log fixtures in testdata/logs.
var logNames = []string{"express", "standard", "denied"}

func logFixture(name string) string { return filepath.Join(logsDir, name) }

// TestLogsGolden decrypts each encrypted log fixture as a user would and
// compares the JSON output with the plaintext log (or, where the reader
// cannot see everything, with the expected view), and the text output and
// diagnostics with their golden files. With -update it first makes the
// encrypted fixtures and rewrites the golden files.
func TestLogsGolden(t *testing.T) {
	if *update {
		g := newLogsGenerator(t)
		for _, name := range logNames {
			g.generate(t, name)
		}
	}
	for _, name := range logNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			enc := logFixture(name + ".encrypted.json")
			wantCode := exitOK
			if name == "denied" {
				wantCode = exitTokens
			}
			args := []string{"logs", "--config", logFixture("config.json"), "--reason", "TEST-9 golden", enc}
			out, stderr, code := runCmd(t, "", args...)
			if code != wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, wantCode, stderr)
			}
			want := logFixture(name + ".expected.json")
			if _, err := os.Stat(want); err != nil {
				want = logFixture(name + ".json")
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
			stderr = strings.ReplaceAll(stderr, enc, name+".encrypted.json")
			checkGolden(t, logFixture(name+".txt"), text)
			checkGolden(t, logFixture(name+".stderr"), stderr)
		})
	}
}

// TestLogsGoldenCoverage checks that the fixtures hold what the tests claim:
// Express and Standard executions, success and failure, truncated data,
// messages that are not Step Functions events, both saved shapes, and no
// plaintext in the encrypted files.
func TestLogsGoldenCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range logNames {
		var doc struct {
			Events []struct {
				Message       string  `json:"message"`
				LogStreamName *string `json:"logStreamName"`
			} `json:"events"`
			NextForwardToken *string `json:"nextForwardToken"`
		}
		if err := json.Unmarshal(readFile(t, logFixture(name+".json")), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.NextForwardToken != nil {
			seen["get-log-events shape"] = true
		} else if len(doc.Events) > 0 && doc.Events[0].LogStreamName != nil {
			seen["filter-log-events shape"] = true
		}
		for _, e := range doc.Events {
			var m struct {
				Type         string                     `json:"type"`
				ExecutionARN string                     `json:"execution_arn"`
				Details      map[string]json.RawMessage `json:"details"`
			}
			if json.Unmarshal([]byte(e.Message), &m) != nil || m.ExecutionARN == "" {
				seen["other message"] = true
				continue
			}
			switch {
			case strings.Contains(m.ExecutionARN, ":express:"):
				seen["express"] = true
			case strings.Contains(m.ExecutionARN, ":execution:"):
				seen["standard"] = true
			}
			seen[m.Type] = true
			for k, v := range m.Details {
				if strings.HasSuffix(k, "Details") && (strings.Contains(string(v), `true`)) {
					seen["truncated"] = true
				}
			}
		}
		enc := string(readFile(t, logFixture(name+".encrypted.json")))
		for _, c := range canaries {
			if strings.Contains(enc, c) {
				t.Errorf("%s.encrypted.json holds plaintext %q", name, c)
			}
		}
	}
	for _, want := range []string{"filter-log-events shape", "get-log-events shape", "other message", "express", "standard", "truncated",
		"ExecutionSucceeded", "ExecutionFailed", "TaskFailed", "TaskTimedOut", "ExecutionRedriven", "MapIterationStarted"} {
		if !seen[want] {
			t.Errorf("no fixture has %s", want)
		}
	}
}

// logsGenerator makes the encrypted log fixtures, as generator does for
// histories: the reader's codec encrypts by testdata/logs/config.json; in
// denied.json values that the reader must fail on are first encrypted
// otherwise. Data marked truncated is whole in NAME.json: the generator cuts
// its encrypted text as Step Functions would have cut it (in standard.json
// after a whole token, in denied.json inside one), and NAME.expected.json
// holds what the reader then sees.
type logsGenerator struct{ *generator }

func newLogsGenerator(t *testing.T) *logsGenerator {
	ctx := context.Background()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	mk := func(js string) *codec.Codec {
		c, err := codec.ParseConfig([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		cd, err := codec.New(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return cd
	}
	cfg, err := codec.LoadConfig(logFixture("config.json"))
	if err != nil {
		t.Fatal(err)
	}
	reader, err := codec.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	testKeyset := abs("../../testdata/keys/insecure-test-keyset.json")
	otherKeyset := abs("../../testdata/keys/insecure-other-keyset.json")
	return &logsGenerator{&generator{
		reader: reader,
		partner: mk(`{"encryptionContext":{"app":"partner"},"keyrings":{"k":{"insecureLocalKeyset":"` + testKeyset + `"}},
			"rules":[{"class":"partner","keyring":"k","select":["$..partnerRef"]}]}`),
		vault: mk(`{"encryptionContext":{"app":"orders"},"keyrings":{"k":{"insecureLocalKeyset":"` + otherKeyset + `"}},
			"rules":[{"class":"vault","keyring":"k","select":["$..vaultRef"]}]}`),
		tamper: mk(`{"encryptionContext":{"app":"orders"},"keyrings":{"k":{"insecureLocalKeyset":"` + testKeyset + `"}},
			"rules":[{"class":"identity","keyring":"k","select":["$..tampered"]}]}`),
	}}
}

func (g *logsGenerator) generate(t *testing.T, name string) {
	src := readFile(t, logFixture(name+".json"))
	enc, exp := g.encryptLog(t, name, src, g.reader)
	if err := os.WriteFile(logFixture(name+".encrypted.json"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	expPath := logFixture(name + ".expected.json")
	if bytes.Equal(exp, src) {
		os.Remove(expPath)
		return
	}
	if err := os.WriteFile(expPath, exp, 0o644); err != nil {
		t.Fatal(err)
	}
}

// encryptLog returns the saved log src with the data of its Step Functions
// events encrypted by reader (and the other codecs for denied), and what a
// reader should see of it.
func (g *logsGenerator) encryptLog(t *testing.T, name string, src []byte, reader *codec.Codec) (enc, exp []byte) {
	doc, err := fieldpath.Scan(src, fieldpath.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Release()
	last := 0
	for n := 0; n < doc.Len(); n++ {
		p := doc.Pointer(n)
		if doc.Kind(n) != fieldpath.String || !strings.HasPrefix(p, "/events/") || !strings.HasSuffix(p, "/message") {
			continue
		}
		msg := doc.AppendString(nil, n)
		encMsg, expMsg := g.encryptMessage(t, name, msg, reader)
		start, end := doc.Raw(n)
		enc = append(enc, src[last:start]...)
		exp = append(exp, src[last:start]...)
		if bytes.Equal(encMsg, msg) {
			enc = append(enc, src[start:end]...)
		} else {
			enc = eventdata.AppendString(enc, encMsg)
		}
		if bytes.Equal(expMsg, msg) {
			exp = append(exp, src[start:end]...)
		} else {
			exp = eventdata.AppendString(exp, expMsg)
		}
		last = end
	}
	return append(enc, src[last:]...), append(exp, src[last:]...)
}

// logDataField reports whether the string at pointer p of a Step Functions
// log message holds data to encrypt.
func logDataField(p string) (string, bool) {
	parts := strings.Split(p, "/")
	switch {
	case len(parts) == 3 && parts[1] == "details" && slices.Contains([]string{"input", "output", "parameters", "cause"}, parts[2]):
		return parts[2], true
	case len(parts) == 4 && parts[1] == "details" && parts[2] == "assignedVariables":
		return "assignedVariables", true
	}
	return "", false
}

func (g *logsGenerator) encryptMessage(t *testing.T, name string, msg []byte, reader *codec.Codec) (enc, exp []byte) {
	ctx := context.Background()
	var m struct {
		ExecutionARN string                     `json:"execution_arn"`
		Details      map[string]json.RawMessage `json:"details"`
	}
	if json.Unmarshal(msg, &m) != nil || m.ExecutionARN == "" {
		return msg, msg
	}
	truncated := map[string]bool{}
	for k, v := range m.Details {
		var d struct {
			Truncated any `json:"truncated"`
		}
		if f, ok := strings.CutSuffix(k, "Details"); ok && json.Unmarshal(v, &d) == nil && (d.Truncated == true || d.Truncated == "true") {
			truncated["/details/"+f] = true
		}
	}
	doc, err := fieldpath.Scan(msg, fieldpath.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Release()
	last := 0
	for n := 0; n < doc.Len(); n++ {
		if doc.Kind(n) != fieldpath.String {
			continue
		}
		p := doc.Pointer(n)
		field, ok := logDataField(p)
		if !ok {
			continue
		}
		content := doc.AppendString(nil, n)
		isJSON := json.Valid(content)
		if name == "denied" && g.partner != nil {
			if isJSON {
				for _, c := range []*codec.Codec{g.partner, g.vault, g.tamper} {
					if content, err = c.Encrypt(ctx, content); err != nil {
						t.Fatalf("%s: %v", p, err)
					}
				}
				content = tamper(content)
			} else if field == "cause" {
				tok, err := g.partner.EncryptValue(ctx, "partner", eventdata.AppendString(nil, content))
				if err != nil {
					t.Fatal(err)
				}
				content = []byte(tok)
			}
		}
		expected := content
		switch {
		case isJSON:
			content = encryptNested(t, reader, content)
		case field == "cause" && !bytes.HasPrefix(content, []byte("sfnenc:")):
			tok, err := reader.EncryptValue(ctx, "diagnostics", eventdata.AppendString(nil, content))
			if err != nil {
				t.Fatal(err)
			}
			content = []byte(tok)
		}
		if truncated[p] {
			content, expected = cutEncrypted(t, content, expected, name == "denied")
		}
		start, end := doc.Raw(n)
		enc = append(append(enc, msg[last:start]...), eventdata.AppendString(nil, content)...)
		exp = append(append(exp, msg[last:start]...), eventdata.AppendString(nil, expected)...)
		last = end
	}
	return append(enc, msg[last:]...), append(exp, msg[last:]...)
}

// cutEncrypted cuts the encrypted JSON text enc as Step Functions truncates
// data: inside its last token, or a few bytes after it. plain is the text
// the reader sees where enc is whole; it returns the cut text and what the
// reader sees of it. Outside tokens the two have the same bytes, so the part
// after the last token is a common tail.
func cutEncrypted(t *testing.T, enc, plain []byte, inside bool) (cut, seen []byte) {
	li := bytes.LastIndex(enc, []byte("sfnenc:"))
	if li < 0 {
		t.Fatal("truncated data holds no token to cut at")
	}
	run := li + len("sfnenc:")
	for run < len(enc) && isBase64URLByte(enc[run]) {
		run++
	}
	if inside {
		valueEnd := len(plain) - (len(enc) - run) // where the value's closing quote is
		open := bytes.LastIndexByte(plain[:valueEnd], '"')
		cut = enc[:li+40]
		return cut, append(bytes.Clone(plain[:open+1]), enc[li:li+40]...)
	}
	closeEnd := run
	for closeEnd < len(enc) && enc[closeEnd] == '\\' {
		closeEnd++
	}
	closeEnd++ // the quote
	c := min(closeEnd+9, len(enc)-1)
	drop := len(enc) - c
	return enc[:c], plain[:len(plain)-drop]
}

func isBase64URLByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
