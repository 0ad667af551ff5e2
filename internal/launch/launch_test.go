package launch

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStartWaiting(t *testing.T) {
	ctx := context.Background()
	p, m, err := StartWaiting(ctx, exec.Command("sh", "-c", `echo starting; echo "listening on 127.0.0.1:4242"; exec sleep 30`),
		regexp.MustCompile(`listening on (\S+)`), 10*time.Second, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "127.0.0.1:4242" {
		t.Errorf("match %q", m)
	}
	if !strings.Contains(p.Logs(), "starting") {
		t.Errorf("logs %q", p.Logs())
	}
	start := time.Now()
	p.Stop()
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("SIGTERM did not end the process")
	}

	// A child that keeps the output pipe open does not hold Stop up past
	// the kill and the wait delay.
	p, _, err = StartWaiting(ctx, exec.Command("sh", "-c", `echo up; sleep 60; true`), regexp.MustCompile(`up`), 10*time.Second, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	p.Stop()
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Stop took %v", d)
	}

	// A process that exits before it is ready is an error that says so.
	_, _, err = StartWaiting(ctx, exec.Command("sh", "-c", "echo no luck; exit 3"), regexp.MustCompile(`ready`), 10*time.Second, nil, nil)
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "no luck") {
		t.Errorf("early exit: %v", err)
	}
	// One that never gets ready is stopped after the timeout.
	_, _, err = StartWaiting(ctx, exec.Command("sleep", "30"), regexp.MustCompile(`ready`), 100*time.Millisecond, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("timeout: %v", err)
	}
}

func TestBufferKeepsTheEnd(t *testing.T) {
	b := &Buffer{keep: 100}
	for i := 0; i < 50; i++ {
		b.Write([]byte("0123456789"))
	}
	b.Write([]byte("END"))
	if s := b.String(); len(s) > 100 || !strings.HasSuffix(s, "END") {
		t.Errorf("kept %d bytes, ending %q", len(s), s[len(s)-5:])
	}
}
