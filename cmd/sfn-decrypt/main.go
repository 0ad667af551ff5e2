// Command sfn-decrypt encrypts and decrypts sfnenc tokens in JSON documents
// and AWS Step Functions execution histories, under the caller's own AWS
// credentials and KMS permissions.
//
// Usage:
//
//	sfn-decrypt encrypt --config FILE [INPUT]
//	sfn-decrypt decrypt --config FILE [--class C]... [INPUT]
//	sfn-decrypt history --config FILE --reason TEXT [--output json|text] [--class C]...
//		(--execution-arn ARN | FILE | - | --state-machine-arn ARN [--status S] [--since TIME])
//	sfn-decrypt logs --config FILE --reason TEXT [--output json|text] [--class C]...
//		(--log-group NAME (--execution-arn ARN | --start TIME [--end TIME]) [--follow] | FILE | -)
//	sfn-decrypt keyset (create | rotate | list [--output json|text] | destroy --key-id N [--yes]) --config FILE --class C
//	sfn-decrypt help [COMMAND]
//	sfn-decrypt --version
//	sfn-decrypt check --config FILE (--definition ASL | --template TEMPLATE) [--classes F=C,...]... [--output text|json|sarif]
//	sfn-decrypt policy --config FILE (--template TEMPLATE | --serverless FILE | --classes F=C,...)
//		[--readers R=C,...] [--writers R=C,...] [--keyset-admins R,...] [--break-glass-role R] [--format json|cloudformation|terraform]
//	sfn-decrypt view --config FILE --reason TEXT [--class C]... [--listen ADDR] [--open]
//		(--execution-arn ARN | --log-group NAME --execution-arn ARN | FILE [--definition ASL] | -)
//
// Every command also takes --profile, --region and --max-size, and flags
// may follow INPUT. Run "sfn-decrypt help" for every command and flag. Exit codes: 0 success,
// 1 any other failure, 2 usage or configuration error, 3 a token failed to
// authenticate or could not be decrypted, 4 the AWS API that holds the events
// failed (Step Functions for history, CloudWatch Logs for logs), 5 check
// found at least one error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	exitTokens = 3
	exitAPI    = 4
)

type command struct {
	name, summary string
	run           func(e *env, args []string) int
}

// env is what a command may touch: the streams, and the environment
// (read through getenv so tests can run commands in-process).
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal reports whether a stream (stdin, stdout, stderr) is a
	// terminal: for progress, a notice that stdin is read, and a final
	// newline.
	terminal func(stream any) bool
	// ctx, if not nil, ends a command early when it is done (tests stop
	// "logs --follow" with it); commands use context.Background otherwise.
	ctx context.Context
}

func (e *env) context() context.Context {
	if e.ctx != nil {
		return e.ctx
	}
	return context.Background()
}

func commands() []command {
	return []command{
		{"encrypt", "encrypt the selected fields of a JSON document", cmdEncrypt},
		{"decrypt", "decrypt every token in a JSON document", cmdDecrypt},
		{"history", "print execution histories with their tokens decrypted", cmdHistory},
		{"logs", "print Step Functions events in CloudWatch Logs with their tokens decrypted", cmdLogs},
		{"results", "print the results a Distributed Map exported to S3 with their tokens decrypted", cmdResults},
		{"keyset", "create, rotate, list and destroy the KMS-encrypted keysets of keyset mode", cmdKeyset},
		{"check", "check a state machine definition for places that mishandle tokens", cmdCheck},
		{"policy", "print the least-privilege KMS key and IAM policies of the rules", cmdPolicy},
		{"view", "show one execution, decrypted, as a local web page", cmdView},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, terminal: isTerminal}
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			// "help COMMAND" is "COMMAND --help".
			for _, c := range commands() {
				if c.name == args[1] {
					return c.run(e, []string{"--help"})
				}
			}
			e.errorf("unknown command %q (run 'sfn-decrypt help')", args[1])
			return exitUsage
		}
		usage(e.stdout)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintf(e.stdout, "sfn-decrypt %s\n", version())
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	e.errorf("unknown command %q (run 'sfn-decrypt help')", args[0])
	return exitUsage
}

// buildVersion is the release version, stamped by "make release"
// (-ldflags "-X main.buildVersion=VERSION"); empty in other builds.
var buildVersion string

// version is the release version stamped into the binary, else the module
// version it was built from (by go install MODULE@VERSION), or for a build
// in a clone "(devel)" with the commit and whether the tree had changes; and
// the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if buildVersion != "" {
			return buildVersion
		}
		return "(unknown)"
	}
	v := bi.Main.Version
	if buildVersion != "" {
		v = buildVersion
	}
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" && v == "(devel)" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " commit " + rev + modified
	}
	return v + " " + bi.GoVersion
}
