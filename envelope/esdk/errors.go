package esdk

import (
	"errors"
	"fmt"
	"strings"

	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/aws/smithy-go"
	"github.com/sfnenc/sfnenc/envelope"
)

// Sentinel errors, for errors.Is. Those a reader can meet wrap the
// matching envelope errors (ErrNoKey, ErrInvalidKey, ErrUnavailable,
// ErrOpen), so that callers of the codec need not know this package. Every error from New, Encrypt and Decrypt
// wraps one of them, except ctx.Err() when the context ends first and an
// Encrypt failure inside the ESDK that none of them describes. KMS errors
// behind a failure stay reachable with errors.As, for example as
// smithy.APIError or *types.ThrottlingException from the KMS types package.
var (
	// ErrInvalidKeyARN reports a key identifier given to New that is not a
	// full KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID).
	ErrInvalidKeyARN = errors.New("esdk: key identifier is not a KMS key ARN")

	// ErrInvalidContext reports an encryption context the message format
	// cannot carry: a key or value that is not UTF-8, an empty key, or a key
	// with the reserved prefix "aws-crypto-".
	ErrInvalidContext = errors.New("esdk: invalid encryption context")

	// ErrUnsupportedMessage reports a message that is not an AWS Encryption
	// SDK message of format version 2 with algorithm suite 0x0478, has a
	// malformed header, or carries more encrypted data keys than allowed.
	ErrUnsupportedMessage = fmt.Errorf("esdk: unsupported message: %w", envelope.ErrOpen)

	// ErrContextMismatch reports a message whose encryption context is not
	// exactly the one the caller expects.
	ErrContextMismatch = fmt.Errorf("esdk: encryption context mismatch: %w", envelope.ErrInvalidKey)

	// ErrNoMatchingKey reports that none of the configured keys could
	// decrypt a data key of the message: the message names none of them, or
	// KMS refused each attempt as a wrong key, a damaged wrapped key, a
	// disabled or missing key, or denied access.
	ErrNoMatchingKey = fmt.Errorf("esdk: no configured key could decrypt the data key: %w", envelope.ErrNoKey)

	// ErrKMS reports a KMS request that failed for a reason other than the
	// key itself (throttling, an internal error, the network, a response
	// the keyring rejects), or on encrypt any KMS failure: retrying may
	// succeed.
	ErrKMS = fmt.Errorf("esdk: KMS request failed: %w", envelope.ErrUnavailable)

	// ErrNoCredentials reports that the AWS SDK found no usable
	// credentials for the KMS requests: a configuration problem, not one
	// of KMS.
	ErrNoCredentials = fmt.Errorf("esdk: no usable AWS credentials: %w", envelope.ErrNoCredentials)

	// ErrAuthentication reports a message whose header or body did not
	// authenticate: it was altered or truncated.
	ErrAuthentication = fmt.Errorf("esdk: message authentication failed: %w", envelope.ErrOpen)
)

// opError is the error Encrypt and Decrypt return for a failure inside the
// ESDK. It wraps one sentinel (kind; nil only for an encrypt failure that
// none describes) and the underlying errors: the ESDK's own, or the KMS errors
// found inside it, which the ESDK's error types do not expose to errors.As.
type opError struct {
	op     string // "encrypt" or "decrypt"
	kind   error
	causes []error
}

func (e *opError) Error() string {
	var b strings.Builder
	if e.kind != nil {
		b.WriteString(e.kind.Error())
		b.WriteString(" (" + e.op + ")")
	} else {
		b.WriteString("esdk: " + e.op + " failed")
	}
	for _, c := range e.causes {
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(describe(c), "\n", " "))
	}
	return b.String()
}

func (e *opError) Unwrap() []error {
	if e.kind == nil {
		return e.causes
	}
	return append([]error{e.kind}, e.causes...)
}

