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
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: sfn-decrypt COMMAND [FLAGS] [ARGS]

Encrypts and decrypts sfnenc tokens in JSON and in AWS Step Functions
execution histories and CloudWatch Logs, under your own AWS credentials and
KMS permissions. Region, profile, credentials and endpoints come from the
standard AWS configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_KMS,
AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, ...).

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
     (logs): no such execution or log group, access denied, throttled past
     the retries, invalid or truncated response
  5  check found at least one error in the state machine
`)
}

func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "sfn-decrypt: error: "+format+"\n", args...)
}

func (e *env) infof(format string, args ...any) {
	fmt.Fprintf(e.stderr, "sfn-decrypt: "+format+"\n", args...)
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
	classes multiFlag
}

func (c *commonFlags) register(fs *flag.FlagSet, withClass bool) {
	fs.StringVar(&c.config, "config", "", "configuration `FILE` (JSON); required")
	fs.StringVar(&c.profile, "profile", "", "AWS shared configuration `PROFILE` (default: AWS_PROFILE or default)")
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
	timeline *eventdata.Timeline // nil for JSON
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
		o.timeline = eventdata.NewTimeline(o.out)
	}
	return o, 0
}

// newFlagSet returns a flag set whose messages are held until parsing ends:
// see parseFlags.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sfn-decrypt %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
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

// parseFlags parses and reports the exit code to use if parsing ended the
// command (help or a usage error).
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
	cfg, err := codec.LoadConfig(c.config)
	if err != nil {
		e.errorf("%v", err)
		return nil, exitUsage
	}
	opts := []codec.Option{}
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

// readInput reads the named file, or stdin for "" or "-".
func (e *env) readInput(name string) ([]byte, error) {
	if name == "" || name == "-" {
		return io.ReadAll(e.stdin)
	}
	return os.ReadFile(name)
}

// exitFor maps a codec error to an exit code.
func exitFor(err error) int {
	var te *codec.TokenError
	switch {
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

// writeOutput writes a document and a final newline if it lacks one.
func (e *env) writeOutput(b []byte) error {
	if _, err := e.stdout.Write(b); err != nil {
		return err
	}
	if !bytes.HasSuffix(b, []byte("\n")) {
		_, err := io.WriteString(e.stdout, "\n")
		return err
	}
	return nil
}
