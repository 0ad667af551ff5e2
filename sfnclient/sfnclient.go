// Package sfnclient adds sfnenc encryption to the AWS SDK for Go v2 Step
// Functions client, so that a backend service that starts executions or
// completes tasks sends Step Functions ciphertext for the selected fields,
// as the Lambda middleware (package lambdamw) does for functions.
//
// WithEncryption is the one entry point: an option for sfn.New or
// sfn.NewFromConfig that adds a middleware to every operation of the client:
//
//	client := sfn.NewFromConfig(awsCfg, sfnclient.WithEncryption(c))
//
// The middleware encrypts, by the codec's rules, the input of StartExecution
// and StartSyncExecution and the output of SendTaskSuccess before they are
// sent; values that already are tokens are left as they are. With
// WithDecryption it also decrypts the input and output of DescribeExecution
// and StartSyncExecution and the input of GetActivityTask in the responses,
// for callers that hold the rights; a codec built with codec.WithClasses
// decrypts only those classes and leaves the other tokens as they are. With
// WithCauseClass it encrypts the cause of SendTaskFailure and StopExecution.
//
// The caller's input structs are never changed: the middleware encrypts into
// a copy. If encryption fails, the operation fails before anything is sent,
// with an error that wraps the codec's (errors.Is works with the codec and
// envelope sentinels), and never holds a value. An encrypted payload over
// MaxPayloadSize bytes fails with ErrTooLarge instead of being sent. KMS
// calls run under the operation's context.
package sfnclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/sfnenc/sfnenc/codec"
)

// MaxPayloadSize is the Step Functions limit on an execution input, a task
// output or a cause, in bytes.
const MaxPayloadSize = codec.MaxPayloadSize

// ErrTooLarge is returned (wrapped) for a payload over MaxPayloadSize bytes
// after encryption.
var ErrTooLarge = errors.New("sfnclient: payload over the Step Functions limit after encryption")

// middlewareID names the middleware in the client's stack.
const middlewareID = "sfnenc.Encryption"

// Option configures WithEncryption.
type Option func(*options)

type options struct {
	decrypt    bool
	causeClass string
}

// WithDecryption makes the client decrypt the input and output of
// DescribeExecution and StartSyncExecution responses, and the input of
// GetActivityTask responses. A token the codec cannot decrypt fails the
// operation; build the codec with codec.WithClasses to decrypt some classes
// and leave the others as tokens.
func WithDecryption() Option {
	return func(o *options) { o.decrypt = true }
}

// WithCauseClass makes the client encrypt the cause of SendTaskFailure and
// StopExecution as one token of class (which must be a class of the codec's
// configuration), since Step Functions records it in the execution history.
// The token holds the cause as a JSON string.
func WithCauseClass(class string) Option {
	return func(o *options) { o.causeClass = class }
}

// WithEncryption returns an option for the Step Functions client that
// encrypts and decrypts payloads with c (see the package documentation).
func WithEncryption(c *codec.Codec, opts ...Option) func(*sfn.Options) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := &mw{codec: c, opts: o}
	return func(so *sfn.Options) {
		so.APIOptions = append(so.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc(middlewareID, m.handle), middleware.After)
		})
	}
}

type mw struct {
	codec *codec.Codec
	opts  options
}

// handle encrypts the parameters of the operations that send payloads, and
// decrypts the results of those that return them. It runs in the
// Initialize step, once per operation call (not per retry).
func (m *mw) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	if m.codec == nil {
		return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("sfnclient: WithEncryption: nil codec")
	}
	params, err := m.encryptParams(ctx, in.Parameters)
	if err != nil {
		return middleware.InitializeOutput{}, middleware.Metadata{}, err
	}
	in.Parameters = params
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil || !m.opts.decrypt {
		return out, md, err
	}
	if err := m.decryptResult(ctx, out.Result); err != nil {
		return middleware.InitializeOutput{}, md, err
	}
	return out, md, nil
}

