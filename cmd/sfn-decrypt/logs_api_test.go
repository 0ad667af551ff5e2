package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

const (
	logGroup   = "/aws/vendedlogs/states/orders-express-Logs"
	expressA   = "arn:aws:states:eu-west-2:111122223333:express:orders-express:2f0d6c1e-6a71-4b0e-9d1c-0d5b8c1f7a10:7e3f9b52-1c4d-4f8a-a1f7-3b2d9c6e8a41"
	expressB   = "arn:aws:states:eu-west-2:111122223333:express:orders-express:91a4e0b7-5d2c-4e6f-8b3a-6c7d1e2f9a05:c5e2a7d1-9b4f-4a3e-b6c8-2d1f0e9a7b36"
	standardS  = "arn:aws:states:eu-west-2:111122223333:execution:orders:o-3001"
	groupARN   = "arn:aws:logs:eu-west-2:111122223333:log-group:" + logGroup
	logsReason = "TEST-9 paging"
)

// savedLog is a saved filter-log-events document, for comparisons.
type savedLog struct {
	Events             []savedEvent `json:"events"`
	SearchedLogStreams []any        `json:"searchedLogStreams"`
}

// savedEvent is a log event of a savedLog.
type savedEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

func readSaved(t testing.TB, b []byte) savedLog {
	t.Helper()
	var l savedLog
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("not a log document: %v\n%s", err, b)
	}
	return l
}

// expectedLog is the plaintext express log, with only the events that keep
// returns true for.
func expectedLog(t testing.TB, keep func(ts int64, execARN string) bool) savedLog {
	l := readSaved(t, readFile(t, logFixture("express.json")))
	l.Events = slices.DeleteFunc(l.Events, func(e savedEvent) bool {
		var m struct {
			ExecutionARN string `json:"execution_arn"`
		}
		json.Unmarshal([]byte(e.Message), &m)
		return !keep(e.Timestamp, m.ExecutionARN)
	})
	if l.SearchedLogStreams == nil {
		l.SearchedLogStreams = []any{}
	}
	return l
}

