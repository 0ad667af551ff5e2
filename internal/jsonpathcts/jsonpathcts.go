// Package jsonpathcts finds the RFC 9535 JSONPath Compliance Test Suite
// (the cts.json file of the jsonpath-compliance-test-suite project) for the
// tests that run it: the fieldpath selector tests and the codec's
// end-to-end compliance test.
//
// The suite is not part of this repository. [Read] looks for it at the path
// in the SFNENC_JSONPATH_CTS environment variable, or else at
// ../shared/jsonpath-cts/cts.json beside the repository root. When it is
// missing, the test is skipped with a message that says where to get it,
// except when the CI environment variable is "true": then it fails.
package jsonpathcts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Env names the environment variable that gives the suite's path.
const Env = "SFNENC_JSONPATH_CTS"

// Source says where to get the suite, for messages.
const Source = "https://github.com/jsonpath-standard/jsonpath-compliance-test-suite (cts.json, commit 7be7c1fc28057c91e8eefaf197060fba7ed43acd: 703 cases)"

// Path returns where the suite is looked for.
func Path() (string, error) {
	if p := os.Getenv(Env); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "..", "shared", "jsonpath-cts", "cts.json"), nil
}

// Read returns the bytes of the suite. If it cannot be read, it skips tb,
// or fails it when CI=true.
func Read(tb testing.TB) []byte {
	tb.Helper()
	data, err := ReadIfPresent()
	if err != nil {
		msg := fmt.Sprintf("jsonpathcts: the RFC 9535 JSONPath Compliance Test Suite is needed: %v; get cts.json from %s and put it there or set %s to its path", err, Source, Env)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg + " (required with CI=true)")
		}
		tb.Skip(msg + " (skipped; with CI=true this fails)")
	}
	return data
}

// ReadIfPresent returns the bytes of the suite, or an error that names the
// path it tried.
func ReadIfPresent() ([]byte, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// repoRoot walks up from the working directory (a test's package
// directory) to the directory that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("jsonpathcts: no go.mod above the working directory")
		}
		dir = parent
	}
}
