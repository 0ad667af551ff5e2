package envelope

import (
	"context"
	"crypto/rand"
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
// another account), so that a reader configured with any of them alone can
// unwrap a token.
//
// Unwrap uses primary only. A reader configured with a primary key opens
// tokens through it or not at all: a token whose primary wrapped key is
// missing, refused, invalid or unreachable fails, and nothing falls back to
// a break-glass key. Whoever may encrypt under a break-glass key can wrap a
// data key of their choosing and leave the primary wrapped key out; with a
// fallback, readers that hold both keys would accept that token. Only a
// reader configured without the primary key (the break-glass procedure:
// a configuration whose primary key is the break-glass key) reads through a
// break-glass key.
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

// ErrNoPrimaryKey: a token carries no data key wrapped by the reader's
// primary key, only keys of its break-glass keys (or none of its keys).
// errors.Is(ErrNoPrimaryKey, ErrNoKey) holds.
var ErrNoPrimaryKey error = noPrimaryKey{}

type noPrimaryKey struct{}

func (noPrimaryKey) Error() string {
	return "envelope: no data key wrapped by the primary key (only a configuration without the primary key reads through a break-glass key)"
}

func (noPrimaryKey) Is(target error) bool { return target == ErrNoKey }

// Unwrap unwraps through the primary keyring alone; see Multi.
func (m *multi) Unwrap(ctx context.Context, wrapped []WrappedKey, ec map[string]string) ([]byte, error) {
	secret, err := m.all[0].Unwrap(ctx, wrapped, ec)
	if err == ErrNoKey {
		return nil, ErrNoPrimaryKey
	}
	return secret, err
}

// MayTryAnother reports whether, after an unwrap failed with err, a reader
// may try another of its configured readers for the same token (a retired
// keyring that a rule's read list names): only when none of the wrapped
// keys was the reader's (ErrNoKey). After any other failure (a key that is
// refused, unavailable or says the wrapped key does not decrypt) trying
// another would let whoever can wrap under the other choose the data key.
func MayTryAnother(err error) bool {
	return errors.Is(err, ErrNoKey)
}

// IsRefusal reports whether err, from an unwrap, is a verdict of the key
// service on that wrapped key and context, which another call would repeat:
// access denied (or the key disabled), no such key, or a wrapped key that
// does not decrypt under its key and context. Throttling, an outage, a
// cancelled call and missing credentials are not: a retry may cure them.
// The caches remember refusals for a while, so that tokens a reader may not
// open do not cost one key-service call each.
func IsRefusal(err error) bool {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoCredentials) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, ErrDenied) || errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrKeyNotFound)
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

// Owns reports whether w was made by this keyring's key, by its provider
// and key id alone (no call to the key service).
func (k *KMSKeyring) Owns(w WrappedKey) bool { return w.Provider == ProviderAWSKMS && w.KeyID == k.arn }

// Owns reports whether w names a key of this keyset (no decryption).
func (k *InsecureLocalKeyring) Owns(w WrappedKey) bool {
	return w.Provider == ProviderInsecureLocal && k.ids[w.KeyID]
}

// Owns reports whether m's primary keyring owns w: m reads through it
// alone. A keyring that cannot say is assumed to own it.
func (m *multi) Owns(w WrappedKey) bool {
	if o, ok := m.all[0].(interface{ Owns(WrappedKey) bool }); ok {
		return o.Owns(w)
	}
	return true
}

// ErrOpen is returned when a sealed value fails to authenticate, or its key
// commitment does not match the data key. Nothing more is said, on purpose.
var ErrOpen = errors.New("envelope: message authentication failed")

// DataKeySize is the size in bytes of a data key's secret.
const DataKeySize = 32

// randRead fills b from crypto/rand.
func randRead(b []byte) (int, error) { return rand.Read(b) }
