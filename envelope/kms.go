package envelope

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// Errors of a KMS keyring that are neither the key service's refusal nor
// its absence: the key does not exist, or no AWS credentials could be found
// to call it. A *KeyError wraps them as its Kind.
var (
	// ErrKeyNotFound: KMS has no key with the ARN (NotFoundException): a
	// wrong ARN in the configuration, a key in another region or
	// account, or a key that was deleted.
	ErrKeyNotFound = errors.New("envelope: key not found")
	// ErrNoCredentials: the AWS SDK found no usable credentials for the KMS
	// request (environment, shared files and profile, web identity,
	// container and instance metadata): a configuration problem of the
	// caller, not of the key service.
	ErrNoCredentials = errors.New("envelope: no usable AWS credentials")
)

// KMSClient is the part of the AWS KMS client that a KMS keyring uses.
// *kms.Client implements it.
type KMSClient interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Encrypt(ctx context.Context, in *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMSKeyring wraps data keys with one AWS KMS key.
type KMSKeyring struct {
	client KMSClient
	arn    string
}

// ParseKeyARN checks that s is the ARN of a KMS key
// (arn:PARTITION:kms:REGION:ACCOUNT:key/ID) and returns its region. Aliases
// and bare key ids are refused: a token records the key ARN that wrapped its
// data key, and a reader accepts only the keys it names, so both sides must
// name keys the same, unambiguous way.
func ParseKeyARN(s string) (region string, err error) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", fmt.Errorf("envelope: %q is not a KMS key ARN", s)
	}
	if a.Service != "kms" || a.Region == "" || a.AccountID == "" {
		return "", fmt.Errorf("envelope: %q is not a KMS key ARN", s)
	}
	if strings.HasPrefix(a.Resource, "alias/") {
		return "", fmt.Errorf("envelope: %q is an alias; use the key ARN (arn:...:key/...)", s)
	}
	if !strings.HasPrefix(a.Resource, "key/") || len(a.Resource) == len("key/") {
		return "", fmt.Errorf("envelope: %q is not a KMS key ARN", s)
	}
	return a.Region, nil
}

// NewKMS returns a keyring over the KMS key keyARN, which must be a key ARN
// (see ParseKeyARN). The client must reach the key's region.
func NewKMS(client KMSClient, keyARN string) (*KMSKeyring, error) {
	if _, err := ParseKeyARN(keyARN); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("envelope: nil KMS client")
	}
	return &KMSKeyring{client: client, arn: keyARN}, nil
}

// KeyARN returns the ARN of the keyring's key.
func (k *KMSKeyring) KeyARN() string { return k.arn }

func (k *KMSKeyring) fail(op string, err error) error {
	return &KeyError{Op: op, Provider: ProviderAWSKMS, KeyID: k.arn, Kind: KMSErrorKind(err), Err: err}
}

// GenerateDataKey calls KMS GenerateDataKey for a 256-bit key under ec.
func (k *KMSKeyring) GenerateDataKey(ctx context.Context, ec map[string]string) ([]byte, []WrappedKey, error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.arn),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, nil, k.fail("generate", err)
	}
	if len(out.Plaintext) != DataKeySize {
		clear(out.Plaintext)
		return nil, nil, &KeyError{Op: "generate", Provider: ProviderAWSKMS, KeyID: k.arn, Kind: ErrInvalidKey,
			Err: fmt.Errorf("KMS returned a %d-byte data key", len(out.Plaintext))}
	}
	if err := k.checkKeyID(out.KeyId); err != nil {
		clear(out.Plaintext)
		return nil, nil, &KeyError{Op: "generate", Provider: ProviderAWSKMS, KeyID: k.arn, Err: err}
	}
	return out.Plaintext, []WrappedKey{{Provider: ProviderAWSKMS, KeyID: k.arn, Ciphertext: out.CiphertextBlob}}, nil
}

// Wrap calls KMS Encrypt on secret under ec.
func (k *KMSKeyring) Wrap(ctx context.Context, secret []byte, ec map[string]string) ([]WrappedKey, error) {
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(k.arn),
		Plaintext:         secret,
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, k.fail("wrap", err)
	}
	if err := k.checkKeyID(out.KeyId); err != nil {
		return nil, &KeyError{Op: "wrap", Provider: ProviderAWSKMS, KeyID: k.arn, Err: err}
	}
	return []WrappedKey{{Provider: ProviderAWSKMS, KeyID: k.arn, Ciphertext: out.CiphertextBlob}}, nil
}