// describe returns the message of err. The ESDK's and the material
// providers library's exceptions print an unset error code ahead of their
// message; that is dropped, and collections list their members.
func describe(err error) string {
	switch e := err.(type) {
	case esdktypes.CollectionOfErrors:
		return describeAll(e.Message, e.ListOfErrors)
	case mpltypes.CollectionOfErrors:
		return describeAll(e.Message, e.ListOfErrors)
	}
	return strings.TrimPrefix(err.Error(), "%!s(*string=<nil>): ")
}

func describeAll(msg string, errs []error) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = describe(e)
	}
	return msg + " [" + strings.Join(parts, "; ") + "]"
}

// refusal reports whether a KMS error means "this key cannot decrypt this
// wrapped key for this caller", as opposed to a service or network failure,
// by the one classifier the KMS keyrings use.
func refusal(err error) bool {
	switch envelope.KMSErrorKind(err) {
	case envelope.ErrDenied, envelope.ErrInvalidKey, envelope.ErrKeyNotFound:
		return true
	}
	return false
}

// classify turns an error returned by the ESDK client into an opError.
// KMS errors nested in the ESDK's error collections decide the kind: any KMS
// failure that is not a key refusal, or a KMS response the keyring rejects,
// makes it ErrKMS (worth a retry); key refusals alone make it
// ErrNoMatchingKey on decrypt (on encrypt every configured key must work, so
// they make it ErrKMS). Without a KMS error, a decrypt failure after the
// header checks is an authentication failure, unless the keyring found no
// data key to decrypt.
func classify(op string, err error) error {
	var kmsErrs []error
	refusalsOnly, badResponse, noDataKey, noCredentials := true, false, false, false
	for _, leaf := range leaves(err, 0) {
		var apiErr smithy.APIError
		var opErr *smithy.OperationError
		if envelope.KMSErrorKind(leaf) == envelope.ErrNoCredentials {
			noCredentials = true
		}
		switch {
		case errors.As(leaf, &apiErr):
			kmsErrs = append(kmsErrs, leaf)
			if !refusal(leaf) {
				refusalsOnly = false
			}
		case errors.As(leaf, &opErr):
			kmsErrs = append(kmsErrs, leaf)
			refusalsOnly = false
		default:
			msg := describe(leaf)
			// "Invalid response from KMS Decrypt", "... from AWS KMS
			// GenerateDataKey": KMS answered, the keyring rejected it.
			badResponse = badResponse || (strings.Contains(msg, "Invalid response from") && strings.Contains(msg, "KMS"))
			noDataKey = noDataKey || strings.Contains(msg, "Unable to decrypt data key")
		}
	}
	e := &opError{op: op, causes: []error{err}}
	if len(kmsErrs) > 0 {
		// The KMS errors say more than the ESDK's collection around them,
		// and errors.As finds them.
		e.causes = kmsErrs
	}
	switch {
	case noCredentials:
		e.kind = ErrNoCredentials
	case len(kmsErrs) > 0 && refusalsOnly && op == "decrypt":
		e.kind = ErrNoMatchingKey
	case len(kmsErrs) > 0 || badResponse:
		e.kind = ErrKMS
	case op == "decrypt" && noDataKey:
		e.kind = ErrNoMatchingKey
	case op == "decrypt":
		e.kind = ErrAuthentication
	}
	return e
}

// leaves flattens the ESDK's and the material providers library's error
// collections and opaque wrappers (none of which implement Unwrap) into the
// errors they hold.
func leaves(err error, depth int) []error {
	if err == nil || depth > 16 {
		return nil
	}
	var out []error
	switch e := err.(type) {
	case esdktypes.CollectionOfErrors:
		for _, c := range e.ListOfErrors {
			out = append(out, leaves(c, depth+1)...)
		}
		return append(out, err)
	case mpltypes.CollectionOfErrors:
		for _, c := range e.ListOfErrors {
			out = append(out, leaves(c, depth+1)...)
		}
		return append(out, err)
	case esdktypes.OpaqueError:
		if inner, ok := e.ErrObject.(error); ok {
			return leaves(inner, depth+1)
		}
	case mpltypes.OpaqueError:
		if inner, ok := e.ErrObject.(error); ok {
			return leaves(inner, depth+1)
		}
	}
	return []error{err}
}
