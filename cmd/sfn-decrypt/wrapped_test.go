package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/leaktest"
)

// TestHistoryBoundPayload reads a history and a log whose bound tokens sit
// in the Payload of lambda:invoke Tasks, with the business key at the
// Payload's root as the functions saw it, not at the root of the task's
// parameters or output: every token decrypts (exit 0). A history in which
// someone moved such a token into another application's Payload, or put
// the business key on the wrapper instead, exits 3 without the plaintext.
func TestHistoryBoundPayload(t *testing.T) {
	awsTestEnv(t)
	dir := t.TempDir()
	keyset, err := filepath.Abs("../../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := json.Marshal(keyset)
	cfgFile := filepath.Join(dir, "sfnenc.json")
	writeFile(t, cfgFile, `{"encryptionContext":{"app":"test"},"keyrings":{"dev":{"insecureLocalKeyset":`+string(ks)+`}},
		"rules":[{"class":"verification","keyring":"dev","select":["$..verifiedPerson"],"bind":"$.creditApplicationId","signed":false},
		{"class":"identity","keyring":"dev","select":["$..ssn"],"context":{"tenant":"$.tenantId"}}]}`)
	cfg, err := codec.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "CANARY-Ada-Lovelace-1815"
	encrypt := func(doc string) string {
		out, err := c.Encrypt(context.Background(), []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	// What ContinueValidation's function gets, and what a function returns.
	event := encrypt(`{"creditApplicationId":"APP-1","tenantId":"t-1","verifiedPerson":{"fullName":"` + secret + `"},"ssn":"` + secret + `"}`)
	result := encrypt(`{"creditApplicationId":"APP-1","tenantId":"t-1","verifiedPerson":{"fullName":"` + secret + `"}}`)
	var tok struct{ VerifiedPerson, SSN string }
	if err := json.Unmarshal([]byte(event), &tok); err != nil {
		t.Fatal(err)
	}
	scheduled := func(resource, params string) string {
		return `{"resourceType":"lambda","resource":"` + resource + `","region":"eu-west-2","parameters":` + q(params) + `}`
	}
	succeeded := func(output string) string {
		return `{"resourceType":"lambda","resource":"invoke","output":` + q(output) + `,"outputDetails":{"truncated":false}}`
	}
	history := func(params string) string {
		return `{"events":[
			{"timestamp":"2026-01-01T10:00:00Z","type":"ExecutionStarted","id":1,"previousEventId":0,"executionStartedEventDetails":{"input":"{}","roleArn":"arn:aws:iam::111122223333:role/r"}},
			{"timestamp":"2026-01-01T10:00:01Z","type":"TaskScheduled","id":2,"previousEventId":1,"taskScheduledEventDetails":` + scheduled("invoke", params) + `},
			{"timestamp":"2026-01-01T10:00:02Z","type":"TaskSucceeded","id":3,"previousEventId":2,"taskSucceededEventDetails":` + succeeded(`{"ExecutedVersion":"$LATEST","Payload":`+result+`,"StatusCode":200}`) + `},
			{"timestamp":"2026-01-01T10:00:03Z","type":"TaskScheduled","id":4,"previousEventId":3,"taskScheduledEventDetails":` + scheduled("invoke.waitForTaskToken", `{"FunctionName":"f","Payload":`+event+`}`) + `}]}`
	}

	genuine := filepath.Join(dir, "genuine.json")
	writeFile(t, genuine, history(`{"FunctionName":"arn:aws:lambda:eu-west-2:111122223333:function:continue-validation","Payload":`+event+`}`))
	stdout, stderr, code := runCmd(t, "", "history", "--config", cfgFile, "--reason", "r", genuine)
	if code != 0 {
		t.Fatalf("history with bound tokens in Payloads: exit %d, want 0\n%s", code, stderr)
	}
	if n := strings.Count(stdout, secret); n != 5 {
		t.Errorf("history output holds the plaintext %d times, want 5 (every token):\n%s", n, stdout)
	}
	if strings.Contains(stdout, "sfnenc:") {
		t.Errorf("history output still holds tokens:\n%s", stdout)
	}

	// The same events in a CloudWatch Logs file.
	var h struct{ Events []map[string]any }
	if err := json.Unmarshal([]byte(history(`{"FunctionName":"f","Payload":`+event+`}`)), &h); err != nil {
		t.Fatal(err)
	}
	var logEvents []string
	for i, e := range h.Events {
		var details any
		for k, v := range e {
			if strings.HasSuffix(k, "EventDetails") {
				details = v
			}
		}
		msg, _ := json.Marshal(map[string]any{"id": i + 1, "type": e["type"], "details": details,
			"execution_arn": "arn:aws:states:eu-west-2:111122223333:express:sm:e1:x1", "event_timestamp": "1767261600000"})
		logEvents = append(logEvents, `{"logStreamName":"states/sm/1","timestamp":1767261600000,"message":`+q(string(msg))+`}`)
	}
	logFile := filepath.Join(dir, "log.json")
	writeFile(t, logFile, `{"events":[`+strings.Join(logEvents, ",")+`]}`)
	stdout, stderr, code = runCmd(t, "", "logs", "--config", cfgFile, "--reason", "r", logFile)
	if code != 0 || strings.Count(stdout, secret) != 5 {
		t.Errorf("logs with bound tokens in Payloads: exit %d, plaintext %d times, want 0 and 5\n%s\n%s", code, strings.Count(stdout, secret), stdout, stderr)
	}

	// Attacks: a token replayed into another application's Payload; the
	// business key put beside the Payload rather than in it.
	for name, params := range map[string]string{
		"replayed": `{"FunctionName":"f","Payload":{"creditApplicationId":"APP-2","tenantId":"t-2","verifiedPerson":"` + tok.VerifiedPerson + `","ssn":"` + tok.SSN + `"}}`,
		"wrapper":  `{"creditApplicationId":"APP-1","tenantId":"t-1","Payload":{"verifiedPerson":"` + tok.VerifiedPerson + `","ssn":"` + tok.SSN + `"}}`,
	} {
		file := filepath.Join(dir, name+".json")
		writeFile(t, file, history(params))
		stdout, stderr, code := runCmd(t, "", "history", "--config", cfgFile, "--reason", "r", file)
		if code != 3 {
			t.Errorf("%s: exit %d, want 3\n%s", name, code, stderr)
		}
		if !strings.Contains(stderr, "event 2 (TaskScheduled) /taskScheduledEventDetails/parameters at /Payload/verifiedPerson") {
			t.Errorf("%s: stderr does not name the moved token:\n%s", name, stderr)
		}
		if n := strings.Count(stdout, secret); n != 3 {
			t.Errorf("%s: history output holds the plaintext %d times, want 3 (the other events' tokens)", name, n)
		}
		leaktest.Check(t, name+" stderr", stderr, secret)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
