package lambdamw

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/codec"
)

// Environment variables read when Wrap, WrapFunc or WrapHandler runs. The
// package documentation describes each.
const (
	EnvConfigFile = "SFNENC_CONFIG_FILE"
	EnvConfig     = "SFNENC_CONFIG"
	EnvClasses    = "SFNENC_CLASSES"
	// EnvWrites names the classes the function may write (comma
	// separated, "-" for none; unset: every class). A result that would
	// need a new token of another class fails with
	// ErrorTypeEncrypt, naming the class, before any KMS call.
	EnvWrites     = "SFNENC_WRITES"
	EnvErrorClass = "SFNENC_ERROR_CLASS"
	EnvLogLevel   = "SFNENC_LOG_LEVEL"
	// EnvAcceptPlaintext, if "true", accepts plaintext where a rule
	// selects a value (see WithAcceptPlaintext).
	EnvAcceptPlaintext = "SFNENC_ACCEPT_PLAINTEXT"
)

// DefaultDeadlineMargin is how long before the function's deadline KMS
// calls are abandoned, unless WithDeadlineMargin says otherwise.
const DefaultDeadlineMargin = 250 * time.Millisecond

// Option configures the middleware. Options in code win over the
// environment.
type Option func(*options)

type options struct {
	codec         *codec.Codec
	errorClass    string
	setErrorClass bool // WithErrorClass or WithRedactedErrors
	logger        *slog.Logger
	margin        time.Duration
	setMargin     bool
	acceptPlain   bool
	handlerOpts   []lambda.Option
	errs          []error
}

// WithCodec uses c, built by the caller, instead of building a codec from
// the configuration in the environment (SFNENC_CONFIG_FILE or
// SFNENC_CONFIG): for a configuration made in code, custom KMS clients or
// cache limits. Need to know is then c's business (codec.WithClasses):
// SFNENC_CLASSES cannot apply to it, and the middleware refuses to start if
// it is set rather than decrypt more than it allows.
func WithCodec(c *codec.Codec) Option {
	return func(o *options) {
		if c == nil {
			o.errs = append(o.errs, errors.New("WithCodec: nil codec"))
		}
		o.codec = c
	}
}

// WithErrorClass encrypts the message of a handler's error (and of a panic)
// as a token of class, which must be a class of the configuration: the
// middleware refuses to start otherwise. With WithCodec the class can only
// be checked when the first error is encrypted; an unknown class then gives
// RedactedMessage and an error log record.
func WithErrorClass(class string) Option {
	return func(o *options) { o.errorClass, o.setErrorClass = class, true }
}

// WithRedactedErrors replaces the message of a handler's error (and of a
// panic) with RedactedMessage, even if SFNENC_ERROR_CLASS is set. This is
// the default when neither is set.
func WithRedactedErrors() Option {
	return func(o *options) { o.errorClass, o.setErrorClass = "", true }
}

// WithLogger sends the middleware's log records to l instead of to a JSON
// handler on standard error at the level of SFNENC_LOG_LEVEL.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithDeadlineMargin sets how long before the function's deadline the
// middleware abandons KMS calls (and their retries), so that it still has
// time to report the failure. The default is DefaultDeadlineMargin.
func WithDeadlineMargin(d time.Duration) Option {
	return func(o *options) {
		if d < 0 {
			o.errs = append(o.errs, fmt.Errorf("WithDeadlineMargin: negative margin %v", d))
		}
		o.margin, o.setMargin = d, true
	}
}

// WithHandlerOptions passes options to lambda.NewHandlerWithOptions, which
// decodes events and encodes results for Wrap and WrapFunc (for example
// lambda.WithUseNumber, or lambda.WithEnableSIGTERM). WrapHandler's handler
// does its own.
func WithHandlerOptions(opts ...lambda.Option) Option {
	return func(o *options) { o.handlerOpts = append(o.handlerOpts, opts...) }
}

// WithAcceptPlaintext lets the event hold plaintext where a rule selects a
// value (by default that fails the invocation with ErrorTypeContract before
// the handler runs). A token of another class there still fails. It is for
// the first function of a workflow whose input comes from a caller that
// does not encrypt (StartExecution without sfnclient): the values are
// encrypted on the way out, and guarded like decrypted values. It is safe
// only where no token should be expected at those paths; anywhere else it
// lets a payload editor replace a token with a value of their choosing.
// SFNENC_ACCEPT_PLAINTEXT=true does the same.
func WithAcceptPlaintext() Option {
	return func(o *options) { o.acceptPlain = true }
}

// acceptPlaintext reads WithAcceptPlaintext and SFNENC_ACCEPT_PLAINTEXT.
func acceptPlaintext(o *options) (bool, error) {
	if o.acceptPlain {
		return true, nil
	}
	switch v := os.Getenv(EnvAcceptPlaintext); strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, fmt.Errorf("%s: %q is neither true nor false", EnvAcceptPlaintext, v)
	}
}

// parseClasses reads the value of SFNENC_CLASSES or SFNENC_WRITES
// (name); what says what the classes are for ("decrypt").
func parseClasses(name, what, v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, fmt.Errorf("%s is set but empty: name the classes this function may %s (comma-separated), or \"-\" for none", name, what)
	}
	if v == "-" {
		return []string{}, nil
	}
	var out []string
	for c := range strings.SplitSeq(v, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, fmt.Errorf("%s: empty class name in %q", name, v)
		}
		out = append(out, c)
	}
	return out, nil
}

// logLevel reads SFNENC_LOG_LEVEL, or else AWS_LAMBDA_LOG_LEVEL.
func logLevel() (slog.Level, error) {
	v := os.Getenv(EnvLogLevel)
	name := EnvLogLevel
	if v == "" {
		v, name = os.Getenv("AWS_LAMBDA_LOG_LEVEL"), "AWS_LAMBDA_LOG_LEVEL"
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "trace", "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("%s: unknown log level %q (want debug, info, warn or error)", name, v)
}
