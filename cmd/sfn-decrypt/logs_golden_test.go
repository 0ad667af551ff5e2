package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"
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
	testGoldenFixtures(t, newLogsGenerator, logNames, logFixture, "logs", "TEST-9 golden")
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
	return &logsGenerator{newGeneratorWith(t, logFixture("config.json"), "../../testdata/keys/insecure-other-keyset.json")}
}

func (g *logsGenerator) generate(t *testing.T, name string) {
	src := readFile(t, logFixture(name+".json"))
	enc, exp := g.encryptLog(t, name, src, g.reader)
	writeGenerated(t, logFixture, name, src, enc, exp)
}

// encryptLog returns the saved log src with the data of its Step Functions
// events encrypted by reader (and the other codecs for denied), and what a
// reader should see of it.
func (g *logsGenerator) encryptLog(t *testing.T, name string, src []byte, reader *codec.Codec) (enc, exp []byte) {
	doc := scanJSON(t, src)
	defer doc.Release()
	last := 0
	for n := 0; n < doc.Len(); n++ {
		p := doc.Pointer(n)
		if doc.Kind(n) != jsontape.String || !strings.HasPrefix(p, "/events/") || !strings.HasSuffix(p, "/message") {
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
			enc = jsontape.AppendQuoted(enc, encMsg)
		}
		if bytes.Equal(expMsg, msg) {
			exp = append(exp, src[start:end]...)
		} else {
			exp = jsontape.AppendQuoted(exp, expMsg)
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
	return g.encryptFields(t, msg, logDataField, reader, name == "denied" && g.partner != nil, func(p, _ string, content, expected []byte) ([]byte, []byte) {
		if truncated[p] {
			return cutEncrypted(t, content, expected, name == "denied")
		}
		return content, expected
	})
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
