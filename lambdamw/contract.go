package lambdamw

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// A Contract runs invocations by the middleware's contract for a door other
// than lambda.Start: the Lambda Runtime API proxy sfnenc-proxy, which puts
// the contract in front of a handler in any language. It is the same
// middleware as Wrap's, reduced to bytes in and bytes out: the same
// configuration from the environment and options, the same error types,
// sealed or redacted error messages and log records. It takes no
// aws-lambda-go types, so a door needs none.
//
// A Contract is safe for concurrent invocations.
type Contract struct {
	m *middleware
}

// NewContract reads the environment and builds the codec as Wrap does (at
// cold start). A configuration error is logged then, and every invocation
// fails with ErrorTypeConfig. WithHandlerOptions has no effect on it.
func NewContract(opts ...Option) *Contract {
	return &Contract{m: newMiddleware(nil, opts)}
}

// A Failure is a failed invocation as the Lambda Runtime API carries it: an
// errorType and an errorMessage.
type Failure struct {
	Type    string
	Message string
}

// Error returns the type and the message.
func (f *Failure) Error() string { return f.Type + ": " + f.Message }

// Invoke runs one invocation: it decrypts event by contract, passes the
// plaintext to handler, and encrypts what handler returns, which must be a
// JSON document. requestID names the invocation in the log record; ctx's
// deadline is the function's.
//
// A *Failure returned by handler is the handler's own error, as its runtime
// reported it: its Type is kept and its Message sealed or redacted, as for
// a Go handler's error. Any other error is the door's own failure (for
// example a result it cannot take): the invocation fails with
// ErrorTypeEncrypt and the error's text as message, so that text must hold
// no value.
//
// Invoke returns the encrypted result, or the Failure to report instead;
// if the contract fails before the handler runs (ErrorTypeContract,
// ErrorTypeDecrypt, ...), handler is not called.
func (c *Contract) Invoke(ctx context.Context, requestID string, event []byte, handler func(ctx context.Context, event []byte) ([]byte, error)) ([]byte, *Failure) {
	inner := func(ctx context.Context, event []byte) ([]byte, error) {
		out, err := handler(ctx, event)
		if err == nil {
			return out, nil
		}
		if f, ok := errors.AsType[*Failure](err); ok {
			return nil, messages.InvokeResponse_Error{Type: f.Type, Message: f.Message}
		}
		return nil, &doorFailure{err}
	}
	out, err := c.m.run(ctx, requestID, event, inner)
	if err == nil {
		return out, nil
	}
	if ire, ok := errors.AsType[messages.InvokeResponse_Error](err); ok {
		return nil, &Failure{Type: ire.Type, Message: ire.Message}
	}
	// run reports every failure as an InvokeResponse_Error; this is a
	// last guard, and its text is fixed.
	return nil, &Failure{Type: ErrorTypeEncrypt, Message: "lambdamw: the invocation failed"}
}

// doorFailure is an error of a Contract's door, not of the handler.
type doorFailure struct{ err error }

func (d *doorFailure) Error() string { return d.err.Error() }

// Logger returns the logger the contract writes its records to (WithLogger,
// or JSON on standard error at the level of SFNENC_LOG_LEVEL), for the
// door's own records.
func (c *Contract) Logger() *slog.Logger { return c.m.logger }
