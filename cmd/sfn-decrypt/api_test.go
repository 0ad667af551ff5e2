package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	execARN    = "arn:aws:states:eu-west-2:111122223333:execution:orders:o-1001"
	machineARN = "arn:aws:states:eu-west-2:111122223333:stateMachine:orders"
)

func execN(n int) string { return fmt.Sprintf("%s-%d", execARN, n) }

// TestHistoryAPI reads histories through the real Step Functions client
// from a local endpoint serving recorded pages (see sfnServer).
func TestHistoryAPI(t *testing.T) {
	throttle := func(count int) []*sfnFault {
		return []*sfnFault{{Op: "GetExecutionHistory", Page: 2, Kind: "error", Status: 400, Code: "ThrottlingException", Count: count}}
	}
	pages := 8 // 51 events, 7 a page
	tests := []struct {
		name     string
		faults   []*sfnFault
		arn      string
		env      []string
		code     int
		requests int    // GetExecutionHistory requests, if not 0
		stderr   string // in stderr, if not ""
	}{
		{name: "paging", code: exitOK, requests: pages},
		{name: "throttled once", faults: throttle(1), code: exitOK, requests: pages + 1},
		{name: "throttled past the retries", faults: throttle(0), env: []string{"AWS_MAX_ATTEMPTS=2"}, code: exitAPI, requests: 3,
			stderr: "GetExecutionHistory " + execARN + " (page 2): throttled past the retries"},
		{name: "page cut off once", faults: []*sfnFault{{Page: 3, Kind: "truncate", Count: 1}}, code: exitOK, requests: pages + 1},
		{name: "page cut off", faults: []*sfnFault{{Page: 3, Kind: "truncate"}}, env: []string{"AWS_MAX_ATTEMPTS=2"}, code: exitAPI,
			stderr: "(page 3): invalid or truncated response"},
		{name: "page not JSON", faults: []*sfnFault{{Page: 2, Kind: "badjson"}}, code: exitAPI, stderr: "(page 2): invalid or truncated response"},
		{name: "unknown execution", arn: execN(404), code: exitAPI, stderr: "GetExecutionHistory " + execN(404) + ": does not exist"},
		{name: "access denied", arn: execN(403), code: exitAPI, stderr: "access denied: operation error SFN: GetExecutionHistory"},
		{name: "workflow key denied", arn: execN(3), code: exitAPI, stderr: "access denied"},
		{name: "service error", faults: []*sfnFault{{Kind: "error", Status: 400, Code: "ValidationException"}}, code: exitAPI, stderr: "request rejected"},
		{name: "express execution", arn: "arn:aws:states:eu-west-2:111122223333:express:orders:e:1", code: exitUsage, stderr: "CloudWatch Logs", requests: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSFN(t, recording{
				Histories: map[string]recordedHistory{
					execARN:    {File: "orders.encrypted.json", PageSize: 7},
					execN(403): {Error: "AccessDeniedException"},
					execN(3):   {Error: "KmsAccessDeniedException"},
				},
				Faults: tt.faults,
			}, historyDir)
			awsTestEnv(t, append([]string{"AWS_ENDPOINT_URL_SFN=" + srv.URL}, tt.env...)...)
			arn := tt.arn
			if arn == "" {
				arn = execARN
			}
			out, stderr, code := runCmd(t, "", "history", "--config", fixture("config.json"), "--reason", "TEST-42 paging", "--execution-arn", arn)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not say %q:\n%s", tt.stderr, stderr)
			}
			if !strings.Contains(stderr, "reading execution "+arn+`; reason "TEST-42 paging" (sent as AWS SDK application id "TEST-42-paging")`) && tt.code != exitUsage {
				t.Errorf("stderr does not echo the reason and ARN:\n%s", stderr)
			}
			reqs := srv.Requests()
			if tt.requests > 0 && len(reqs) != tt.requests {
				t.Errorf("%d requests, want %d:\n%v", len(reqs), tt.requests, reqs)
			}
			if tt.requests < 0 && len(reqs) != 0 {
				t.Errorf("requests made for a refused ARN: %v", reqs)
			}
			for _, r := range reqs {
				if !strings.Contains(r.UserAgent, " app/TEST-42-paging") {
					t.Errorf("User-Agent %q lacks the reason", r.UserAgent)
				}
				if r.Op != "GetExecutionHistory" || r.IncludeExecutionData == nil || !*r.IncludeExecutionData {
					t.Errorf("request %v", r)
				}
			}
			if tt.code != exitOK {
				if out != "" {
					t.Errorf("output on failure:\n%s", out)
				}
				return
			}
			if diff := cmp.Diff(parseJSON(t, readFile(t, fixture("orders.json"))), parseJSON(t, []byte(out))); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
			// Pages are asked for in order, each with the token of the last.
			for i, r := range dedupe(reqs) {
				want := ""
				if i > 0 {
					want = fmt.Sprintf("page-%d", i+1)
				}
				if r.NextToken != want {
					t.Errorf("request %d has token %q, want %q", i, r.NextToken, want)
				}
			}
		})
	}
}