// TestLogsAPI reads log events through the real CloudWatch Logs client from
// a local endpoint serving recorded pages (see logsServer).
func TestLogsAPI(t *testing.T) {
	throttle := func(count int) []*logsFault {
		return []*logsFault{{Page: 2, Kind: "error", Status: 400, Code: "ThrottlingException", Count: count}}
	}
	onlyA := func(_ int64, a string) bool { return a == expressA }
	const pages = 4 // 19 events of A, 5 a page
	tests := []struct {
		name     string
		args     []string
		faults   []*logsFault
		env      []string
		code     int
		requests int    // requests, if not 0
		stderr   string // in stderr, if not ""
		want     func(ts int64, execARN string) bool
	}{
		{name: "execution, paging", args: []string{"--execution-arn", expressA}, code: exitOK, requests: pages, want: onlyA},
		{name: "log group ARN", args: []string{"--log-group", groupARN + ":*", "--execution-arn", expressA}, code: exitOK, requests: pages, want: onlyA},
		{name: "time range", args: []string{"--start", "2024-05-03T09:15:00.400Z", "--end", "2024-05-03T09:15:00.600Z"}, code: exitOK,
			want: func(ts int64, _ string) bool { return ts >= 1714727700400 && ts <= 1714727700600 }},
		{name: "throttled once", args: []string{"--execution-arn", expressA}, faults: throttle(1), code: exitOK, requests: pages + 1, want: onlyA},
		{name: "throttled past the retries", args: []string{"--execution-arn", expressA}, faults: throttle(0), env: []string{"AWS_MAX_ATTEMPTS=2"},
			code: exitAPI, requests: 3, stderr: "logs: FilterLogEvents " + logGroup + " (page 2): throttled past the retries"},
		{name: "limit exceeded past the retries", args: []string{"--execution-arn", expressA},
			faults: []*logsFault{{Kind: "error", Status: 400, Code: "LimitExceededException"}}, env: []string{"AWS_MAX_ATTEMPTS=2"},
			code: exitAPI, requests: 2, stderr: ": throttled past the retries"},
		{name: "page not JSON", args: []string{"--execution-arn", expressA}, faults: []*logsFault{{Page: 2, Kind: "badjson"}},
			code: exitAPI, stderr: "(page 2): invalid or truncated response"},
		{name: "page cut off once", args: []string{"--execution-arn", expressA}, faults: []*logsFault{{Page: 3, Kind: "truncate", Count: 1}},
			code: exitOK, requests: pages + 1, want: onlyA},
		{name: "page cut off", args: []string{"--execution-arn", expressA}, faults: []*logsFault{{Page: 3, Kind: "truncate"}},
			env: []string{"AWS_MAX_ATTEMPTS=2"}, code: exitAPI, requests: 4, stderr: "(page 3): invalid or truncated response: "},
		{name: "service unavailable", args: []string{"--execution-arn", expressA}, faults: []*logsFault{{Kind: "error", Status: 503, Code: "ServiceUnavailableException"}},
			env: []string{"AWS_MAX_ATTEMPTS=1"}, code: exitAPI, stderr: ": unreachable: "},
		{name: "no such log group", args: []string{"--log-group", "/aws/nope", "--execution-arn", expressA}, code: exitAPI,
			stderr: "logs: FilterLogEvents /aws/nope: does not exist"},
		{name: "access denied", args: []string{"--log-group", "/aws/secret", "--execution-arn", expressA}, code: exitAPI,
			stderr: "logs: FilterLogEvents /aws/secret: access denied: operation error CloudWatch Logs: FilterLogEvents"},
		{name: "no events", args: []string{"--execution-arn", expressA + "0"}, code: exitOK, requests: 1, stderr: "sfn-decrypt: no log events",
			want: func(int64, string) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startLogs(t, logsRecording{
				Groups: map[string]recordedGroup{
					logGroup:      {File: "express.encrypted.json", PageSize: 5},
					"/aws/secret": {Error: "AccessDeniedException"},
				},
				Faults: tt.faults,
			}, logsDir)
			awsTestEnv(t, append([]string{"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=" + srv.URL}, tt.env...)...)
			args := []string{"logs", "--config", logFixture("config.json"), "--reason", logsReason}
			if !slices.Contains(tt.args, "--log-group") {
				args = append(args, "--log-group", logGroup)
			}
			out, stderr, code := runCmd(t, "", append(args, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not say %q:\n%s", tt.stderr, stderr)
			}
			if !strings.Contains(stderr, `; reason "TEST-9 paging" (sent as AWS SDK application id "TEST-9-paging")`) {
				t.Errorf("stderr does not echo the reason:\n%s", stderr)
			}
			assertNoCanary(t, "stderr", stderr)
			reqs := srv.Requests()
			if tt.requests > 0 && len(reqs) != tt.requests {
				t.Errorf("%d requests, want %d:\n%v", len(reqs), tt.requests, reqs)
			}
			for _, r := range reqs {
				if !strings.Contains(r.UserAgent, " app/TEST-9-paging") {
					t.Errorf("User-Agent %q lacks the reason", r.UserAgent)
				}
				if slices.Contains(tt.args, "--execution-arn") && r.Pattern != `{ $.execution_arn = "`+tt.args[slices.Index(tt.args, "--execution-arn")+1]+`" }` {
					t.Errorf("filter pattern %q", r.Pattern)
				}
			}
			if tt.code != exitOK {
				if out != "" {
					t.Errorf("output on failure:\n%s", out)
				}
				return
			}
			if diff := cmp.Diff(expectedLog(t, tt.want), readSaved(t, []byte(out))); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
			// Pages are asked for in order, each with the token of the last.
			var tokens []string
			for _, r := range reqs {
				if len(tokens) == 0 || r.NextToken != tokens[len(tokens)-1] {
					tokens = append(tokens, r.NextToken)
				}
			}
			for i, tok := range tokens {
				want := ""
				if i > 0 {
					want = fmt.Sprintf("page-%d", i+1)
				}
				if tok != want {
					t.Errorf("request %d has token %q, want %q", i, tok, want)
				}
			}
		})
	}
}

