// Command sfnenc-proxy puts the sfnenc middleware's contract in front of a
// Lambda handler in any language (Python, Node.js, Java, .NET, or a Go
// handler that does not import sfnenc), as a proxy of the Lambda Runtime
// API: the handler gets the event decrypted by contract, its result is
// encrypted by the rules, and its error keeps its type with the message
// sealed or redacted. The contract, its configuration (SFNENC_CONFIG_FILE or
// SFNENC_CONFIG, SFNENC_CLASSES, SFNENC_WRITES, SFNENC_ACCEPT_PLAINTEXT,
// SFNENC_ERROR_CLASS, SFNENC_LOG_LEVEL), its error types and its log
// records are those of package lambdamw.
//
// Usage:
//
//	sfnenc-proxy                          as a Lambda extension (/opt/extensions/sfnenc-proxy)
//	sfnenc-proxy exec -- COMMAND [ARGS...]
//	sfnenc-proxy help | --version
//
// As an external extension, it registers with the Extensions API and serves
// the proxied Runtime API on 127.0.0.1:${SFNENC_PROXY_PORT:-9009}; the
// wrapper script sfnenc-wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/sfnenc-wrapper)
// points the runtime's AWS_LAMBDA_RUNTIME_API at it, and then runs the
// wrapper named by SFNENC_NEXT_WRAPPER, if any, or the runtime. With
// SFNENC_PROXY_PORT=0 the extension picks a free port and writes its
// address to $TMPDIR/sfnenc-proxy.addr (TMPDIR defaults to /tmp), where the
// wrapper reads it.
//
// exec starts the proxy in this process and runs COMMAND with
// AWS_LAMBDA_RUNTIME_API pointing at it: for container images, provided
// runtimes and the Runtime Interface Emulator. It passes signals on and
// exits with COMMAND's status (128+N if a signal N ended it).
//
// Exit codes: COMMAND's status for exec; 0 after the extension's SHUTDOWN;
// 1 on a failure to start or serve; 2 on a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfnenc-proxy/internal/extension"
	"github.com/sfnenc/sfnenc/cmd/sfnenc-proxy/internal/proxy"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// Environment variables of the proxy's own; the contract reads lambdamw's.
const (
	envPort    = "SFNENC_PROXY_PORT"
	envRuntime = "AWS_LAMBDA_RUNTIME_API"
)

const defaultPort = 9009

// AddrFile is the name of the file, in the temporary directory, where the
// extension writes its address when SFNENC_PROXY_PORT is 0.
const addrFile = "sfnenc-proxy.addr"

const usage = `usage:
  sfnenc-proxy                            run as a Lambda extension (/opt/extensions/sfnenc-proxy)
  sfnenc-proxy exec -- COMMAND [ARGS...]  run COMMAND as the runtime, behind the proxy
  sfnenc-proxy help | --version

The proxy serves the Lambda Runtime API on 127.0.0.1:${SFNENC_PROXY_PORT:-9009}
(0: a free port) with the sfnenc contract in front of the handler, configured
as lambdamw is (SFNENC_CONFIG_FILE or SFNENC_CONFIG, SFNENC_CLASSES,
SFNENC_WRITES, SFNENC_ACCEPT_PLAINTEXT, SFNENC_ERROR_CLASS, SFNENC_LOG_LEVEL).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	switch {
	case len(args) == 0:
		return runExtension(start, stderr)
	case args[0] == "exec":
		if len(args) < 3 || args[1] != "--" {
			fmt.Fprint(stderr, "sfnenc-proxy: error: exec needs -- and a command\n"+usage)
			return 2
		}
		return runExec(start, args[2:], stderr)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case args[0] == "--version":
		fmt.Fprintln(stdout, "sfnenc-proxy", version())
		return 0
	}
	fmt.Fprintf(stderr, "sfnenc-proxy: error: unknown command %q\n%s", args[0], usage)
	return 2
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// serve starts the proxy to the Runtime API named by AWS_LAMBDA_RUNTIME_API
// on its loopback port, with the contract built from the environment.
func serve(stderr io.Writer) (*proxy.Server, *http.Server, net.Listener, error) {
	upstream := os.Getenv(envRuntime)
	if upstream == "" {
		return nil, nil, nil, fmt.Errorf("%s is not set: run under AWS Lambda or the Runtime Interface Emulator", envRuntime)
	}
	port := defaultPort
	if v, ok := os.LookupEnv(envPort); ok {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return nil, nil, nil, fmt.Errorf("%s: %q is not a port number", envPort, v)
		}
		port = p
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen: %w", err)
	}
	p := proxy.New(upstream, func() *lambdamw.Contract { return lambdamw.NewContract() })
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return p, srv, ln, nil
}

// logReady logs, once the contract is built, how long the proxy took to
// listen (startMs: the runtime may start then) and, as the contract's own
// start-up record says (lambdamw: ready), to build the contract.
func logReady(p *proxy.Server, ln net.Listener, mode string, start time.Time, listening time.Duration) {
	go p.Logger().LogAttrs(context.Background(), slog.LevelInfo,
		"sfnenc-proxy: ready", slog.String("mode", mode), slog.String("listen", ln.Addr().String()),
		slog.Float64("startMs", float64(listening.Microseconds())/1000),
		slog.Float64("contractMs", float64(time.Since(start).Microseconds())/1000))
}

// runExec runs the command as the runtime behind the proxy and returns its
// exit status.
func runExec(start time.Time, argv []string, stderr io.Writer) int {
	p, srv, ln, err := serve(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
		return 1
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(withoutVar(os.Environ(), envRuntime), envRuntime+"="+ln.Addr().String())
	// Catch signals before the child starts, so none is lost.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	logReady(p, ln, "exec", start, time.Since(start))
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	p.Close()
	_ = srv.Close()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
	return 1
}

// runExtension runs the proxy as an external Lambda extension until the
// SHUTDOWN event.
func runExtension(start time.Time, stderr io.Writer) int {
	p, srv, ln, err := serve(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
		return 1
	}
	if os.Getenv(envPort) == "0" {
		// The wrapper reads the address the kernel chose here; it is
		// written before registering, so before the runtime starts.
		f := filepath.Join(os.TempDir(), addrFile)
		// An address, no secret: readable by the runtime's user too.
		err := os.WriteFile(f+".tmp", []byte(ln.Addr().String()), 0o644)
		if err == nil {
			err = os.Rename(f+".tmp", f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
			return 1
		}
	}
	name := filepath.Base(os.Args[0])
	ext, err := extension.Register(context.Background(), os.Getenv(envRuntime), name)
	if err != nil {
		fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
		return 1
	}
	logReady(p, ln, "extension", start, time.Since(start))
	// The extension waits for SHUTDOWN; the proxy serves meanwhile.
	if err := ext.WaitShutdown(context.Background()); err != nil {
		fmt.Fprintf(stderr, "sfnenc-proxy: error: %v\n", err)
		p.Close()
		_ = srv.Close()
		return 1
	}
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}

func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)+1] == name+"=" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
