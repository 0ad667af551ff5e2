// Package localsfn runs AWS Step Functions state machines on this machine,
// for the example's tests and demo: Go Lambda functions run under the AWS
// Lambda Runtime Interface Emulator, and harness/server.mjs (on Node, with
// the aws-local-stepfunctions interpreter) is a local Step Functions
// endpoint that the AWS SDKs reach like the real one. It runs the executions,
// routes their Task states to the emulators, and saves each execution's
// history in the shape `aws stepfunctions get-execution-history` prints.
//
// Entry points: [BuildFunctions], [FindEmulator] and [StartFunction] for
// the functions, [Harness.Validate] and [Harness.Start] for the state
// machines, [WaitExecution] to wait for an execution's end.
package localsfn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// ErrNotInstalled reports that node or the harness's npm packages are not
// installed.
var ErrNotInstalled = errors.New("localsfn: harness npm packages are not installed")

// BuildFunctions builds Go Lambda functions (package paths, such as
// "./functions/send-sms", relative to dir) into outDir as the Lambda
// provided runtimes expect them: static, and without the RPC mode of
// aws-lambda-go. It returns each binary's path by the package's base name.
func BuildFunctions(ctx context.Context, dir, outDir string, pkgs ...string) (map[string]string, error) {
	args := append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", outDir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("localsfn: go build: %w\n%s", err, out)
	}
	bins := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		bins[filepath.Base(p)] = filepath.Join(outDir, filepath.Base(p))
	}
	return bins, nil
}

// FindEmulator returns the path of the aws-lambda-rie binary: $AWS_LAMBDA_RIE,
// then bin/aws-lambda-rie in the module at moduleDir, then aws-lambda-rie on
// $PATH; failing those it builds it from moduleDir/tools (whose go.mod pins
// it) into outDir.
func FindEmulator(ctx context.Context, moduleDir, outDir string) (string, error) {
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		return p, nil
	}
	if p := filepath.Join(moduleDir, "bin", "aws-lambda-rie"); isExecutable(p) {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", outDir+string(filepath.Separator),
		"github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	cmd.Dir = filepath.Join(moduleDir, "tools")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("localsfn: build aws-lambda-rie: %w\n%s", err, out)
	}
	return filepath.Join(outDir, "aws-lambda-rie"), nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Function is one Lambda function running under the emulator, on its own
// two loopback ports. The emulator takes one invocation at a time.
type Function struct {
	// URL is the function's invoke endpoint.
	URL string

	proc *process
}

