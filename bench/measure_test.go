package bench

import (
	"os"
	"testing"
)

// measurement skips tb unless SFNENC_BENCH=1 (make bench): these tests and
// benchmarks take minutes and measure rather than check.
func measurement(tb testing.TB, what string) {
	tb.Helper()
	if os.Getenv("SFNENC_BENCH") != "1" {
		tb.Skipf("%s: a measurement, run with SFNENC_BENCH=1 (make bench)", what)
	}
}
