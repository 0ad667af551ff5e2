package envelope

import (
	"context"
	"errors"
	"fmt"

	"github.com/sfnenc/sfnenc/internal/format"
)

// WrappedKey is one encryption of a data key, as a token carries it:
// the kind of key (Provider), which key (KeyID: a KMS key ARN, or a local
// keyset key name), and the ciphertext.
type WrappedKey = format.WrappedKey

// Provider names the kind of key that wrapped a data key.
type Provider = format.Provider

// Providers.
const (
	ProviderAWSKMS        = format.ProviderAWSKMS
	ProviderInsecureLocal = format.ProviderInsecureLocal
)

// A Keyring makes data keys and wraps and unwraps them.
//
// Encryption contexts passed to a Keyring are bound to the wrapped key (as the
// KMS encryption context, or as associated data): unwrapping under another
// context fails.
type Keyring interface {
	// GenerateDataKey returns a new random data key secret of DataKeySize
	// bytes and its wrapped forms, one per key of the keyring.
	GenerateDataKey(ctx context.Context, ec map[string]string) (secret []byte, wrapped []WrappedKey, err error)
	// Wrap wraps an existing secret with every key of the keyring.
	Wrap(ctx context.Context, secret []byte, ec map[string]string) ([]WrappedKey, error)
	// Unwrap returns the secret from the first of wrapped that one of the
	// keyring's keys can decrypt. If the keyring has none of the keys,
	// the error wraps ErrNoKey.
	Unwrap(ctx context.Context, wrapped []WrappedKey, ec map[string]string) (secret []byte, err error)
}

// Errors that say why a keyring failed. A *KeyError wraps one of them.
var (
	// ErrNoKey: none of the wrapped keys belongs to a configured key.
	ErrNoKey = errors.New("envelope: no configured key for any wrapped key")
	// ErrDenied: the key service refused the key: access denied, key
	// disabled, not found or pending deletion.
	ErrDenied = errors.New("envelope: key access denied")
	// ErrInvalidKey: the wrapped key does not decrypt under this key and
	// encryption context (wrong key, wrong context, or altered), or the
	// key service returned a key of the wrong size.
	ErrInvalidKey = errors.New("envelope: wrapped key does not decrypt under this key and context")
	// ErrUnavailable: the key service could not be reached in time, or
	// throttled the request past the retries.
	ErrUnavailable = errors.New("envelope: key service unavailable")
)

// KeyError reports a failure of one key. It names the key and the
// operation, never key material.
type KeyError struct {
	Op       string // "generate", "wrap" or "unwrap"
	Provider Provider
	KeyID    string // a key ARN or local key name
	Kind     error  // one of ErrDenied, ErrInvalidKey, ErrUnavailable, or nil
	Err      error  // the underlying error, if any
}

func (e *KeyError) Error() string {
	msg := fmt.Sprintf("envelope: %s with %s key %s", e.Op, e.Provider, e.KeyID)
	switch {
	case e.Kind != nil && e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", msg, kindText(e.Kind), e.Err)
	case e.Kind != nil:
		return fmt.Sprintf("%s: %s", msg, kindText(e.Kind))
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", msg, e.Err)
	}
	return msg
}

func kindText(err error) string {
	switch err {
	case ErrDenied:
		return "access denied"
	case ErrInvalidKey:
		return "wrapped key does not decrypt under this key and context"
	case ErrUnavailable:
		return "key service unavailable"
	case ErrKeyNotFound:
		return "key not found"
	case ErrNoCredentials:
		return "no usable AWS credentials"
	}
	return err.Error()
}

// Unwrap returns the kind and the underlying error.
func (e *KeyError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Multi returns a keyring whose data keys are made by primary and wrapped
// by primary and by every one of others (for example break-glass keys in
// another account), so that any of them can unwrap a token. Unwrap tries
// the keyrings in order.
func Multi(primary Keyring, others ...Keyring) Keyring {
	if len(others) == 0 {
		return primary
	}
	return &multi{all: append([]Keyring{primary}, others...)}
}

type multi struct{ all []Keyring }

func (m *multi) GenerateDataKey(ctx context.Context, ec map[string]string) ([]byte, []WrappedKey, error) {
	secret, wrapped, err := m.all[0].GenerateDataKey(ctx, ec)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range m.all[1:] {
		w, err := k.Wrap(ctx, secret, ec)
		if err != nil {
			clear(secret)
			return nil, nil, err
		}
		wrapped = append(wrapped, w...)
	}
	if len(wrapped) > format.MaxWrappedKeys {
		clear(secret)
		return nil, nil, fmt.Errorf("envelope: %d wrapped keys, at most %d", len(wrapped), format.MaxWrappedKeys)
	}
	return secret, wrapped, nil
}

func (m *multi) Wrap(ctx context.Context, secret []byte, ec map[string]string) ([]WrappedKey, error) {
	var all []WrappedKey
	for _, k := range m.all {
		w, err := k.Wrap(ctx, secret, ec)
		if err != nil {
			return nil, err
		}
		all = append(all, w...)
	}
	return all, nil
}

func (m *multi) Unwrap(ctx context.Context, wrapped []WrappedKey, ec map[string]string) ([]byte, error) {
	return unwrapFirst(ctx, m.all, wrapped, ec)
}

// unwrapFirst tries each keyring in turn and returns the first secret. If
// all fail, the error is the first failure of a keyring that had a key
// (more telling than ErrNoKey), or ErrNoKey.
func unwrapFirst(ctx context.Context, krs []Keyring, wrapped []WrappedKey, ec map[string]string) ([]byte, error) {
	var first error
	for _, k := range krs {
		secret, err := k.Unwrap(ctx, wrapped, ec)
		if err == nil {
			return secret, nil
		}
		if first == nil && !errors.Is(err, ErrNoKey) {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return nil, ErrNoKey
}

// Union returns a keyring for unwrapping only: Unwrap tries each keyring in
// order. GenerateDataKey and Wrap fail. A reader configured with several
// keyrings uses it to accept tokens made under any of them.
func Union(krs ...Keyring) Keyring { return union(krs) }

type union []Keyring

var errUnionEncrypt = errors.New("envelope: a union keyring only unwraps")

func (u union) GenerateDataKey(context.Context, map[string]string) ([]byte, []WrappedKey, error) {
	return nil, nil, errUnionEncrypt
}

func (u union) Wrap(context.Context, []byte, map[string]string) ([]WrappedKey, error) {
	return nil, errUnionEncrypt
}

func (u union) Unwrap(ctx context.Context, wrapped []WrappedKey, ec map[string]string) ([]byte, error) {
	return unwrapFirst(ctx, u, wrapped, ec)
}

// MessageSealer seals each value as a self-contained message that carries
// its own wrapped data key: the AWS Encryption SDK message format (package
// envelope/esdk). Decrypt must refuse a message whose encryption context is
// not exactly ec. Errors wrap ErrNoKey, ErrDenied, ErrInvalidKey,
// ErrUnavailable or ErrOpen.
type MessageSealer interface {
	Encrypt(ctx context.Context, plaintext []byte, ec map[string]string) ([]byte, error)
	Decrypt(ctx context.Context, msg []byte, ec map[string]string) ([]byte, error)
}