func (m *mw) encryptParams(ctx context.Context, p any) (any, error) {
	switch p := p.(type) {
	case *sfn.StartExecutionInput:
		cp := *p
		if err := m.encryptDoc(ctx, "StartExecution", "input", &cp.Input); err != nil {
			return nil, err
		}
		return &cp, nil
	case *sfn.StartSyncExecutionInput:
		cp := *p
		if err := m.encryptDoc(ctx, "StartSyncExecution", "input", &cp.Input); err != nil {
			return nil, err
		}
		return &cp, nil
	case *sfn.SendTaskSuccessInput:
		cp := *p
		if err := m.encryptDoc(ctx, "SendTaskSuccess", "output", &cp.Output); err != nil {
			return nil, err
		}
		return &cp, nil
	case *sfn.SendTaskFailureInput:
		cp := *p
		if err := m.encryptCause(ctx, "SendTaskFailure", &cp.Cause); err != nil {
			return nil, err
		}
		return &cp, nil
	case *sfn.StopExecutionInput:
		cp := *p
		if err := m.encryptCause(ctx, "StopExecution", &cp.Cause); err != nil {
			return nil, err
		}
		return &cp, nil
	}
	return p, nil
}

// encryptDoc replaces *doc with its encryption. An absent or empty payload
// holds nothing to encrypt.
func (m *mw) encryptDoc(ctx context.Context, op, field string, doc **string) error {
	if *doc == nil || **doc == "" {
		return nil
	}
	enc, err := m.codec.Encrypt(ctx, []byte(**doc))
	if err != nil {
		return fmt.Errorf("sfnclient: %s: encrypt %s: %w", op, field, err)
	}
	if len(enc) > MaxPayloadSize {
		return fmt.Errorf("sfnclient: %s: %s is %d bytes after encryption, limit %d: %w", op, field, len(enc), MaxPayloadSize, ErrTooLarge)
	}
	*doc = aws.String(string(enc))
	return nil
}

func (m *mw) encryptCause(ctx context.Context, op string, cause **string) error {
	if m.opts.causeClass == "" || *cause == nil || **cause == "" {
		return nil
	}
	tok, err := m.codec.EncryptString(ctx, m.opts.causeClass, **cause)
	if err != nil {
		return fmt.Errorf("sfnclient: %s: encrypt cause: %w", op, err)
	}
	if len(tok) > MaxPayloadSize {
		return fmt.Errorf("sfnclient: %s: cause is %d bytes after encryption, limit %d: %w", op, len(tok), MaxPayloadSize, ErrTooLarge)
	}
	*cause = aws.String(tok)
	return nil
}

func (m *mw) decryptResult(ctx context.Context, r any) error {
	switch r := r.(type) {
	case *sfn.DescribeExecutionOutput:
		return m.decryptDocs(ctx, "DescribeExecution", &r.Input, &r.Output)
	case *sfn.StartSyncExecutionOutput:
		return m.decryptDocs(ctx, "StartSyncExecution", &r.Input, &r.Output)
	case *sfn.GetActivityTaskOutput:
		return m.decryptDocs(ctx, "GetActivityTask", &r.Input, nil)
	}
	return nil
}

// decryptDocs decrypts the input and output of a response in place. Both
// are decrypted before either is replaced, so that a failure leaves the
// response as it was.
func (m *mw) decryptDocs(ctx context.Context, op string, input, output **string) error {
	dec := func(field string, doc **string) (*string, error) {
		if doc == nil || *doc == nil || **doc == "" {
			return nil, nil
		}
		out, err := m.codec.Decrypt(ctx, []byte(**doc))
		if err != nil {
			return nil, fmt.Errorf("sfnclient: %s: decrypt %s: %w", op, field, err)
		}
		return aws.String(string(out)), nil
	}
	in, err := dec("input", input)
	if err != nil {
		return err
	}
	out, err := dec("output", output)
	if err != nil {
		return err
	}
	if in != nil {
		*input = in
	}
	if out != nil {
		*output = out
	}
	return nil
}
