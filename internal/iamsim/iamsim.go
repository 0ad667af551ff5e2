// Package iamsim evaluates IAM requests against identity and resource
// policies offline, for tests of the policies sfn-decrypt policy writes.
// It runs simulate.mjs, which drives the npm package
// @cloud-copilot/iam-simulate (pinned by package-lock.json here and
// installed by make node-deps): a model of IAM's evaluation logic, not
// AWS's own evaluator, so a test that passes here shows that the policies
// do what they should under that model.
//
// [Run] evaluates a batch of requests in one node process.
package iamsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Request is one request and the policies it is judged by.
type Request struct {
	Principal string         `json:"principal"` // the caller's ARN
	Action    string         `json:"action"`    // such as "kms:Decrypt"
	Resource  string         `json:"resource"`  // the resource ARN
	Account   string         `json:"account"`   // the resource's account
	Context   map[string]any `json:"context"`   // condition keys: a string or a list of strings
	// IdentityPolicy is the caller's IAM policy document (nil: none).
	IdentityPolicy json.RawMessage `json:"identityPolicy,omitempty"`
	// ResourcePolicy is the resource's policy (a KMS key policy).
	ResourcePolicy json.RawMessage `json:"resourcePolicy,omitempty"`
}

// Decisions.
const (
	Allowed          = "Allowed"
	ExplicitlyDenied = "ExplicitlyDenied"
	ImplicitlyDenied = "ImplicitlyDenied"
)

// Run returns the decision for each request. It skips the test when node
// or the package is missing, and fails it when CI=true; a request the
// simulator refuses as invalid fails the test.
func Run(tb testing.TB, reqs []Request) []string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("iamsim: cannot locate the package directory")
	}
	dir := filepath.Dir(file)
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate", "package.json"))
	}
	if err != nil {
		err = fmt.Errorf("iamsim: node or @cloud-copilot/iam-simulate is not installed (make node-deps): %w", err)
		if os.Getenv("CI") == "true" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range reqs {
		if err := enc.Encode(r); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.Command(node, filepath.Join(dir, "simulate.mjs"))
	cmd.Dir = dir
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("iamsim: %v\n%s", err, stderr.String())
	}
	var res []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	for i := 0; sc.Scan(); i++ {
		var r struct {
			Result string          `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("iamsim: %v: %s", err, sc.Bytes())
		}
		if r.Error != nil || r.Result == "" {
			tb.Fatalf("iamsim: request %d (%s on %s) is invalid: %s", i, reqs[i].Action, reqs[i].Resource, r.Error)
		}
		res = append(res, r.Result)
	}
	if len(res) != len(reqs) {
		tb.Fatalf("iamsim: %d results for %d requests\n%s", len(res), len(reqs), stderr.String())
	}
	return res
}
