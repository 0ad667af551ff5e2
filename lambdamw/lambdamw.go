package lambdamw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sfnenc/sfnenc/codec"
)

// innerFunc is a handler reduced to bytes in, bytes out.
type innerFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Wrap returns a lambda.Handler that decrypts the event, decodes it as TIn,
// calls h, encodes its result as JSON and encrypts it (see the package
// documentation). Events are decoded and results encoded by
// lambda.NewHandler, as lambda.Start does (WithHandlerOptions passes it
// options). Pass the result to lambda.Start:
//
//	lambda.Start(lambdamw.Wrap(handler))
//
// Wrap reads the environment and builds the codec once, when it is called;
// a configuration error is logged then, and every invocation fails with
// ErrorTypeConfig.
func Wrap[TIn, TOut any](h func(context.Context, TIn) (TOut, error), opts ...Option) lambda.Handler {
	if h == nil {
		return newMiddleware(nil, append(opts, fail(errors.New("nil handler"))))
	}
	return WrapFunc(h, opts...)
}

// WrapFunc is Wrap for a handler of any signature that lambda.Start accepts:
// it takes no arguments, a context.Context, an event, or both, and returns
// nothing, an error, or a value and an error. A handler that returns no value
// returns the JSON null. A lambda.Handler is wrapped as by WrapHandler. An
// invalid signature fails every invocation with ErrorTypeConfig.
func WrapFunc(handler any, opts ...Option) lambda.Handler {
	if lh, ok := handler.(lambda.Handler); ok {
		return WrapHandler(lh, opts...)
	}
	if err := checkSignature(handler); err != nil {
		return newMiddleware(nil, append(opts, fail(err)))
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	inner := lambda.NewHandlerWithOptions(handler, o.handlerOpts...)
	return newMiddleware(func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := inner.Invoke(ctx, payload)
		if err != nil {
			return nil, err
		}
		// The bytes may belong to a buffer that lambda.NewHandler pools
		// and reuses: keep a copy of our own.
		return bytes.Clone(out), nil
	}, opts)
}

// WrapHandler returns a lambda.Handler that decrypts the event, passes it to
// h as bytes, and encrypts the bytes h returns, which must be a JSON
// document.
func WrapHandler(h lambda.Handler, opts ...Option) lambda.Handler {
	if h == nil {
		return newMiddleware(nil, append(opts, fail(errors.New("nil handler"))))
	}
	return newMiddleware(h.Invoke, opts)
}

func fail(err error) Option {
	return func(o *options) { o.errs = append(o.errs, err) }
}

// middleware is the lambda.Handler that Wrap returns. It is safe for
// concurrent invocations.
type middleware struct {
	inner      innerFunc
	codec      *codec.Codec
	errorClass string
	margin     time.Duration
	logger     *slog.Logger
	initErr    error // reported as ErrorTypeConfig by every invocation
	scopeOpts  []codec.ScopeOption
}

func newMiddleware(inner innerFunc, opts []Option) *middleware {
	start := time.Now()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := &middleware{inner: inner, logger: o.logger, margin: DefaultDeadlineMargin}
	level, levelErr := logLevel()
	if m.logger == nil {
		m.logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		if levelErr != nil {
			m.logger.LogAttrs(context.Background(), slog.LevelWarn, "lambdamw: "+levelErr.Error())
		}
	}
	attrs, err := m.setup(&o)
	if err != nil {
		m.initErr = err
		m.logger.LogAttrs(context.Background(), slog.LevelError, "lambdamw: not configured; every invocation fails",
			slog.String("errorType", ErrorTypeConfig), errAttr(err))
		return m
	}
	attrs = append(attrs, msAttr("setupMs", time.Since(start)))
	m.logger.LogAttrs(context.Background(), slog.LevelInfo, "lambdamw: ready", attrs...)
	return m
}

