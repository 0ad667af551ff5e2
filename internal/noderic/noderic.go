// Package noderic finds AWS's Node.js runtime interface client, the npm
// package aws-lambda-ric, that the tests of sfnenc-proxy and the
// identity-verification demo run Node.js handlers with, behind the proxy,
// under the Lambda Runtime Interface Emulator.
//
// The package is pinned at 3.3.0 by package.json and package-lock.json in
// this directory and installed by make node-deps. 3.3.0 is the last
// version that runs on the Node 20 of this project: 4.x declares Node 22.
// Its install builds native code (it links libcurl from source), which
// needs Debian's cmake, autoconf, automake and libtool; .ci/run installs
// them.
//
// [Find] returns the client's entry point; [Path] is Find for tests, which
// it skips when the client is not installed, or fails when CI=true.
package noderic

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Find returns the absolute path of the client's entry point,
// bin/index.mjs, under the directory dir of this package (in the
// repository: internal/noderic), and of the node executable. Run a handler
// as: node ENTRY /abs/path/to/module.handler
func Find(dir string) (node, entry string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("noderic: node is not installed: %w", err)
	}
	entry, err = filepath.Abs(filepath.Join(dir, "node_modules", "aws-lambda-ric", "bin", "index.mjs"))
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(entry); err != nil {
		return "", "", fmt.Errorf("noderic: aws-lambda-ric is not installed in %s (make node-deps, with cmake, autoconf, automake and libtool installed): %w", dir, err)
	}
	return node, entry, nil
}

// Path is Find for a test: it skips the test when node or the client is
// missing, and fails it when the CI environment variable is "true".
func Path(tb testing.TB) (node, entry string) {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("noderic: cannot locate the package directory")
	}
	node, entry, err := Find(filepath.Dir(file))
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v", err)
		}
		tb.Skipf("%v", err)
	}
	return node, entry
}