// TestLogsAPIText reads a Standard workflow's events saved by
// get-log-events through the API, as a timeline: the same as from the file.
func TestLogsAPIText(t *testing.T) {
	srv := startLogs(t, logsRecording{Groups: map[string]recordedGroup{
		"orders-logs": {File: "standard.encrypted.json", PageSize: 3, Stream: "states/orders/2024-05-04-14-00/0d1e2f3a"},
	}}, logsDir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+srv.URL)
	out, stderr, code := runCmd(t, "", "logs", "--config", logFixture("config.json"), "--reason", "TEST-9 golden", "--output", "text",
		"--log-group", "orders-logs", "--execution-arn", standardS)
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	if diff := cmp.Diff(string(readFile(t, logFixture("standard.txt"))), out); diff != "" {
		t.Errorf("text mismatch (-want +got):\n%s", diff)
	}
	wantErr := strings.Replace(string(readFile(t, logFixture("standard.stderr"))), "log file standard.encrypted.json",
		"log group orders-logs (execution "+standardS+")", 1)
	if diff := cmp.Diff(wantErr, stderr); diff != "" {
		t.Errorf("stderr mismatch (-want +got):\n%s", diff)
	}
}

// runLogsCtx runs the logs command in-process with a context that ends the
// command when cancelled, as an interrupt does.
func runLogsCtx(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: os.Getenv,
		terminal: func(any) bool { return false }, ctx: ctx}
	code = cmdLogs(e, args)
	return out.String(), errb.String(), code
}

