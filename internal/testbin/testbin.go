// Package testbin finds or builds the executables that tests run as real
// components: the developer tools pinned in tools/go.mod (local-kms,
// aws-lambda-rie, staticcheck, benchstat) and main packages of this module.
//
// [Path] returns a tool binary, looked up in this order:
//
//  1. the directory named by the SFNENC_BIN_DIR environment variable;
//  2. <repo>/bin/<tool>, unless tools/go.mod or tools/go.sum is newer;
//  3. otherwise the tool is built with
//     "go build -C <repo>/tools -o <tmp> <package>" and renamed into
//     <repo>/bin. A file lock per tool makes concurrent test binaries wait
//     for one build instead of racing, and the rename makes the result
//     appear atomically.
//
// When the tool can be neither found nor built, the test is skipped, except
// when the CI environment variable is "true": then it fails.
//
// [Build] compiles a main package of this module (a Lambda handler, a
// command) into a test's temporary directory.
package testbin

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// modulePath is the module whose root holds bin/ and tools/.
const modulePath = "github.com/sfnenc/sfnenc"

// binDirEnv names the environment variable that points at a directory of
// prebuilt tool binaries, consulted before <repo>/bin.
const binDirEnv = "SFNENC_BIN_DIR"

// Path returns the path of the executable for tool, the binary name of a
// tool directive in tools/go.mod, such as "local-kms" or "aws-lambda-rie".
// It builds the tool into <repo>/bin on first use. It skips the test when
// the tool is unavailable, or fails it when CI=true.
func Path(tb testing.TB, tool string) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		unavailable(tb, "testbin: %v", err)
	}
	p, err := lookup(tb, root, tool)
	if err != nil {
		unavailable(tb, "testbin: %s: %v", tool, err)
	}
	return p
}

// Build compiles the main package in pkgDir (relative to the repository
// root, such as "cmd/sfn-decrypt", or absolute) with CGO_ENABLED=0 and the
// given build tags, into a temporary directory removed when the test ends,
// and returns the path of the executable. A build failure fails the test.
func Build(tb testing.TB, pkgDir string, tags ...string) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Fatalf("testbin: %v", err)
	}
	if !filepath.IsAbs(pkgDir) {
		pkgDir = filepath.Join(root, pkgDir)
	}
	out := filepath.Join(tb.TempDir(), filepath.Base(pkgDir)+exeSuffix())
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testbin: go build %s: %v\n%s", pkgDir, err, output)
	}
	return out
}

// lookup finds or builds tool for the repository at root and returns its
// path.
func lookup(tb testing.TB, root, tool string) (string, error) {
	tb.Helper()
	name := tool + exeSuffix()
	if dir := os.Getenv(binDirEnv); dir != "" {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
		tb.Logf("testbin: %s not found in %s=%s; looking in the repository", tool, binDirEnv, dir)
	}

	toolsDir := filepath.Join(root, "tools")
	pkg, err := toolPackage(filepath.Join(toolsDir, "go.mod"), tool)
	if err != nil {
		return "", err
	}
	binDir := filepath.Join(root, "bin")
	dst := filepath.Join(binDir, name)
	if fresh(dst, toolsDir) {
		return dst, nil
	}

	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(binDir, "."+tool+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have finished the build while this one waited.
	if fresh(dst, toolsDir) {
		return dst, nil
	}

	tmp, err := os.MkdirTemp(binDir, ".build-"+tool+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	tb.Logf("testbin: building %s (%s) into %s", tool, pkg, binDir)
	built := filepath.Join(tmp, name)
	cmd := exec.Command("go", "build", "-C", toolsDir, "-o", built, pkg)
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, output)
	}
	if err := os.Rename(built, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// fresh reports whether the binary at p exists and is newer than the tools
// module's go.mod and go.sum, so that a changed pin triggers a rebuild.
func fresh(p, toolsDir string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		mi, err := os.Stat(filepath.Join(toolsDir, f))
		if err == nil && mi.ModTime().After(fi.ModTime()) {
			return false
		}
	}
	return true
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && (exeSuffix() != "" || fi.Mode()&0o111 != 0)
}

// toolPackage returns the package path of the tool directive in the go.mod
// file at gomod whose binary name is tool.
func toolPackage(gomod, tool string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	var known []string
	for _, pkg := range toolDirectives(data) {
		if binaryName(pkg) == tool {
			return pkg, nil
		}
		known = append(known, binaryName(pkg))
	}
	return "", fmt.Errorf("no tool directive for %q in %s (have %s)", tool, gomod, strings.Join(known, ", "))
}

// toolDirectives returns the package paths named by the tool directives of a
// go.mod file, in both the single-line and the block form.
func toolDirectives(gomod []byte) []string {
	var pkgs []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		switch {
		case inBlock && len(fields) == 1 && fields[0] == ")":
			inBlock = false
		case inBlock && len(fields) == 1:
			pkgs = append(pkgs, fields[0])
		case len(fields) == 2 && fields[0] == "tool" && fields[1] == "(":
			inBlock = true
		case len(fields) == 2 && fields[0] == "tool":
			pkgs = append(pkgs, fields[1])
		}
	}
	return pkgs
}

var majorVersion = regexp.MustCompile(`^v[2-9][0-9]*$`)

// binaryName returns the name go build gives the executable of pkg: its last
// path element, or the one before a major version suffix.
func binaryName(pkg string) string {
	base := path.Base(pkg)
	if majorVersion.MatchString(base) {
		base = path.Base(path.Dir(pkg))
	}
	return base
}

// repoRoot walks up from the working directory (the package directory under
// go test) to the directory whose go.mod declares modulePath.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleOf(data) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// moduleOf returns the module path declared in a go.mod file.
func moduleOf(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// unavailable skips the test, or fails it in CI, where a missing component
// must never pass silently.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format+" (skipped; with CI=true this fails)", args...)
}