// dedupe drops retried requests.
func dedupe(reqs []sfnRequest) []sfnRequest {
	var out []sfnRequest
	for i, r := range reqs {
		if i > 0 && r.NextToken == reqs[i-1].NextToken {
			continue
		}
		out = append(out, r)
	}
	return out
}

// TestHistoryAPIText checks the text output of a history read through the
// API: the same timeline as from the saved file.
func TestHistoryAPIText(t *testing.T) {
	srv := startSFN(t, recording{Histories: map[string]recordedHistory{execARN: {File: "denied.encrypted.json", PageSize: 3}}}, historyDir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_SFN="+srv.URL)
	out, stderr, code := runCmd(t, "", "history", "--config", fixture("config.json"), "--reason", "T", "--output", "text", "--execution-arn", execARN)
	if code != exitTokens {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	want := strings.Replace(string(readFile(t, fixture("denied.txt"))), "== denied.encrypted.json", "== "+execARN, 1)
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("text mismatch (-want +got):\n%s", diff)
	}
	wantErr := strings.Replace(string(readFile(t, fixture("denied.stderr"))), "history file denied.encrypted.json", "execution "+execARN, 1)
	wantErr = strings.Replace(wantErr, `"TEST-1 golden" (sent as AWS SDK application id "TEST-1-golden")`, `"T" (sent as AWS SDK application id "T")`, 1)
	if diff := cmp.Diff(wantErr, stderr); diff != "" {
		t.Errorf("stderr mismatch (-want +got):\n%s", diff)
	}
}

// manyRecording has five executions of a state machine, most recent first,
// two a page.
func manyRecording() recording {
	rec := recording{
		Histories: map[string]recordedHistory{
			execN(1): {File: "orders.encrypted.json", PageSize: 20},
			execN(2): {File: "failures.encrypted.json"},
			execN(3): {File: "denied.encrypted.json"},
			execN(4): {Error: "AccessDeniedException"},
			execN(5): {File: "timedout.encrypted.json"},
		},
		Executions: map[string]recordedList{machineARN: {PageSize: 2}},
	}
	l := rec.Executions[machineARN]
	for i, st := range []string{"SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED", "TIMED_OUT"} {
		l.Items = append(l.Items, struct {
			ExecutionArn string `json:"executionArn"`
			Status       string `json:"status"`
			StartDate    string `json:"startDate"`
		}{execN(i + 1), st, time.Date(2024, 5, 10-i, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)})
	}
	rec.Executions[machineARN] = l
	return rec
}

func TestHistoryMany(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		execs  []int // in output order
		code   int
		faults []*sfnFault
	}{
		{"all", nil, []int{1, 2, 3, 5}, exitAPI, nil},
		{"a list page cut off once is read again", nil, []int{1, 2, 3, 5}, exitAPI,
			[]*sfnFault{{Op: "ListExecutions", Page: 2, Kind: "truncate", Count: 1}}},
		{"status", []string{"--status", "failed"}, []int{2, 3}, exitTokens, nil},
		{"since", []string{"--since", "2024-05-08"}, []int{1, 2, 3}, exitTokens, nil},
		{"since and status", []string{"--since", "2024-05-09T00:00:00Z", "--status", "SUCCEEDED"}, []int{1}, exitOK, nil},
		{"one at a time", []string{"--concurrency", "1"}, []int{1, 2, 3, 5}, exitAPI, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := manyRecording()
			rec.Faults = tt.faults
			srv := startSFN(t, rec, historyDir)
			awsTestEnv(t, "AWS_ENDPOINT_URL_SFN="+srv.URL)
			args := append([]string{"history", "--config", fixture("config.json"), "--reason", "TEST-7", "--state-machine-arn", machineARN}, tt.args...)
			out, stderr, code := runCmd(t, "", args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			var got []int
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if line == "" {
					continue
				}
				var doc struct {
					ExecutionArn string            `json:"executionArn"`
					Events       []json.RawMessage `json:"events"`
				}
				if err := json.Unmarshal([]byte(line), &doc); err != nil {
					t.Fatalf("line is not one JSON document: %v\n%s", err, line)
				}
				var n int
				fmt.Sscanf(doc.ExecutionArn[len(execARN)+1:], "%d", &n)
				got = append(got, n)
				if len(doc.Events) == 0 {
					t.Errorf("%s: no events", doc.ExecutionArn)
				}
			}
			if diff := cmp.Diff(tt.execs, got); diff != "" {
				t.Errorf("executions mismatch (-want +got):\n%s", diff)
			}
			assertNoCanary(t, "stderr", stderr)
			if strings.Contains(stderr, "\r") {
				t.Errorf("progress shown on a pipe:\n%q", stderr)
			}
			if slicesContains(tt.execs, 3) && !strings.Contains(stderr, "not decrypted: "+execN(3)+" 4 tokens, class partner: no rule for this class in the configuration") {
				t.Errorf("stderr does not list the failures of %s:\n%s", execN(3), stderr)
			}
			var lists int
			for _, r := range srv.Requests() {
				if r.Op == "ListExecutions" {
					lists++
					if !strings.Contains(r.UserAgent, "app/TEST-7") {
						t.Errorf("ListExecutions User-Agent %q lacks the reason", r.UserAgent)
					}
				}
			}
			if lists == 0 {
				t.Error("no ListExecutions request")
			}
		})
	}
}

