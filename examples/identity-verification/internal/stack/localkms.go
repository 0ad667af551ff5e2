package stack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"time"
)

// LocalKMS is a local-kms process (a KMS API server) on loopback.
type LocalKMS struct {
	// Endpoint is the URL to give KMS clients (AWS_ENDPOINT_URL_KMS).
	Endpoint string

	cmd  *exec.Cmd
	done chan struct{}
}

var kmsStartedRe = regexp.MustCompile(`Local KMS started on \S*:(\d+)`)

// StartLocalKMS starts the local-kms binary bin on a free port, seeded from
// seedFile, with its data in dataDir (which should be fresh). Its output
// goes to logTo if not nil.
func StartLocalKMS(ctx context.Context, bin, seedFile, dataDir string, logTo io.Writer) (*LocalKMS, error) {
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PORT=0", // local-kms picks a free port and logs it
		"KMS_REGION=" + Region,
		"KMS_ACCOUNT_ID=" + Account,
		"KMS_DATA_PATH=" + dataDir,
		"KMS_SEED_PATH=" + seedFile,
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = killWithParent()
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("stack: start local-kms: %w", err)
	}
	k := &LocalKMS{cmd: cmd, done: make(chan struct{})}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if logTo != nil {
				fmt.Fprintln(logTo, line)
			}
			if m := kmsStartedRe.FindStringSubmatch(line); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, r)
		r.Close()
	}()
	go func() {
		_ = cmd.Wait()
		close(k.done)
	}()
	select {
	case p := <-port:
		k.Endpoint = "http://127.0.0.1:" + p
		return k, nil
	case <-k.done:
		return nil, fmt.Errorf("stack: local-kms exited before listening: %v", cmd.ProcessState)
	case <-ctx.Done():
		k.Close()
		return nil, fmt.Errorf("stack: local-kms: %w", ctx.Err())
	case <-time.After(60 * time.Second):
		k.Close()
		return nil, fmt.Errorf("stack: local-kms did not report its port within a minute")
	}
}

// Close stops local-kms.
func (k *LocalKMS) Close() {
	select {
	case <-k.done:
		return
	default:
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}
