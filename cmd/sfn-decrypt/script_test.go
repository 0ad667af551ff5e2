package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScript runs the command as a user does, from the scripts in
// testdata/script. Each script's work directory has:
//
//   - history/, logs/ and keys/: the history and log fixtures and the
//     insecure test keysets (links to ../../testdata);
//   - the AWS environment of a machine with dummy credentials and no shared
//     configuration;
//   - if the script has a file sfn.json (a recording, see sfnServer): a
//     local Step Functions endpoint serving it, as AWS_ENDPOINT_URL_SFN, that
//     logs each request to sfn-requests.log;
//   - if the script has a file logs.json (a recording, see logsServer): a
//     local CloudWatch Logs endpoint serving it, as
//     AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, that logs each request to
//     logs-requests.log.
//
// The command "exit N PROG ARGS..." runs PROG and checks that it exits
// with code N; its stdout and stderr can then be checked as usual. The
// command "waitpolls GROUP N" waits until the CloudWatch Logs endpoint has
// been polled N times for the log group GROUP (for "logs --follow" run in
// the background).
func TestScript(t *testing.T) {
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			for _, d := range []string{"history", "logs", "keys"} {
				if err := os.Symlink(filepath.Join(testdata, d), filepath.Join(e.WorkDir, d)); err != nil {
					return err
				}
			}
			for _, kv := range [][2]string{
				{"AWS_REGION", "eu-west-2"}, {"AWS_ACCESS_KEY_ID", "AKIDTEST"}, {"AWS_SECRET_ACCESS_KEY", "secret"},
				{"AWS_CONFIG_FILE", os.DevNull}, {"AWS_SHARED_CREDENTIALS_FILE", os.DevNull}, {"AWS_EC2_METADATA_DISABLED", "true"},
			} {
				e.Setenv(kv[0], kv[1])
			}
			if err := setupSFN(e); err != nil {
				return err
			}
			return setupLogs(e)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exit":      cmdExit,
			"waitpolls": cmdWaitPolls,
		},
	})
}

// cmdExit runs a program and checks its exit code.
func cmdExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exit CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exit code %q: %v", args[0], err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// setupSFN starts a Step Functions endpoint if the script has sfn.json.
func setupSFN(e *testscript.Env) error {
	_, err := setupEndpoint(e, "sfn.json", "sfn-requests.log", "AWS_ENDPOINT_URL_SFN", newSFNServer)
	return err
}

// logsServerKey is the key of a script's *logsServer in its values.
type logsServerKey struct{}

// setupLogs starts a CloudWatch Logs endpoint if the script has logs.json.
func setupLogs(e *testscript.Env) error {
	srv, err := setupEndpoint(e, "logs.json", "logs-requests.log", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", newLogsServer)
	if srv != nil {
		e.Values[logsServerKey{}] = srv
	}
	return err
}

// setupEndpoint starts an endpoint with newEndpoint if the script has the
// recording file name (read as a Rec), with each request logged to the file
// logName and its URL in the environment variable envVar. It returns the
// endpoint, or the zero S if the script has no such recording.
func setupEndpoint[Rec any, S endpoint](e *testscript.Env, name, logName, envVar string, newEndpoint func(Rec, string, io.Writer) (S, error)) (S, error) {
	var none S
	b, err := os.ReadFile(filepath.Join(e.WorkDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return none, nil
	}
	if err != nil {
		return none, err
	}
	var r Rec
	if err := json.Unmarshal(b, &r); err != nil {
		return none, err
	}
	log, err := os.Create(filepath.Join(e.WorkDir, logName))
	if err != nil {
		return none, err
	}
	srv, err := newEndpoint(r, e.WorkDir, log)
	if err != nil {
		return none, err
	}
	e.Defer(func() { srv.Close(); log.Close() })
	e.Setenv(envVar, srv.url())
	return srv, nil
}

// cmdWaitPolls waits until the script's CloudWatch Logs endpoint has been
// polled N times for a log group. It gives up after a minute: that is a
// command that does not poll, not a slow one.
func cmdWaitPolls(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitpolls GROUP N")
	}
	srv, ok := ts.Value(logsServerKey{}).(*logsServer)
	if !ok {
		ts.Fatalf("waitpolls: the script has no logs.json")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("waitpolls: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for srv.Polls(args[0]) < n {
		if time.Now().After(deadline) {
			ts.Fatalf("waitpolls: %d polls of %s after a minute, want %d", srv.Polls(args[0]), args[0], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