func slicesContains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestHistoryManyProgress runs the command with stderr taken for a
// terminal: it shows progress there, and the output stays the same.
func TestHistoryManyProgress(t *testing.T) {
	srv := startSFN(t, manyRecording(), historyDir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_SFN="+srv.URL)
	args := []string{"--config", fixture("config.json"), "--reason", "TEST-7", "--state-machine-arn", machineARN, "--output", "text"}
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		terminal: func(w any) bool { return w == &errb }}
	if code := cmdHistory(e, args); code != exitAPI {
		t.Fatalf("exit code %d; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "\r[##############################] 5/5 executions\x1b[K") {
		t.Errorf("no progress on the terminal:\n%q", errb.String())
	}
	if got := strings.Count(out.String(), "\n== "+execARN); got != 3 {
		t.Errorf("%d headings after the first, want 3:\n%s", got, out.String())
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("progress in the output")
	}
}

// TestHistoryManyListErrors covers a state machine that cannot be listed.
func TestHistoryManyListErrors(t *testing.T) {
	rec := manyRecording()
	rec.Executions[machineARN+"-denied"] = recordedList{Error: "AccessDeniedException"}
	rec.Executions[machineARN+"-express"] = recordedList{Error: "StateMachineTypeNotSupported"}
	srv := startSFN(t, rec, historyDir)
	awsTestEnv(t, "AWS_ENDPOINT_URL_SFN="+srv.URL)
	for _, tt := range []struct{ arn, stderr string }{
		{machineARN + "-none", "does not exist"},
		{machineARN + "-denied", "access denied"},
		{machineARN + "-express", "request rejected"},
	} {
		out, stderr, code := runCmd(t, "", "history", "--config", fixture("config.json"), "--reason", "R", "--state-machine-arn", tt.arn)
		if code != exitAPI || out != "" || !strings.Contains(stderr, "ListExecutions "+tt.arn+": "+tt.stderr) {
			t.Errorf("%s: code %d, stdout %q, stderr:\n%s", tt.arn, code, out, stderr)
		}
	}
}