// TestLogsFollow tails a log group whose events appear over time (the
// server reveals more at each poll), with one event arriving late, older
// than events already shown, and a throttled poll; the test ends the command
// as an interrupt does once the server has seen the poll after the last
// events appeared.
func TestLogsFollow(t *testing.T) {
	// The file's events in the order they reach the log group: the one at
	// index 4 comes last, 4 events after newer ones.
	src := readSaved(t, readFile(t, logFixture("express.encrypted.json")))
	late := src.Events[4]
	src.Events = append(slices.Delete(src.Events, 4, 5), late)
	b, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "arriving.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	n := len(src.Events)
	reveal := []int{3, 3, 10, n - 4, n}
	want := expectedLog(t, func(int64, string) bool { return true })

	for _, output := range []string{"json", "text"} {
		t.Run(output, func(t *testing.T) {
			srv := startLogs(t, logsRecording{
				Groups: map[string]recordedGroup{logGroup: {File: "arriving.json", PageSize: 4, Reveal: reveal}},
				Faults: []*logsFault{{Poll: 2, Page: 1, Kind: "error", Status: 400, Code: "ThrottlingException", Count: 1}},
			}, dir)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			srv.onPoll = func(_ string, poll int) {
				if poll == len(reveal)+1 {
					once.Do(cancel)
				}
			}
			awsTestEnv(t, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+srv.URL)
			out, stderr, code := runLogsCtx(ctx, "--config", logFixture("config.json"), "--reason", "TEST-9 follow", "--log-group", logGroup,
				"--start", "2024-05-03T09:00:00Z", "--follow", "--interval", "10ms", "--output", output)
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "following until interrupted") || !strings.Contains(stderr, "sfn-decrypt: stopped following "+logGroup) {
				t.Errorf("stderr:\n%s", stderr)
			}
			assertNoCanary(t, "stderr", stderr)
			// Later polls start 5 seconds before the newest event, so
			// events come again, and must be shown once.
			reqs := srv.Requests()
			for _, r := range reqs {
				switch {
				case r.Poll == 1 && (r.Start == nil || *r.Start != 1714726800000):
					t.Errorf("the first poll starts at %v, want --start", r.Start)
				case r.Poll == len(reveal)+1 && (r.Start == nil || *r.Start != 1714727701000-5000):
					t.Errorf("the last poll starts at %v, want the newest event's time less 5s", r.Start)
				}
				if !strings.Contains(r.UserAgent, " app/TEST-9-follow") {
					t.Errorf("User-Agent %q lacks the reason", r.UserAgent)
				}
			}
			if output == "text" {
				// Each execution's events come in batches, under a heading
				// whenever the execution changes; every event once.
				if got := len(regexp.MustCompile(`(?m)^ +\d+  2024-`).FindAllString(out, -1)); got != 25 {
					t.Errorf("%d events shown, want 25:\n%s", got, out)
				}
				for _, a := range []string{expressA, expressB} {
					if !strings.Contains(out, "== "+a+"\n") {
						t.Errorf("no heading for %s:\n%s", a, out)
					}
				}
				// The late event still gets its state from the events
				// before it, shown in an earlier batch.
				if got := strings.Count(out, "     5  2024-05-03T09:15:00.268Z  TaskScheduled                 Charge\n"); got != 1 {
					t.Errorf("the late event is shown %d times, or without its state:\n%s", got, out)
				}
				if strings.Contains(out, "sfnenc:") {
					t.Errorf("tokens left in the output:\n%s", out)
				}
				return
			}
			// One log event per line, each once, the late one last.
			var got savedLog
			got.SearchedLogStreams = []any{}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for _, l := range lines {
				var e savedEvent
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("line is not one log event: %v\n%s", err, l)
				}
				got.Events = append(got.Events, e)
			}
			i := slices.IndexFunc(got.Events, func(e savedEvent) bool {
				return e.EventID == late.EventID
			})
			if i < 0 || !slices.ContainsFunc(got.Events[:i], func(e savedEvent) bool {
				return e.Timestamp > late.Timestamp
			}) {
				t.Errorf("the late event is not shown after newer ones")
			}
			slices.SortStableFunc(got.Events, func(a, b savedEvent) int {
				return strings.Compare(a.EventID, b.EventID)
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLogsKMS reads a log encrypted under KMS keys of a local-kms server,
// from a file and through the CloudWatch Logs API, and checks that every KMS
// and CloudWatch Logs call carries the reason in its User-Agent.
func TestLogsKMS(t *testing.T) {
	kms := kmstest.Start(t)
	rec := newKMSRecorder(t, kms.Endpoint())
	dir := t.TempDir()
	cfgPath, writer := newKMSWriter(t, kms, dir, `{"keyArn": "`+kms.KeyARN("primary")+`"}`)
	plain := readFile(t, logFixture("express.json"))
	enc, _ := (&logsGenerator{&generator{}}).encryptLog(t, "express", plain, writer)
	encPath := filepath.Join(dir, "express.kms.json")
	writeKMSFixture(t, kms, encPath, enc)
	logsSrv := startLogs(t, logsRecording{Groups: map[string]recordedGroup{logGroup: {File: encPath, PageSize: 6}}}, dir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+rec.URL, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+logsSrv.URL)

	for name, src := range map[string][]string{"file": {encPath}, "api": {"--log-group", logGroup, "--start", "2024-05-03"}} {
		t.Run(name, func(t *testing.T) {
			out := runKMSRead(t, rec, "INC-9-kms-check", append([]string{"logs", "--config", cfgPath, "--reason", "INC-9 kms check"}, src...)...)
			if diff := cmp.Diff(readSaved(t, plain), readSaved(t, []byte(out))); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
			for _, r := range logsSrv.Requests() {
				if !strings.Contains(r.UserAgent, " app/INC-9-kms-check") {
					t.Errorf("CloudWatch Logs request without the reason: %s", r.UserAgent)
				}
			}
		})
	}

	t.Run("denied", func(t *testing.T) {
		checkKMSDenied(t, kms, "email", "contact",
			"not decrypted: 18 tokens, class contact: KMS denied access to the key (",
			"logs", "--config", cfgPath, "--reason", "INC-9 kms check", "--output", "text", encPath)
	})

	t.Run("unavailable", func(t *testing.T) {
		checkKMSUnavailable(t, kms, "logs", "--config", cfgPath, "--reason", "INC-9 kms check", encPath)
	})
}
