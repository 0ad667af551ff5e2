package lambdamw

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sfnenc/sfnenc/codec"
)

// Error type names of the middleware's own failures, as the Lambda runtime
// reports them in errorType and Step Functions in the Error of a failed task.
// They are public API: Retry and Catch match ErrorEquals against them
// exactly (no prefix or pattern matching).
const (
	// ErrorTypeConfig: the middleware has no usable configuration (none
	// given, unreadable, invalid, or options that contradict each other),
	// or no AWS credentials to call KMS with, so it cannot decrypt or
	// encrypt. Retrying does not help.
	ErrorTypeConfig = "sfnenc.ConfigError"
	// ErrorTypeDecrypt: the event is not a JSON document, or holds a
	// token that cannot be decrypted: malformed, altered, made under
	// another encryption context, or wrapped by no key this function may
	// use (KMS refused it: access denied, disabled key, wrong key).
	ErrorTypeDecrypt = "sfnenc.DecryptError"
	// ErrorTypeContract: the event breaks the rules' contract: where a
	// rule selects a value there is plaintext or a token of another
	// class, or a member's name differs from a selected name only in
	// case. The handler did not run. Catch it to route payloads that
	// were tampered with or that skipped encryption.
	ErrorTypeContract = "sfnenc.ContractError"
	// ErrorTypeEncrypt: the handler's result cannot be encrypted (it is
	// not a JSON document the codec accepts, or KMS refused to make a data
	// key). Nothing of the result is returned.
	ErrorTypeEncrypt = "sfnenc.EncryptError"
	// ErrorTypeKeyUnavailable: KMS could not be reached, throttled the
	// requests past the retries, or did not answer before the deadline
	// margin, while decrypting the event or encrypting the result. A
	// Retry with backoff may help.
	ErrorTypeKeyUnavailable = "sfnenc.KeyServiceUnavailable"
	// ErrorTypeResultTooLarge: the encrypted result is longer than
	// codec.MaxPayloadSize bytes, which Step Functions would refuse with
	// States.DataLimitExceeded.
	ErrorTypeResultTooLarge = "sfnenc.ResultTooLarge"
)

// RedactedMessage replaces the message of a handler's error or panic when no
// error class is configured, or when the message could not be encrypted.
const RedactedMessage = "lambdamw: error message redacted"

// failure is a middleware failure, reported with one of the ErrorType
// names. Its message names paths, classes, key ARNs and sizes only.
func failure(typ string, format string, args ...any) messages.InvokeResponse_Error {
	return messages.InvokeResponse_Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// codecFailure reports a codec error of the given direction ("decrypt
// event" or "encrypt result"), with the error type its cause deserves.
func codecFailure(typ, what string, err error) messages.InvokeResponse_Error {
	switch {
	case errors.Is(err, codec.ErrNoCredentials):
		typ = ErrorTypeConfig // the function's role or environment, not KMS
	case unavailable(err):
		typ = ErrorTypeKeyUnavailable
	case typ == ErrorTypeDecrypt && errors.Is(err, codec.ErrContract):
		typ = ErrorTypeContract
	}
	return failure(typ, "lambdamw: %s: %v", what, err)
}

func unavailable(err error) bool {
	return errors.Is(err, codec.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// typeName returns the error type name the Lambda runtime reports for a
// value returned as an error or passed to panic: the name of its type, or of
// the type it points to.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// unwrapStd returns the outermost error in err's chain that is not a
// wrapper of the standard library (fmt.Errorf with %w, errors.Join): the
// error type a Catch rule names. A join is followed into its first error.
func unwrapStd(err error) error {
	for range 64 {
		t := reflect.TypeOf(err)
		if t == nil {
			return err
		}
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		std := (t.PkgPath() == "fmt" && (t.Name() == "wrapError" || t.Name() == "wrapErrors")) ||
			(t.PkgPath() == "errors" && t.Name() == "joinError")
		if !std {
			return err
		}
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if e != nil {
					next = e
					break
				}
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
	return err
}

// handlerFailure turns a handler's error into the error the runtime reports:
// the type name the runtime would report for err itself, and the message
// encrypted or redacted.
func (m *middleware) handlerFailure(ctx context.Context, err error) (messages.InvokeResponse_Error, bool) {
	var out messages.InvokeResponse_Error
	if ire, ok := err.(messages.InvokeResponse_Error); ok {
		out = ire
	} else {
		out = messages.InvokeResponse_Error{Type: typeName(unwrapStd(err)), Message: err.Error()}
	}
	var sealed bool
	out.Message, sealed = m.sealMessage(ctx, out.Message)
	return out, sealed
}

// panicFailure turns a recovered panic value into the error the runtime
// reports, as handlerFailure does for errors, with a stack trace of code
// locations only. The process should exit afterwards, as it would without
// the middleware.
func (m *middleware) panicFailure(ctx context.Context, v any, stack []*messages.InvokeResponse_Error_StackFrame) (messages.InvokeResponse_Error, bool) {
	out := messages.InvokeResponse_Error{Type: typeName(v), Message: fmt.Sprintf("%v", v), StackTrace: stack}
	if ire, ok := v.(messages.InvokeResponse_Error); ok {
		out = ire
		if out.StackTrace == nil {
			out.StackTrace = stack
		}
	}
	out.ShouldExit = true
	var sealed bool
	out.Message, sealed = m.sealMessage(ctx, out.Message)
	return out, sealed
}

// sealMessage returns a token of the error class holding msg as a JSON
// string, or RedactedMessage if there is no error class or encryption
// fails. It reports whether the message was encrypted.
func (m *middleware) sealMessage(ctx context.Context, msg string) (string, bool) {
	if m.errorClass == "" {
		return RedactedMessage, false
	}
	tok, err := m.codec.EncryptString(ctx, m.errorClass, msg)
	if err != nil {
		m.logger.LogAttrs(ctx, levelError, "lambdamw: error message not encrypted; redacted instead",
			errAttr(err))
		return RedactedMessage, false
	}
	return tok, true
}

// stackTrace records the stack of the goroutine that panicked, from inside
// the deferred function that recovered, as file, line and function names.
func stackTrace() []*messages.InvokeResponse_Error_StackFrame {
	pcs := make([]uintptr, 32)
	// Skip runtime.Callers, stackTrace and the deferred function.
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var out []*messages.InvokeResponse_Error_StackFrame
	for {
		f, more := frames.Next()
		out = append(out, &messages.InvokeResponse_Error_StackFrame{Path: f.File, Line: int32(f.Line), Label: f.Function})
		if !more {
			break
		}
	}
	return out
}
