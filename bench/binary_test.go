package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestHandlerBinarySize builds the same tiny Lambda handler without and
// with the middleware (testdata/handler), stripped, as a Go Lambda function
// is deployed: CGO_ENABLED=0, -trimpath, -tags lambda.norpc, -ldflags
// "-s -w". It logs both sizes.
func TestHandlerBinarySize(t *testing.T) {
	measurement(t, "builds two programs")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	dir := t.TempDir()
	size := map[string]int64{}
	for _, h := range []string{"unwrapped", "wrapped"} {
		out := filepath.Join(dir, h)
		cmd := exec.Command(goBin, "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", out, "./testdata/handler/"+h)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", h, err, b)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		size[h] = fi.Size()
	}
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	t.Logf("stripped handler binary: unwrapped %s (%d bytes), wrapped %s (%d bytes): +%s",
		mb(size["unwrapped"]), size["unwrapped"], mb(size["wrapped"]), size["wrapped"], mb(size["wrapped"]-size["unwrapped"]))
	if size["wrapped"] <= size["unwrapped"] {
		t.Errorf("wrapped binary (%d bytes) is not larger than the unwrapped one (%d bytes)", size["wrapped"], size["unwrapped"])
	}
}
