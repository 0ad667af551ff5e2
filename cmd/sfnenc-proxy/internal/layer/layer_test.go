package layer

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sfnenc-proxy")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := Write(&a, bin); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, bin); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("two layers of the same inputs differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Bytes()), int64(a.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]os.FileMode{}
	for _, f := range zr.File {
		got[f.Name] = f.Mode()
	}
	for _, name := range []string{ExtensionPath, WrapperPath} {
		if m, ok := got[name]; !ok || m.Perm()&0o111 != 0o111 || !m.IsRegular() {
			t.Errorf("%s: mode %v (present %v), want an executable file", name, m, ok)
		}
	}
}

// wrapper runs the wrapper script with env and args, and returns its
// output and error.
func wrapper(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	w := filepath.Join(dir, "sfnenc-wrapper")
	if err := os.WriteFile(w, Wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(w, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// printer is a stand-in for the runtime, or for the next wrapper: it
// prints its name, the Runtime API it was given and its arguments.
func printer(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	script := "#!/bin/sh\necho \"" + name + " api=$AWS_LAMBDA_RUNTIME_API args=$*\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWrapper(t *testing.T) {
	runtime := printer(t, "runtime")
	next := printer(t, "next-wrapper")
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "sfnenc-proxy.addr"), []byte("127.0.0.1:41234"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     []string
		want    string
		wantErr string
	}{
		{"default port", []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001"}, "runtime api=127.0.0.1:9009 args=-m handler", ""},
		{"port", []string{"SFNENC_PROXY_PORT=9100"}, "runtime api=127.0.0.1:9100 args=-m handler", ""},
		{"port 0: the extension's address", []string{"SFNENC_PROXY_PORT=0", "TMPDIR=" + tmp}, "runtime api=127.0.0.1:41234 args=-m handler", ""},
		{"port 0 without the extension", []string{"SFNENC_PROXY_PORT=0", "TMPDIR=" + t.TempDir()}, "", "sfnenc-proxy.addr is missing"},
		{"next wrapper", []string{"SFNENC_NEXT_WRAPPER=" + next}, "next-wrapper api=127.0.0.1:9009 args=" + runtime + " -m handler", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := wrapper(t, tc.env, runtime, "-m", "handler")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(out, tc.wantErr) {
					t.Errorf("got %v, %q; want failure %q", err, out, tc.wantErr)
				}
				if strings.Contains(out, "runtime api=") {
					t.Errorf("the runtime ran: %q", out)
				}
				return
			}
			if err != nil || strings.TrimSpace(out) != tc.want {
				t.Errorf("got %v, %q; want %q", err, out, tc.want)
			}
		})
	}
}
