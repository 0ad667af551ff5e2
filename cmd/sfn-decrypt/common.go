package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/awsapi"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/logs"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/jsontape"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: sfn-decrypt COMMAND [FLAGS] [ARGS]

Encrypts and decrypts sfnenc tokens in JSON and in AWS Step Functions
execution histories and CloudWatch Logs, under your own AWS credentials and
KMS permissions. Region, profile, credentials and endpoints come from the
standard AWS configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_KMS,
AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_S3,
...).

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'sfn-decrypt COMMAND --help' for a command's flags.

Exit codes:
  0  success
  1  any other failure (input unreadable or not JSON, KMS unreachable, ...)
  2  usage or configuration error
  3  a token failed to authenticate or could not be decrypted
  4  the Step Functions API failed (history), or the CloudWatch Logs API
     (logs), or the S3 API (results): no such execution, log group or
     object, access denied, throttled past the retries, invalid or
     truncated response
  5  check found at least one error in the state machine
`)
}

func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "sfn-decrypt: error: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

func (e *env) infof(format string, args ...any) {
	fmt.Fprintf(e.stderr, "sfn-decrypt: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

// oneLine makes a diagnostic one line: AWS SDK messages hold newlines, and
// one diagnostic per line is what a reader (and grep) expects. Other
// control characters are escaped, as in text output.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", " \n ")), " ")
	return timeline.Escape(s)
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// common flags of every command that builds a codec.
type commonFlags struct {
	config  string
	profile string
	region  string
	maxSize int
	classes multiFlag
}

func (c *commonFlags) register(fs *flag.FlagSet, withClass bool) {
	fs.StringVar(&c.config, "config", "", "configuration `FILE` (JSON); required")
	fs.StringVar(&c.profile, "profile", "", "AWS shared configuration `PROFILE` (default: AWS_PROFILE or default)")
	fs.IntVar(&c.maxSize, "max-size", jsontape.DefaultMaxSize, "largest JSON document (encrypt, decrypt) or data field of an event (history, logs) to read, in `BYTES`")
	fs.StringVar(&c.region, "region", "", "AWS `REGION` for API calls (KMS calls go to the region of the key; Step Functions and CloudWatch Logs calls to that of the ARN they name)")
	if withClass {
		fs.Var(&c.classes, "class", "decrypt only tokens of `CLASS` (repeatable); others stay as they are")
	}
}

// readFlags are the flags of the commands that read what Step Functions
// recorded (history, logs): those of the codec, --reason and --output.
type readFlags struct {
	commonFlags
	reason string
	output string
}

// registerRead registers the flags of a command that reads what (such as
// "this history"); timeline describes its text output.
func (r *readFlags) registerRead(fs *flag.FlagSet, what, timeline string) {
	r.register(fs, true)
	fs.StringVar(&r.reason, "reason", "", "why you read "+what+" (a ticket id, say); `TEXT` is sent as the AWS SDK application id; required")
	fs.StringVar(&r.output, "output", "json", "output `FORMAT`: json (the input's shape, tokens decrypted) or text ("+timeline+")")
}

// readOutput is how a command that reads what Step Functions recorded
// decrypts it and writes it to stdout: as JSON, or as a text timeline.
type readOutput struct {
	dec      *eventdata.Decryptor
	appID    string // the AWS SDK application id that --reason becomes
	out      *bufio.Writer
	timeline *timeline.Timeline // nil for JSON
}

// newReadOutput checks --reason (for reading what, such as "this history")
// and builds the codec and the output. It prints the error and returns the
// exit code on failure, 0 otherwise.
func (r *readFlags) newReadOutput(ctx context.Context, e *env, what string) (readOutput, int) {
	appID, err := applicationID(r.reason, what)
	if err != nil {
		e.errorf("%v", err)
		return readOutput{}, exitUsage
	}
	cd, code := r.newCodec(ctx, e, appID)
	if cd == nil {
		return readOutput{}, code
	}
	o := readOutput{dec: eventdata.NewDecryptor(cd), appID: appID, out: bufio.NewWriter(e.stdout)}
	if r.output == "text" {
		o.timeline = timeline.New(o.out)
	}
	return o, 0
}

// newFlagSet returns a flag set whose messages are held until parsing ends:
// see endFlags.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sfn-decrypt %s\n\nFlags:\n", synopsis)
		printFlags(fs)
	}
	return fs
}

// printFlags writes the flags of fs as flag.PrintDefaults does, but spelt
// with two dashes, as the usage lines and the README spell them.
func printFlags(fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// flushUsage writes the help to stdout if it was asked for, or a usage
// error to stderr.
func flushUsage(e *env, fs *flag.FlagSet, err error) {
	buf, ok := fs.Output().(*bytes.Buffer)
	if !ok {
		return
	}
	defer buf.Reset()
	switch {
	case errors.Is(err, flag.ErrHelp):
		e.stdout.Write(buf.Bytes())
	case err != nil:
		e.errorf("%v (run 'sfn-decrypt %s --help')", err, fs.Name())
	}
}

// parseFlags parses the flags of a command that takes no INPUT and reports
// as endFlags does.
func parseFlags(e *env, fs *flag.FlagSet, args []string) (int, bool) {
	return endFlags(e, fs, fs.Parse(args))
}

// endFlags reports the error of parsing flags (or the help asked for) and
// the exit code to use if parsing ended the command.
func endFlags(e *env, fs *flag.FlagSet, err error) (int, bool) {
	flushUsage(e, fs, err)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// awsConfig loads the standard AWS configuration with the command's
// profile, region and application id.
func (c *commonFlags) awsConfig(ctx context.Context, appID string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	if c.region != "" {
		opts = append(opts, config.WithRegion(c.region))
	}
	if appID != "" {
		opts = append(opts, config.WithAppID(appID))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// newCodec loads the configuration and builds a codec whose KMS clients use
// the command's AWS configuration. It prints the error and returns the exit
// code on failure.
func (c *commonFlags) newCodec(ctx context.Context, e *env, appID string) (*codec.Codec, int) {
	if c.config == "" {
		e.errorf("--config is required")
		return nil, exitUsage
	}
	if c.maxSize <= 0 {
		e.errorf("--max-size must be a positive number of bytes")
		return nil, exitUsage
	}
	cfg, err := codec.LoadConfig(c.config)
	if err != nil {
		e.errorf("%v", err)
		return nil, exitUsage
	}
	opts := []codec.Option{
		codec.WithLimits(jsontape.Limits{MaxSize: c.maxSize}),
		// A refusal of KMS (denied, invalid ciphertext) stays a refusal for
		// the run: one KMS call and one CloudTrail event per wrapped key or
		// keyset file, not one per token.
		codec.WithCacheLimits(codec.CacheLimits{}, codec.CacheLimits{FailureAge: codec.ForProcess}),
	}
	if len(c.classes) > 0 {
		opts = append(opts, codec.WithClasses(c.classes...))
	}
	// The AWS configuration is loaded lazily, only if a KMS keyring or
	// the ESDK mode needs it.
	var awsErr error
	var ac *aws.Config
	loadAWS := func() bool {
		if ac == nil && awsErr == nil {
			var cfg aws.Config
			if cfg, awsErr = c.awsConfig(ctx, appID); awsErr == nil {
				ac = &cfg
			}
		}
		return awsErr == nil
	}
	var clients func(string) envelope.KMSClient
	opts = append(opts, codec.WithKMSClients(func(region string) envelope.KMSClient {
		if !loadAWS() {
			return nil
		}
		if clients == nil {
			clients = envelope.KMSClients(*ac)
		}
		return clients(region)
	}))
	opts = append(opts, codec.WithESDK(func(keyARNs []string) (envelope.MessageSealer, error) {
		if !loadAWS() {
			return nil, awsErr
		}
		return esdk.Factory(*ac)(keyARNs)
	}))
	cd, err := codec.New(ctx, cfg, opts...)
	if awsErr != nil {
		e.errorf("AWS configuration: %v", awsErr)
		return nil, exitUsage
	}
	if err != nil {
		e.errorf("%v", err)
		return nil, exitUsage
	}
	return cd, 0
}

// readInput reads the named file, or stdin for "" or "-". On a terminal,
// it first says that it reads stdin: otherwise the command seems to hang.
func (e *env) readInput(name string) ([]byte, error) {
	if name == "" || name == "-" {
		if e.terminal != nil && e.terminal(e.stdin) {
			e.infof("reading standard input (end it with Ctrl-D, or give a file as INPUT)")
		}
		return io.ReadAll(e.stdin)
	}
	return os.ReadFile(name)
}

// codecFailed reports a codec error on stderr, with what to do about it
// where the error says, and returns its exit code.
func (e *env) codecFailed(err error) int {
	e.errorf("%v%s", err, hint(err))
	return exitFor(err)
}

// credentialsHint says where the AWS SDK looks for credentials.
const credentialsHint = "; looked for AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), in the shared files (~/.aws/credentials, ~/.aws/config, or AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE) under the profile of --profile or AWS_PROFILE (else default), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI) and EC2 instance metadata"

// hint returns what to do about a codec error, or "".
func hint(err error) string {
	switch {
	case errors.Is(err, envelope.ErrNoCredentials):
		return credentialsHint
	case errors.Is(err, envelope.ErrKeyNotFound) && isGenerate(err):
		return "; check the key ARN (and its region and account) in the configuration"
	case errors.Is(err, codec.ErrTooLarge):
		return "; raise the limit with --max-size BYTES"
	case errors.Is(err, codec.ErrOutputTooLarge):
		return "; raise the limit with --max-size BYTES (its readers need as much)"
	}
	return ""
}

// exitFor maps a codec error to an exit code.
func exitFor(err error) int {
	var te *codec.TokenError
	switch {
	case errors.Is(err, envelope.ErrNoCredentials),
		errors.Is(err, envelope.ErrKeyNotFound) && isGenerate(err):
		return exitUsage // the caller's configuration
	case errors.As(err, &te) && (errors.Is(err, envelope.ErrUnavailable) || isGenerate(err)):
		return exitFail
	case errors.As(err, &te):
		return exitTokens
	case errors.Is(err, codec.ErrConfig):
		return exitUsage
	}
	return exitFail
}

// exitForAPI maps an error reading through an AWS API (a history, log
// events) to an exit code.
func exitForAPI(err error) int {
	var ae *awsapi.Error
	switch {
	case errors.Is(err, history.ErrBadARN), errors.Is(err, logs.ErrBadARN):
		return exitUsage
	case errors.As(err, &ae):
		return exitAPI
	}
	return exitFail
}

func isGenerate(err error) bool {
	var ke *envelope.KeyError
	return errors.As(err, &ke) && (ke.Op == "generate" || ke.Op == "wrap")
}

// writeOutput writes a document as it is, so that decrypt(encrypt(x)) is x
// byte for byte, and on a terminal a final newline if it lacks one.
func (e *env) writeOutput(b []byte) error {
	if _, err := e.stdout.Write(b); err != nil {
		return err
	}
	if !bytes.HasSuffix(b, []byte("\n")) && e.terminal != nil && e.terminal(e.stdout) {
		_, err := io.WriteString(e.stdout, "\n")
		return err
	}
	return nil
}