// StartFunction starts the emulator rie with the function binary bin and
// the environment env (of this process's environment only PATH is passed
// on, so that nothing else reaches the function by accident), and waits
// until it accepts connections. The emulator's and the
// function's output is kept (see Function.Logs) and copied to logTo if not
// nil.
func StartFunction(ctx context.Context, rie, bin string, env []string, logTo io.Writer) (*Function, error) {
	var lastErr error
	for range 3 { // a free port found here can be taken before the emulator binds it
		f, err := startFunction(ctx, rie, bin, env, logTo)
		if err == nil {
			return f, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startFunction(ctx context.Context, rie, bin string, env []string, logTo io.Writer) (*Function, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		bin)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p, err := startProcess(cmd, logTo, nil)
	if err != nil {
		return nil, fmt.Errorf("localsfn: start %s: %w", filepath.Base(bin), err)
	}
	f := &Function{URL: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", proc: p}
	for {
		conn, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			conn.Close()
			return f, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("localsfn: emulator for %s exited: %s", filepath.Base(bin), p.logs.String())
		case <-ctx.Done():
			p.stop()
			return nil, fmt.Errorf("localsfn: emulator for %s: %w", filepath.Base(bin), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Logs returns what the emulator and the function printed so far.
func (f *Function) Logs() string { return f.proc.logs.String() }

// Close stops the emulator, which stops the function.
func (f *Function) Close() error { f.proc.stop(); return nil }

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
			return nil, fmt.Errorf("localsfn: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process is a child process whose output is kept.
type process struct {
	cmd  *exec.Cmd
	logs *SyncBuffer
	done chan struct{}
}

// startProcess starts cmd with its output kept, copied to logTo (if not
// nil), and fed line by line to onLine (if not nil).
func startProcess(cmd *exec.Cmd, logTo io.Writer, onLine func(string)) (*process, error) {
	p := &process{cmd: cmd, logs: &SyncBuffer{}, done: make(chan struct{})}
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
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
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

// stop ends the process: SIGTERM, then SIGKILL after 5 seconds.
func (p *process) stop() {
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

// SyncBuffer is a bytes.Buffer safe for concurrent writes, for process
// output read while the process runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Harness is the Node harness in a directory that holds server.mjs and its
// installed npm packages (node_modules, from `npm ci`).
type Harness struct {
	Dir string
}

// Check reports whether node and the harness's npm packages are there; it
// returns an error wrapping [ErrNotInstalled] if they are not.
func (h Harness) Check() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: node not found: %v", ErrNotInstalled, err)
	}
	for _, p := range []string{"aws-local-stepfunctions", "asl-validator"} {
		if _, err := os.Stat(filepath.Join(h.Dir, "node_modules", p, "package.json")); err != nil {
			return fmt.Errorf("%w: %s is missing in %s (run make node-deps)", ErrNotInstalled, p, h.Dir)
		}
	}
	return nil
}

// Validate checks a definition file with asl-validator; the error holds the
// validator's report.
func (h Harness) Validate(ctx context.Context, definitionFile string) error {
	abs, err := filepath.Abs(definitionFile)
	if err != nil {
		return fmt.Errorf("localsfn: %w", err)
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join("node_modules", "asl-validator", "dist", "bin", "asl-validator.js"), "--json-path", abs)
	cmd.Dir = h.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("localsfn: asl-validator %s: %w\n%s", definitionFile, err, out)
	}
	return nil
}

// ServerOptions configures a local Step Functions endpoint.
type ServerOptions struct {
	// Functions maps a Lambda function name (or function ARN) to its invoke
	// URL.
	Functions map[string]string
	// OutDir receives each execution's history and description when it
	// ends.
	OutDir string
	// RetryIntervalMS, if not nil, replaces the pause of every Retry.
	RetryIntervalMS *int
	// LogTo, if not nil, receives the server's output as well.
	LogTo io.Writer
}

// Server is a running local Step Functions endpoint.
type Server struct {
	// Endpoint is the URL to give AWS SDK clients (or AWS_ENDPOINT_URL_SFN).
	Endpoint string
	// OutDir is where execution files are saved.
	OutDir string

	proc *process
}

var listeningRe = regexp.MustCompile(`^server\.mjs: listening on (\S+)$`)

// Start starts the local Step Functions endpoint on a free loopback port.
func (h Harness) Start(ctx context.Context, opts ServerOptions) (*Server, error) {
	fns, err := json.Marshal(opts.Functions)
	if err != nil {
		return nil, fmt.Errorf("localsfn: %w", err)
	}
	fnFile := filepath.Join(opts.OutDir, "functions.json")
	if err := os.WriteFile(fnFile, fns, 0o600); err != nil {
		return nil, fmt.Errorf("localsfn: %w", err)
	}
	args := []string{"server.mjs", "--functions", fnFile, "--out", opts.OutDir, "--address", "127.0.0.1:0"}
	if opts.RetryIntervalMS != nil {
		args = append(args, "--retry-interval-ms", strconv.Itoa(*opts.RetryIntervalMS))
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = h.Dir
	addr := make(chan string, 1)
	p, err := startProcess(cmd, opts.LogTo, func(line string) {
		if m := listeningRe.FindStringSubmatch(line); m != nil {
			select {
			case addr <- m[1]:
			default:
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("localsfn: start server.mjs: %w", err)
	}
	select {
	case a := <-addr:
		return &Server{Endpoint: "http://" + a, OutDir: opts.OutDir, proc: p}, nil
	case <-p.done:
		return nil, fmt.Errorf("localsfn: server.mjs exited: %s", p.logs.String())
	case <-ctx.Done():
		p.stop()
		return nil, fmt.Errorf("localsfn: server.mjs: %w", ctx.Err())
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("localsfn: server.mjs did not start in 60s: %s", p.logs.String())
	}
}

// Logs returns what the server printed so far.
func (s *Server) Logs() string { return s.proc.logs.String() }

// Close stops the server, aborting running executions.
func (s *Server) Close() error { s.proc.stop(); return nil }

// HistoryFile returns the path of the saved history of an execution, by
// execution name.
func (s *Server) HistoryFile(name string) string {
	return filepath.Join(s.OutDir, name+".history.json")
}

// WaitExecution polls DescribeExecution until the execution is no longer
// running, and returns its description.
func WaitExecution(ctx context.Context, client *sfn.Client, arn string) (*sfn.DescribeExecutionOutput, error) {
	for {
		out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("localsfn: %w", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("localsfn: wait for %s: %w", arn, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}