// setup builds the codec from the options and the environment, and returns
// what the start-up log record says about it.
func (m *middleware) setup(o *options) ([]slog.Attr, error) {
	if err := errors.Join(o.errs...); err != nil {
		return nil, fmt.Errorf("lambdamw: %w", err)
	}
	if o.setMargin {
		m.margin = o.margin
	}
	accept, err := acceptPlaintext(o)
	if err != nil {
		return nil, fmt.Errorf("lambdamw: %w", err)
	}
	if accept {
		m.scopeOpts = append(m.scopeOpts, codec.AcceptPlaintext())
	}
	m.errorClass = os.Getenv(EnvErrorClass)
	if o.setErrorClass {
		m.errorClass = o.errorClass
	}
	var envClasses []string
	envSet := false
	if v, ok := os.LookupEnv(EnvClasses); ok {
		// Set but empty is a mistake, not "all classes": need to know
		// fails closed.
		c, err := parseClasses(EnvClasses, "decrypt", v)
		if err != nil {
			return nil, fmt.Errorf("lambdamw: %w", err)
		}
		envClasses, envSet = c, true
	}
	// Set but empty fails closed too; unset writes every class.
	var writes []string
	writesSet := false
	if v, ok := os.LookupEnv(EnvWrites); ok {
		c, err := parseClasses(EnvWrites, "write", v)
		if err != nil {
			return nil, fmt.Errorf("lambdamw: %w", err)
		}
		writes, writesSet = c, true
		if m.errorClass != "" && !slices.Contains(writes, m.errorClass) {
			return nil, fmt.Errorf("lambdamw: error class %q is not in %s: the function seals its error messages as that class", m.errorClass, EnvWrites)
		}
		m.scopeOpts = append(m.scopeOpts, codec.WritesOnly(writes...))
	}

	var attrs []slog.Attr
	if o.codec != nil {
		if envSet {
			return nil, fmt.Errorf("lambdamw: %s cannot apply to a codec given with WithCodec; build the codec with codec.WithClasses", EnvClasses)
		}
		m.codec = o.codec
		attrs = append(attrs, slog.String("config", "WithCodec"))
		if accept {
			attrs = append(attrs, slog.Bool("acceptPlaintext", true))
		}
		if writesSet {
			attrs = append(attrs, slog.Any("writeClasses", writes))
		}
		if m.errorClass != "" {
			attrs = append(attrs, slog.String("errorClass", m.errorClass))
		}
		return attrs, nil
	}

	cfg, source, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if m.errorClass != "" && !slices.Contains(cfg.Classes(), m.errorClass) {
		return nil, fmt.Errorf("lambdamw: error class %q is not a class of the configuration", m.errorClass)
	}
	var copts []codec.Option
	if envSet {
		for _, c := range envClasses {
			if !slices.Contains(cfg.Classes(), c) {
				return nil, fmt.Errorf("lambdamw: %s names %q, which is not a class of the configuration", EnvClasses, c)
			}
		}
		copts = append(copts, codec.WithClasses(envClasses...))
	}
	for _, c := range writes {
		if !slices.Contains(cfg.Classes(), c) {
			return nil, fmt.Errorf("lambdamw: %s names %q, which is not a class of the configuration", EnvWrites, c)
		}
	}
	c, err := codec.New(context.Background(), cfg, copts...)
	if err != nil {
		return nil, fmt.Errorf("lambdamw: %w", err)
	}
	m.codec = c
	attrs = append(attrs, slog.String("config", source), slog.Any("ruleClasses", cfg.Classes()))
	if envSet {
		attrs = append(attrs, slog.Any("decryptClasses", envClasses))
	} else {
		attrs = append(attrs, slog.String("decryptClasses", "all"))
	}
	if m.errorClass != "" {
		attrs = append(attrs, slog.String("errorClass", m.errorClass))
	} else {
		attrs = append(attrs, slog.String("errorClass", "(redacted)"))
	}
	if writesSet {
		attrs = append(attrs, slog.Any("writeClasses", writes))
	} else {
		attrs = append(attrs, slog.String("writeClasses", "all"))
	}
	if accept {
		attrs = append(attrs, slog.Bool("acceptPlaintext", true))
	}
	return attrs, nil
}

// loadConfig reads the configuration from the environment. It returns where
// it came from, for the log.
func loadConfig() (*codec.Config, string, error) {
	file, inline := os.Getenv(EnvConfigFile), os.Getenv(EnvConfig)
	switch {
	case file != "" && inline != "":
		return nil, "", fmt.Errorf("lambdamw: set one of %s and %s, not both", EnvConfigFile, EnvConfig)
	case file != "":
		cfg, err := codec.LoadConfig(file)
		if err != nil {
			return nil, "", fmt.Errorf("lambdamw: %s: %w", EnvConfigFile, err)
		}
		return cfg, EnvConfigFile + " " + file, nil
	case inline != "":
		cfg, err := codec.ParseConfig([]byte(inline))
		if err != nil {
			return nil, "", fmt.Errorf("lambdamw: %s: %w", EnvConfig, err)
		}
		return cfg, EnvConfig, nil
	}
	return nil, "", fmt.Errorf("lambdamw: no configuration: set %s or %s, or pass a codec with WithCodec",
		EnvConfigFile, EnvConfig)
}

// Invoke implements lambda.Handler.
func (m *middleware) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var requestID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	return m.run(ctx, requestID, payload, m.inner)
}

