// Package launch starts the local components that the tests, the demo and
// the local Step Functions endpoint run as child processes: local-kms
// ([StartLocalKMS]), the AWS Lambda Runtime Interface Emulator
// ([StartEmulator]) and anything else, such as node ([Start]). A child's
// output is kept, and fed line by line to a callback; on Linux the child is
// killed when its parent dies, so that a test killed from outside leaves no
// server behind; [Process.Stop] ends it with SIGTERM, then SIGKILL.
package launch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Process is a started child process.
type Process struct {
	cmd  *exec.Cmd
	logs *Buffer
	done chan struct{}
}

// Start starts cmd with its standard output and error kept (Logs), copied
// to logTo if not nil, and fed line by line to onLine if not nil.
func Start(cmd *exec.Cmd, logTo io.Writer, onLine func(string)) (*Process, error) {
	p := &Process{cmd: cmd, logs: &Buffer{keep: 1 << 20}, done: make(chan struct{})}
	var w io.Writer = p.logs
	if logTo != nil {
		w = io.MultiWriter(p.logs, logTo)
	}
	var pw *io.PipeWriter
	if onLine != nil {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		w = io.MultiWriter(w, pw)
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				onLine(sc.Text())
			}
			_, _ = io.Copy(io.Discard, pr)
		}()
	}
	cmd.Stdout = w
	cmd.Stderr = w
	// A grandchild that keeps the output pipe open must not keep Wait
	// (and so Stop) waiting once the process itself has exited.
	cmd.WaitDelay = 2 * time.Second
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		if pw != nil {
			pw.Close()
		}
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		if pw != nil {
			pw.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Logs returns what the process printed so far.
func (p *Process) Logs() string { return p.logs.String() }

// ExitState describes how the process exited (nil while it runs).
func (p *Process) ExitState() string {
	select {
	case <-p.done:
		return p.cmd.ProcessState.String()
	default:
		return ""
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after 5 seconds.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the process at once and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Buffer is a bytes.Buffer safe for concurrent writes, for process output
// read while the process runs. A Buffer made by Start keeps the last MiB.
type Buffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	keep int // if over 0, the most bytes kept
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.keep > 0 && b.buf.Len() > b.keep {
		b.buf.Next(b.buf.Len() - b.keep/2)
	}
	return n, err
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreePorts returns n loopback TCP ports that were free when asked.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("launch: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ErrExited is returned when a process exits before it is ready.
var ErrExited = errors.New("launch: process exited before it was ready")

// waitLine waits until the process prints a line that re matches, and
// returns the match, the process's exit, ctx's end or the timeout.
func waitLine(ctx context.Context, p *Process, found <-chan []string, timeout time.Duration) ([]string, error) {
	select {
	case m := <-found:
		return m, nil
	case <-p.done:
		return nil, fmt.Errorf("%w: %s", ErrExited, p.Logs())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	case <-time.After(timeout):
		p.Stop()
		return nil, fmt.Errorf("launch: not ready within %v: %s", timeout, p.Logs())
	}
}

// StartWaiting starts cmd as Start does and waits until it prints a line
// that re matches (within timeout); it returns the match.
func StartWaiting(ctx context.Context, cmd *exec.Cmd, re *regexp.Regexp, timeout time.Duration, logTo io.Writer, onLine func(string)) (*Process, []string, error) {
	found := make(chan []string, 1)
	p, err := Start(cmd, logTo, func(line string) {
		if m := re.FindStringSubmatch(line); m != nil {
			select {
			case found <- m:
			default:
			}
		}
		if onLine != nil {
			onLine(line)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	m, err := waitLine(ctx, p, found, timeout)
	if err != nil {
		return nil, nil, err
	}
	return p, m, nil
}

// LocalKMS says how to run local-kms: its region, account, data directory
// (fresh for each run) and seed file. Dir is its working directory.
type LocalKMS struct {
	Region, Account, DataPath, SeedPath, Dir string
}

var kmsStarted = regexp.MustCompile(`Local KMS started on \S*:(\d+)`)

// StartLocalKMS starts the local-kms binary bin on a port of its choosing
// (PORT=0) and returns it with its endpoint on loopback, once it listens.
func StartLocalKMS(ctx context.Context, bin string, k LocalKMS, logTo io.Writer, onLine func(string)) (*Process, string, error) {
	cmd := exec.Command(bin)
	cmd.Dir = k.Dir
	cmd.Env = []string{
		"PORT=0", // local-kms picks a free port and logs it
		"KMS_REGION=" + k.Region,
		"KMS_ACCOUNT_ID=" + k.Account,
		"KMS_DATA_PATH=" + k.DataPath,
		"KMS_SEED_PATH=" + k.SeedPath,
	}
	p, m, err := StartWaiting(ctx, cmd, kmsStarted, 60*time.Second, logTo, onLine)
	if err != nil {
		return nil, "", fmt.Errorf("launch: local-kms: %w", err)
	}
	return p, "http://127.0.0.1:" + m[1], nil
}

// StartEmulator runs the Lambda handler binary handler under the Runtime
// Interface Emulator rie, on two loopback ports of its own, with env as the
// whole environment, and returns it with its invoke URL once it accepts
// connections. Ports are found free before the emulator binds them, so a
// start that loses that race is tried again, three times in all.
func StartEmulator(ctx context.Context, rie, handler string, env []string, logTo io.Writer) (*Process, string, error) {
	var lastErr error
	for range 3 {
		p, url, err := startEmulator(ctx, rie, handler, env, logTo)
		if err == nil {
			return p, url, nil
		}
		if ctx.Err() != nil {
			return nil, "", err
		}
		lastErr = err
	}
	return nil, "", lastErr
}

func startEmulator(ctx context.Context, rie, handler string, env []string, logTo io.Writer) (*Process, string, error) {
	return startEmulatorWith(ctx, filepath.Base(handler), func(invokeAddr, apiAddr string) *exec.Cmd {
		cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, handler)
		cmd.Dir = filepath.Dir(handler)
		cmd.Env = env
		return cmd
	}, logTo)
}

// EmulatorArgs returns the emulator's flags for its two addresses, to put
// after the emulator's path in a command for [StartEmulatorWith].
func EmulatorArgs(invokeAddr, apiAddr string) []string {
	return []string{"--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr}
}

// StartEmulatorWith is [StartEmulator] for an emulator started by a command
// of the caller's (a bootstrap with arguments, a private mount namespace):
// command returns it for the emulator's two loopback addresses (see
// [EmulatorArgs]). name names the function in errors. A start that loses
// the race for the ports is tried again, three times in all.
func StartEmulatorWith(ctx context.Context, name string, command func(invokeAddr, apiAddr string) *exec.Cmd, logTo io.Writer) (*Process, string, error) {
	var lastErr error
	for range 3 {
		p, url, err := startEmulatorWith(ctx, name, command, logTo)
		if err == nil {
			return p, url, nil
		}
		if ctx.Err() != nil {
			return nil, "", err
		}
		lastErr = err
	}
	return nil, "", lastErr
}

func startEmulatorWith(ctx context.Context, name string, command func(invokeAddr, apiAddr string) *exec.Cmd, logTo io.Writer) (*Process, string, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, "", err
	}
	invokeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	handler := name
	p, err := Start(command(invokeAddr, apiAddr), logTo, nil)
	if err != nil {
		return nil, "", fmt.Errorf("launch: emulator for %s: %w", handler, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			conn.Close()
			return p, "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", nil
		}
		select {
		case <-p.done:
			return nil, "", fmt.Errorf("launch: emulator for %s: %w: %s", handler, ErrExited, p.Logs())
		case <-ctx.Done():
			p.Stop()
			return nil, "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, "", fmt.Errorf("launch: emulator for %s did not listen on %s", handler, invokeAddr)
		}
	}
}
