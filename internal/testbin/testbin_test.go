package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestToolDirectives(t *testing.T) {
	tests := []struct {
		name  string
		gomod string
		want  []string
	}{
		{
			name:  "block",
			gomod: "module m\n\ntool (\n\tgithub.com/nsmithuk/local-kms\n\thonnef.co/go/tools/cmd/staticcheck // linter\n)\n",
			want:  []string{"github.com/nsmithuk/local-kms", "honnef.co/go/tools/cmd/staticcheck"},
		},
		{
			name:  "single lines",
			gomod: "module m\ntool golang.org/x/perf/cmd/benchstat\nrequire x v1.0.0\ntool example.com/a/b\n",
			want:  []string{"golang.org/x/perf/cmd/benchstat", "example.com/a/b"},
		},
		{
			name:  "require block is not tools",
			gomod: "module m\nrequire (\n\tgithub.com/x/y v1.0.0\n)\n",
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toolDirectives([]byte(tt.gomod))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("toolDirectives mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBinaryName(t *testing.T) {
	tests := []struct{ pkg, want string }{
		{"github.com/nsmithuk/local-kms", "local-kms"},
		{"github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie", "aws-lambda-rie"},
		{"example.com/tool/v2", "tool"},
		{"example.com/v1", "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			if got := binaryName(tt.pkg); got != tt.want {
				t.Errorf("binaryName(%q) = %q, want %q", tt.pkg, got, tt.want)
			}
		})
	}
}

// TestToolsModule checks that every tool the tests name is pinned in
// tools/go.mod.
func TestToolsModule(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"local-kms", "aws-lambda-rie", "staticcheck", "benchstat"} {
		t.Run(tool, func(t *testing.T) {
			if _, err := toolPackage(filepath.Join(root, "tools", "go.mod"), tool); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := toolPackage(filepath.Join(root, "tools", "go.mod"), "no-such-tool"); err == nil {
		t.Error("toolPackage(no-such-tool) succeeded, want an error")
	}
}

func TestPathLocalKMS(t *testing.T) {
	p := Path(t, "local-kms")
	if !isExecutable(p) {
		t.Fatalf("Path(local-kms) = %s, not an executable file", p)
	}
}

func TestPathBinDirOverride(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "benchstat")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(binDirEnv, dir)
	if got := Path(t, "benchstat"); got != fake {
		t.Errorf("Path(benchstat) with %s set = %s, want %s", binDirEnv, got, fake)
	}
}

// TestConcurrentBuild builds a tool from several goroutines into an empty
// copy of the repository layout: one build runs, every caller gets the same
// complete binary.
func TestConcurrentBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a tool")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	fakeRoot := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, "tools", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(fakeRoot, "tools"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fakeRoot, "tools", f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	lt := &logCounter{TB: t}
	const n = 4
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = lookup(lt, fakeRoot, "benchstat") })
	}
	wg.Wait()

	want := filepath.Join(fakeRoot, "bin", "benchstat")
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("lookup %d: %v", i, errs[i])
		}
		if paths[i] != want {
			t.Errorf("lookup %d = %s, want %s", i, paths[i], want)
		}
	}
	if got := lt.count("testbin: building"); got != 1 {
		t.Errorf("%d builds ran, want 1", got)
	}
	out, err := exec.Command(want, "-h").CombinedOutput()
	if !strings.Contains(string(out), "benchstat") {
		t.Errorf("built benchstat -h: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(filepath.Join(fakeRoot, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".build-") {
			t.Errorf("temporary build directory %s left behind", e.Name())
		}
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name string
		tags []string
		want string
	}{
		{"no tags", nil, "hello untagged\n"},
		{"tag", []string{"sfnenc_hello"}, "hello tagged\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := Build(t, "internal/testbin/testdata/hello", tt.tags...)
			out, err := exec.Command(bin).Output()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(out)); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// logCounter records the log lines of concurrent lookups.
type logCounter struct {
	testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *logCounter) Logf(format string, args ...any) {
	l.TB.Logf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, format)
}

func (l *logCounter) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