// run is one invocation of inner by the contract, with its log record: the
// one implementation behind both doors, lambda.Start's (Invoke) and the
// Runtime API proxy's (Contract.Invoke).
func (m *middleware) run(ctx context.Context, requestID string, payload []byte, inner innerFunc) ([]byte, error) {
	rec := invocation{start: time.Now(), eventBytes: len(payload), requestID: requestID}
	if m.initErr != nil {
		rec.fail(failure(ErrorTypeConfig, "%v", m.initErr))
		m.log(ctx, &rec)
		return nil, rec.err
	}
	out, err := m.invoke(ctx, payload, &rec, inner)
	m.log(ctx, &rec)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *middleware) invoke(ctx context.Context, payload []byte, rec *invocation, inner innerFunc) ([]byte, error) {
	// KMS calls, and the SDK's retries of them, end a margin before the
	// function's deadline, so that a failure can still be reported.
	kctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		kctx, cancel = context.WithDeadline(ctx, dl.Add(-m.margin))
		defer cancel()
	}
	// The codec reports what it did; the log record is made from that,
	// never from the payload. It counts, so it needs no pointers.
	rec.decrypted.CountsOnly, rec.encrypted.CountsOnly = true, true
	scope := m.codec.NewScope(m.scopeOpts...)

	t := time.Now()
	plain, err := scope.Decrypt(codec.WithReport(kctx, &rec.decrypted), payload)
	rec.decryptDur = time.Since(t)
	if err != nil {
		return nil, rec.fail(codecFailure(ErrorTypeDecrypt, "decrypt event", err))
	}

	t = time.Now()
	result, p, herr := call(ctx, inner, plain)
	rec.handlerDur = time.Since(t)
	var door *doorFailure
	switch {
	case errors.As(herr, &door):
		return nil, rec.fail(failure(ErrorTypeEncrypt, "%v", door.err))
	case p != nil:
		ire, sealed := m.panicFailure(kctx, p.v, p.stack)
		rec.handlerFailed("panic", ire, sealed)
		return nil, ire
	case herr != nil:
		ire, sealed := m.handlerFailure(kctx, herr)
		rec.handlerFailed("handler error", ire, sealed)
		return nil, ire
	}

	t = time.Now()
	out, err := scope.Encrypt(codec.WithReport(kctx, &rec.encrypted), result)
	rec.encryptDur = time.Since(t)
	if err != nil {
		return nil, rec.fail(codecFailure(ErrorTypeEncrypt, "encrypt result", err))
	}
	rec.resultBytes = len(out)
	if len(out) > codec.MaxPayloadSize {
		return nil, rec.fail(failure(ErrorTypeResultTooLarge,
			"lambdamw: result is %d bytes after encryption, over the Step Functions limit of %d bytes", len(out), codec.MaxPayloadSize))
	}
	rec.outcome = "ok"
	return out, nil
}

// recovered is a panic of the handler.
type recovered struct {
	v     any
	stack []*messages.InvokeResponse_Error_StackFrame
}

// call runs the handler, recovering a panic.
func call(ctx context.Context, inner innerFunc, event []byte) (result []byte, p *recovered, err error) {
	done := false
	defer func() {
		if !done {
			p = &recovered{v: recover(), stack: stackTrace()}
		}
	}()
	result, err = inner(ctx, event)
	done = true
	return result, nil, err
}

var (
	ctxType = reflect.TypeFor[context.Context]()
	errType = reflect.TypeFor[error]()
)

// checkSignature applies lambda.Start's rules for a handler function, so
// that a wrong one is a configuration error the middleware reports at once
// (lambda.NewHandler would only fail each invocation with a plain error).
func checkSignature(h any) error {
	if h == nil {
		return errors.New("nil handler")
	}
	t := reflect.TypeOf(h)
	if t.Kind() != reflect.Func {
		return fmt.Errorf("handler is a %s, not a function", t.Kind())
	}
	isCtx := func(a reflect.Type) bool {
		return a.Kind() == reflect.Interface && ctxType.Implements(a) && a.Implements(ctxType)
	}
	switch t.NumIn() {
	case 0:
	case 1:
		if a := t.In(0); a.Kind() == reflect.Interface && a.NumMethod() > 0 && !isCtx(a) {
			return fmt.Errorf("handler takes an interface that is not context.Context: %s", a)
		}
	case 2:
		if !isCtx(t.In(0)) {
			return fmt.Errorf("handler takes two arguments, but the first is not context.Context: %s", t.In(0))
		}
	default:
		return fmt.Errorf("handler takes %d arguments, at most 2 allowed", t.NumIn())
	}
	switch n := t.NumOut(); {
	case n > 2:
		return fmt.Errorf("handler returns %d values, at most 2 allowed", n)
	case n == 2 && !t.Out(1).Implements(errType):
		return errors.New("handler returns two values, but the second is not an error")
	case n == 1 && !t.Out(0).Implements(errType):
		return errors.New("handler returns one value, but it is not an error")
	}
	return nil
}