// Unwrap calls KMS Decrypt, naming the key, for the first wrapped key made
// by this keyring's key.
func (k *KMSKeyring) Unwrap(ctx context.Context, wrapped []WrappedKey, ec map[string]string) ([]byte, error) {
	for _, w := range wrapped {
		if w.Provider != ProviderAWSKMS || w.KeyID != k.arn {
			continue
		}
		out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
			KeyId:             aws.String(k.arn),
			CiphertextBlob:    w.Ciphertext,
			EncryptionContext: ec,
		})
		if err != nil {
			return nil, k.fail("unwrap", err)
		}
		if len(out.Plaintext) != DataKeySize {
			clear(out.Plaintext)
			return nil, &KeyError{Op: "unwrap", Provider: ProviderAWSKMS, KeyID: k.arn, Kind: ErrInvalidKey,
				Err: fmt.Errorf("KMS returned a %d-byte data key", len(out.Plaintext))}
		}
		if err := k.checkKeyID(out.KeyId); err != nil {
			clear(out.Plaintext)
			return nil, &KeyError{Op: "unwrap", Provider: ProviderAWSKMS, KeyID: k.arn, Err: err}
		}
		return out.Plaintext, nil
	}
	return nil, ErrNoKey
}

func (k *KMSKeyring) checkKeyID(got *string) error {
	if got != nil && *got != k.arn {
		return fmt.Errorf("KMS answered for key %s", aws.ToString(got))
	}
	return nil
}

// KMSErrorKind returns the kind of an error of the AWS KMS client:
// ErrNoCredentials, ErrKeyNotFound, ErrDenied, ErrInvalidKey,
// ErrUnavailable, or nil if none describes it. The KMS keyrings, keyset
// files and the ESDK mode all classify with it. Throttling and transient
// failures are what the SDK's own retryer (aws/retry) retries; the error
// codes of KMS itself decide the rest.
func KMSErrorKind(err error) error {
	var ce *credentialsError
	if errors.As(err, &ce) {
		return ErrNoCredentials
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ErrUnavailable
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		return ErrUnavailable
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFoundException":
			return ErrKeyNotFound
		case "AccessDeniedException", "DisabledException",
			"KMSInvalidStateException", "InvalidKeyUsageException", "UnrecognizedClientException",
			"InvalidSignatureException", "ExpiredTokenException", "InvalidGrantTokenException":
			return ErrDenied
		case "InvalidCiphertextException", "IncorrectKeyException":
			return ErrInvalidKey
		case "KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException":
			return ErrUnavailable // KMS's own transient failures
		}
		if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
			return ErrUnavailable
		}
		return nil
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
		return ErrUnavailable
	}
	var ne net.Error
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &ne) || errors.As(err, &re) {
		return ErrUnavailable
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		// Transport failures (connection refused, reset) surface as an
		// operation error without an API error code.
		return ErrUnavailable
	}
	return nil
}

// KMSClients makes KMS clients by region from an AWS configuration, one per
// region, reused. Endpoint settings such as AWS_ENDPOINT_URL_KMS and the
// application id in cfg apply to every client.
func KMSClients(cfg aws.Config) func(region string) KMSClient {
	cfg = MarkCredentials(cfg)
	var mu sync.Mutex
	clients := map[string]KMSClient{}
	return func(region string) KMSClient {
		mu.Lock()
		defer mu.Unlock()
		c, ok := clients[region]
		if !ok {
			c = kms.NewFromConfig(cfg, func(o *kms.Options) { o.Region = region })
			clients[region] = c
		}
		return c
	}
}

// DefaultKMSClients loads the standard AWS configuration (environment,
// shared files, profiles) and returns KMSClients over it.
func DefaultKMSClients(ctx context.Context) (func(region string) KMSClient, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("envelope: AWS configuration: %w", err)
	}
	return KMSClients(cfg), nil
}

// MarkCredentials returns cfg with its credentials provider's errors marked,
// so that KMSErrorKind reports a request that never left for want of
// credentials as ErrNoCredentials. KMSClients does it; other clients of KMS
// (the ESDK's) call it themselves.
func MarkCredentials(cfg aws.Config) aws.Config {
	if cfg.Credentials != nil {
		if _, done := cfg.Credentials.(markedCredentials); !done {
			cfg.Credentials = markedCredentials{cfg.Credentials}
		}
	}
	return cfg
}

// markedCredentials marks the errors of a credentials provider, so that
// classify tells a request that never left for want of credentials from one
// the key service failed: the SDK reports both as an operation error without
// a type of its own for the first.
type markedCredentials struct{ p aws.CredentialsProvider }

func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.p.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

// credentialsError is an error of the credentials provider.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }
