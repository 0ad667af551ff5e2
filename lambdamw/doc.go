// Package lambdamw wraps an AWS Lambda handler written with
// github.com/aws/aws-lambda-go so that AWS Step Functions only ever passes
// ciphertext for the selected fields of its payloads, while the handler works
// on plaintext.
//
// For each invocation the middleware decrypts the event by contract
// (codec.Scope): only the tokens at paths that a rule of their class
// selects, of the classes the function needs to know; where a rule selects
// a value, the event must hold a token of that rule's class (or null, or
// nothing), else the invocation fails with ErrorTypeContract before the
// handler runs. It then calls the handler, encrypts its result by the rules
// and seals again any value it decrypted that the result holds elsewhere.
// Other tokens reach the handler as they are, and come back byte for byte
// if the handler returns them. The change to a handler is two lines:
//
//	import "github.com/sfnenc/sfnenc/lambdamw"
//
//	lambda.Start(lambdamw.Wrap(handler))
//
// Wrap takes the typed signature func(context.Context, TIn) (TOut, error);
// WrapFunc takes any other signature that lambda.Start accepts; WrapHandler
// wraps a lambda.Handler that works on raw bytes.
//
// NewContract is the same middleware for a door other than lambda.Start:
// cmd/sfnenc-proxy, which serves the Lambda Runtime API to a handler in any
// runtime, calls Contract.Invoke with the event's bytes and gets the
// result's bytes or a Failure (errorType and errorMessage), and so imports
// no aws-lambda-go package. There is one implementation of the contract,
// behind both doors.
//
// # Configuration
//
// The middleware is configured once per execution environment, when Wrap
// runs (at cold start): it reads the configuration, builds the codec with its
// KMS clients and key caches, and reuses them for every invocation. The
// configuration comes from the environment, or from a codec built in code
// and given with WithCodec; the other options given in code win over the
// environment. The environment variables are:
//
//	SFNENC_CONFIG_FILE  path of the configuration file (JSON, as read by
//	                    codec.LoadConfig); relative to the working
//	                    directory, which is the function's code directory
//	SFNENC_CONFIG       the configuration itself, inline JSON; set at most
//	                    one of SFNENC_CONFIG_FILE and SFNENC_CONFIG
//	SFNENC_CLASSES      comma-separated classes this function may decrypt;
//	                    "-" for none; unset: every class of the
//	                    configuration. Set but empty, or naming a class the
//	                    configuration lacks, is a configuration error.
//	                    It cannot apply to a codec given with WithCodec.
//	SFNENC_WRITES       comma-separated classes this function may write;
//	                    "-" for none; unset: every class. A result that
//	                    needs a new token of another class fails with
//	                    ErrorTypeEncrypt before any KMS call. It must hold
//	                    SFNENC_ERROR_CLASS.
//	SFNENC_ACCEPT_PLAINTEXT  "true": accept plaintext where a rule selects
//	                    a value (see WithAcceptPlaintext)
//	SFNENC_ERROR_CLASS  class under which a handler's error message is
//	                    encrypted; unset: the message is redacted
//	SFNENC_LOG_LEVEL    debug, info (default), warn or error; if unset,
//	                    AWS_LAMBDA_LOG_LEVEL is used
//
// The standard AWS configuration (region, credentials, and endpoint
// variables such as AWS_ENDPOINT_URL_KMS) reaches the KMS clients unchanged.
//
// # Errors
//
// A handler's error reaches Step Functions with the type name of the
// handler's own error: the Go type name of the outermost error in its chain
// that is not a standard-library wrapper (fmt.Errorf with %w, errors.Join),
// or the Type of a messages.InvokeResponse_Error, so Retry and Catch rules
// that name it match. Its message, which Step
// Functions records in the execution history as the cause, is replaced by a
// token of the class WithErrorClass names (the token holds the message as a
// JSON string), or by RedactedMessage. A panic in the handler is reported the
// same way, with the type name of the panic value and a stack trace of code
// locations; as the runtime does for any panic, the process then exits and
// Lambda starts a new one.
//
// A failure of the middleware itself fails the invocation with one of the
// error type names ErrorTypeConfig, ErrorTypeContract, ErrorTypeDecrypt,
// ErrorTypeEncrypt, ErrorTypeKeyUnavailable or ErrorTypeResultTooLarge. Step Functions matches
// ErrorEquals against these names exactly, so a state machine can, for
// example, retry "sfnenc.KeyServiceUnavailable" and catch
// "sfnenc.DecryptError".
//
// # Guarantees
//
// The middleware fails closed: if the result cannot be encrypted, the
// invocation fails and nothing of the result is returned. A result longer
// than codec.MaxPayloadSize bytes after encryption fails with
// ErrorTypeResultTooLarge rather than with States.DataLimitExceeded in the
// next state. KMS calls run under the invocation's context, with a deadline
// a margin before the function's (see WithDeadlineMargin), so retries stop in
// time for the middleware to report the failure. Error messages and logs
// name JSON Pointers, classes, key ARNs, counts and durations, never a value.
//
// # Logs
//
// Each invocation writes one structured log record (log/slog, JSON, to
// standard error by default) with the classes and numbers of tokens
// decrypted, passed through, encrypted and sealed again, the data-key cache
// hits and misses, the sizes of event and result, and durations, all from
// the codec's report of the invocation's own calls.
package lambdamw
