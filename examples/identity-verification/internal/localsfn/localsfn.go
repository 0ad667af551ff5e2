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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sfnenc/sfnenc/internal/launch"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

	proc *launch.Process
}

// StartFunction starts the emulator rie with the function binary bin and
// the environment env (of this process's environment only PATH is passed
// on, so that nothing else reaches the function by accident), and waits
// until it accepts connections. The emulator's and the
// function's output is kept (see Function.Logs) and copied to logTo if not
// nil.
func StartFunction(ctx context.Context, rie, bin string, env []string, logTo io.Writer) (*Function, error) {
	p, url, err := launch.StartEmulator(ctx, rie, bin, append([]string{"PATH=" + os.Getenv("PATH")}, env...), logTo)
	if err != nil {
		return nil, fmt.Errorf("localsfn: %w", err)
	}
	return &Function{URL: url, proc: p}, nil
}

// StartCommand is StartFunction for a function whose runtime is a command
// with arguments (argv, such as sfnenc-proxy exec -- node ... for a
// Node.js handler), run in dir.
func StartCommand(ctx context.Context, rie string, argv []string, dir string, env []string, logTo io.Writer) (*Function, error) {
	env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p, url, err := launch.StartEmulatorWith(ctx, filepath.Base(argv[len(argv)-1]), func(invokeAddr, apiAddr string) *exec.Cmd {
		cmd := exec.Command(rie, append(launch.EmulatorArgs(invokeAddr, apiAddr), argv...)...)
		cmd.Dir = dir
		cmd.Env = env
		return cmd
	}, logTo)
	if err != nil {
		return nil, fmt.Errorf("localsfn: %w", err)
	}
	return &Function{URL: url, proc: p}, nil
}

// Logs returns what the emulator and the function printed so far.
func (f *Function) Logs() string { return f.proc.Logs() }

// Close stops the emulator, which stops the function.
func (f *Function) Close() error { f.proc.Stop(); return nil }

// FreePorts returns n loopback TCP ports that were free when asked.
func FreePorts(n int) ([]int, error) { return launch.FreePorts(n) }

// SyncBuffer is a buffer safe for concurrent writes, for process output
// read while the process runs.
type SyncBuffer = launch.Buffer

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

	proc *launch.Process
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
	p, m, err := launch.StartWaiting(ctx, cmd, listeningRe, 60*time.Second, opts.LogTo, nil)
	if err != nil {
		return nil, fmt.Errorf("localsfn: server.mjs: %w", err)
	}
	return &Server{Endpoint: "http://" + m[1], OutDir: opts.OutDir, proc: p}, nil
}

// Logs returns what the server printed so far.
func (s *Server) Logs() string { return s.proc.Logs() }

// Close stops the server, aborting running executions.
func (s *Server) Close() error { s.proc.Stop(); return nil }

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
