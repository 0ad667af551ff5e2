package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/internal/testbin"
)

// The benchmarks of the proxy's cost run only with SFNENC_BENCH=1 (make
// bench): they start emulators and time a thousand invocations.
func benchOnly(b *testing.B) {
	if os.Getenv("SFNENC_BENCH") != "1" {
		b.Skip("a measurement: set SFNENC_BENCH=1 (make bench)")
	}
}

// benchConfig is the configuration of the 32 KiB event: the insecure local
// keyset, so that no KMS call is timed (warm invocations make none anyway).
func benchConfig(b *testing.B) string {
	p, err := filepath.Abs("../../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		b.Fatal(err)
	}
	return `{"encryptionContext":{"app":"bench"},"keyrings":{"dev":{"insecureLocalKeyset":"` + p +
		`"}},"rules":[{"class":"pii","keyring":"dev","select":["$.records[*].ssn"]}]}`
}

// benchEvent is the 32 KiB event of 20 records with one token each, as
// lambdamw's BenchmarkWarmInvoke has it.
func benchEvent(b *testing.B, cfgJSON string) []byte {
	cfg, err := codec.ParseConfig([]byte(cfgJSON))
	if err != nil {
		b.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(`{"batch":"b-1","records":[`)
	for i := range 20 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"r-%02d","ssn":"%03d-55-%04d","status":"new","notes":"%s"}`, i, i, 1000+i, strings.Repeat("n", 1570))
	}
	sb.WriteString(`]}`)
	out, err := c.Encrypt(context.Background(), []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// benchFunction runs argv under the emulator and returns its invoke URL.
func benchFunction(b *testing.B, rie string, argv []string, env ...string) (string, *launch.Process) {
	b.Helper()
	env = append(append(baseEnv(), "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_REGION=eu-west-2", "SFNENC_PROXY_PORT=0", "SFNENC_LOG_LEVEL=info"), env...)
	p, url, err := launch.StartEmulatorWith(context.Background(), "bench", func(invokeAddr, apiAddr string) *exec.Cmd {
		cmd := exec.Command(rie, append(launch.EmulatorArgs(invokeAddr, apiAddr), argv...)...)
		cmd.Dir = filepath.Dir(argv[0])
		cmd.Env = env
		return cmd
	}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	return url, p
}

func timedInvoke(b *testing.B, client *http.Client, url string, event []byte) time.Duration {
	t := time.Now()
	resp, err := client.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	if err != nil || resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errorType"`)) {
		b.Fatalf("invoke: HTTP %d %v: %.300s", resp.StatusCode, err, body)
	}
	return d
}

func quantile(ds []time.Duration, q float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
}

// BenchmarkWarmInvoke times warm invocations of the 32 KiB, 20-token event
// under the Lambda Runtime Interface Emulator, of one handler binary run two
// ways: with lambdamw in the process, and plain behind sfnenc-proxy exec.
// Each iteration invokes both, one after the other, so that the machine's
// load falls on both alike. Run with -benchtime=1000x (or more): it
// reports the median and p99 of each, in ms, the proxy's added time, and
// the proxy's peak resident memory.
func BenchmarkWarmInvoke(b *testing.B) {
	benchOnly(b)
	rie := testbin.Path(b, "aws-lambda-rie")
	proxy := testbin.Build(b, "cmd/sfnenc-proxy")
	handler := testbin.Build(b, "cmd/sfnenc-proxy/internal/benchhandler", "lambda.norpc")
	cfg := benchConfig(b)
	event := benchEvent(b, cfg)
	inproc, _ := benchFunction(b, rie, []string{handler}, "SFNENC_CONFIG="+cfg, "BENCHHANDLER_WRAPPED=1")
	proxied, _ := benchFunction(b, rie, []string{proxy, "exec", "--", handler}, "SFNENC_CONFIG="+cfg)
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	for range 20 { // warm: data keys cached, connections open
		timedInvoke(b, client, inproc, event)
		timedInvoke(b, client, proxied, event)
	}
	in := make([]time.Duration, 0, b.N)
	px := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		in = append(in, timedInvoke(b, client, inproc, event))
		px = append(px, timedInvoke(b, client, proxied, event))
	}
	b.StopTimer()
	b.ReportMetric(quantile(in, 0.5), "lambdamw-p50-ms")
	b.ReportMetric(quantile(in, 0.99), "lambdamw-p99-ms")
	b.ReportMetric(quantile(px, 0.5), "proxy-p50-ms")
	b.ReportMetric(quantile(px, 0.99), "proxy-p99-ms")
	b.ReportMetric(quantile(px, 0.5)-quantile(in, 0.5), "added-p50-ms")
	b.ReportMetric(quantile(px, 0.99)-quantile(in, 0.99), "added-p99-ms")
	if kb, ok := peakRSS(proxy); ok {
		b.ReportMetric(float64(kb)/1024, "proxy-peak-rss-MiB")
	}
}

// peakRSS returns the peak resident set (VmHWM, KiB) of the running
// process whose executable is bin.
func peakRSS(bin string) (int, bool) {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		exe, err := os.Readlink(filepath.Join(p, "exe"))
		if err != nil || exe != bin {
			continue
		}
		status, err := os.ReadFile(filepath.Join(p, "status"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				return kb, err == nil
			}
		}
	}
	return 0, false
}

// BenchmarkStart times what the proxy adds before the runtime may start:
// from starting "sfnenc-proxy exec -- sh -c 'date +%s%N'" until the
// command prints the time it started (the proxy has started, read a
// configuration with a KMS keyring, listened and started the command; the
// contract is built meanwhile), against the same command alone. The proxy
// is built as make layer builds it (stripped). It reports the medians and
// their difference, in ms.
func BenchmarkStart(b *testing.B) {
	benchOnly(b)
	proxy := filepath.Join(b.TempDir(), "sfnenc-proxy")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", proxy, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(baseEnv(), "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9", "SFNENC_PROXY_PORT=0", "AWS_REGION=eu-west-2",
		"AWS_ACCESS_KEY_ID=AKIDBENCH", "AWS_SECRET_ACCESS_KEY=bench", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "SFNENC_LOG_LEVEL=error",
		`SFNENC_CONFIG={"encryptionContext":{"app":"bench"},"keyrings":{"main":{"kms":{"keyArn":"arn:aws:kms:eu-west-2:111122223333:key/0d7c4f4e-1111-2222-3333-444455556666"}}},"rules":[{"class":"pii","keyring":"main","select":["$..ssn"]}]}`)
	// run returns the time from starting argv until the command printed
	// its own start time.
	run := func(argv ...string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		t := time.Now()
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			b.Fatalf("%v: %q", argv, out)
		}
		return time.Unix(0, ns).Sub(t)
	}
	child := []string{"/bin/sh", "-c", "date +%s%N"}
	var with, without []time.Duration
	b.ResetTimer()
	for range b.N {
		with = append(with, run(append([]string{proxy, "exec", "--"}, child...)...))
		without = append(without, run(child...))
	}
	b.StopTimer()
	b.ReportMetric(quantile(with, 0.5), "behind-proxy-p50-ms")
	b.ReportMetric(quantile(without, 0.5), "alone-p50-ms")
	b.ReportMetric(quantile(with, 0.5)-quantile(without, 0.5), "added-p50-ms")
}
