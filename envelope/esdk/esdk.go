package esdk

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"unicode/utf8"

	mplclient "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdkclient "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/envelope"
)

// DefaultMaxEncryptedDataKeys is the number of encrypted data keys a message
// may carry unless WithMaxEncryptedDataKeys says otherwise. It bounds the
// work (and KMS requests) one hostile message can cause on decrypt.
const DefaultMaxEncryptedDataKeys = 4

// Sealer encrypts and decrypts single-field AWS Encryption SDK messages with
// AWS KMS keys. It is safe for concurrent use, but calls into the ESDK, KMS
// requests included, run one at a time in the process (see the package
// documentation).
type Sealer struct {
	client  *esdkclient.Client
	cmm     mpltypes.ICryptographicMaterialsManager // encrypts under every key
	readCMM mpltypes.ICryptographicMaterialsManager // decrypts with the primary key only
	primary string
	keyARNs map[string]bool
	maxEDKs int
}

// Option configures a Sealer.
type Option func(*options)

type options struct {
	maxEDKs int
}

// WithMaxEncryptedDataKeys sets how many encrypted data keys a message may
// carry, on encrypt and on decrypt (1 to 65535; default
// DefaultMaxEncryptedDataKeys). A sealer that decrypts with a break-glass key
// alone must still allow as many as the encrypting side writes.
func WithMaxEncryptedDataKeys(n int) Option {
	return func(o *options) { o.maxEDKs = n }
}

// keyARN matches a full KMS key ARN. Aliases, alias ARNs and bare key IDs do
// not match: on decrypt the ESDK's strict KMS keyring needs the key ARN that
// the encrypted data key names (the ESDK refuses an alias there, "Alias
// cannot be used for Decrypt"), so a sealer configured with an alias could
// not read its own messages.
var keyARN = regexp.MustCompile(`^arn:(aws[a-z-]*):kms:([a-z0-9-]+):([0-9]{12}):key/([A-Za-z0-9-]+)$`)

// New returns a Sealer whose messages are encrypted under every key in
// keyARNs: the first generates the data key (KMS GenerateDataKey), each other
// key wraps the same data key again (KMS Encrypt), for example a break-glass
// key in another account. On decrypt the Sealer uses the first key only
// (strict keyring, never discovery), for the encrypted data key that names
// it: as envelope.Multi does, it never falls back to a break-glass key, so
// that whoever may encrypt under one cannot make a message this Sealer
// accepts. A Sealer made with the break-glass key first reads through it.
//
// Each key is reached with a KMS client made from cfg with the key's region,
// so shared configuration, credentials and AWS_ENDPOINT_URL_KMS apply as
// usual. Every identifier must be a full key ARN; an alias or alias ARN
// fails with ErrInvalidKeyARN.
func New(cfg aws.Config, keyARNs []string, opts ...Option) (*Sealer, error) {
	o := options{maxEDKs: DefaultMaxEncryptedDataKeys}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxEDKs < 1 || o.maxEDKs > 65535 {
		return nil, fmt.Errorf("esdk: maximum of encrypted data keys %d is outside 1 to 65535", o.maxEDKs)
	}
	if len(keyARNs) == 0 {
		return nil, fmt.Errorf("%w: no key given", ErrInvalidKeyARN)
	}
	if len(keyARNs) > o.maxEDKs {
		return nil, fmt.Errorf("esdk: %d keys exceed the maximum of %d encrypted data keys", len(keyARNs), o.maxEDKs)
	}

	cfg = envelope.MarkCredentials(cfg)
	s := &Sealer{keyARNs: map[string]bool{}, maxEDKs: o.maxEDKs}
	clients := map[string]*kms.Client{} // by region
	mpl, err := mplclient.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		return nil, fmt.Errorf("esdk: material providers: %w", err)
	}
	// The material providers' constructors do no I/O; their context
	// parameter is unused.
	ctx := context.Background()
	var keyrings []mpltypes.IKeyring
	for i, arn := range keyARNs {
		m := keyARN.FindStringSubmatch(arn)
		if m == nil {
			return nil, fmt.Errorf("%w: key %d %q", ErrInvalidKeyARN, i, arn)
		}
		if s.keyARNs[arn] {
			return nil, fmt.Errorf("%w: key %d %q is listed twice", ErrInvalidKeyARN, i, arn)
		}
		s.keyARNs[arn] = true
		region := m[2]
		c := clients[region]
		if c == nil {
			c = kms.NewFromConfig(cfg, func(o *kms.Options) { o.Region = region })
			clients[region] = c
		}
		kr, err := mpl.CreateAwsKmsKeyring(ctx, mpltypes.CreateAwsKmsKeyringInput{KmsClient: c, KmsKeyId: arn})
		if err != nil {
			return nil, fmt.Errorf("esdk: KMS keyring for %q: %w", arn, err)
		}
		keyrings = append(keyrings, kr)
	}
	keyring := keyrings[0]
	if len(keyrings) > 1 {
		keyring, err = mpl.CreateMultiKeyring(ctx, mpltypes.CreateMultiKeyringInput{
			Generator:     keyrings[0],
			ChildKeyrings: keyrings[1:],
		})
		if err != nil {
			return nil, fmt.Errorf("esdk: multi-keyring: %w", err)
		}
	}
	s.cmm, err = mpl.CreateDefaultCryptographicMaterialsManager(ctx, mpltypes.CreateDefaultCryptographicMaterialsManagerInput{Keyring: keyring})
	if err != nil {
		return nil, fmt.Errorf("esdk: materials manager: %w", err)
	}
	s.primary = keyARNs[0]
	s.readCMM = s.cmm
	if len(keyrings) > 1 {
		s.readCMM, err = mpl.CreateDefaultCryptographicMaterialsManager(ctx, mpltypes.CreateDefaultCryptographicMaterialsManagerInput{Keyring: keyrings[0]})
		if err != nil {
			return nil, fmt.Errorf("esdk: materials manager: %w", err)
		}
	}

	policy := mpltypes.ESDKCommitmentPolicyRequireEncryptRequireDecrypt
	maxEDKs := int64(o.maxEDKs)
	s.client, err = esdkclient.NewClient(esdktypes.AwsEncryptionSdkConfig{
		CommitmentPolicy:     &policy,
		MaxEncryptedDataKeys: &maxEDKs,
	})
	if err != nil {
		return nil, fmt.Errorf("esdk: client: %w", err)
	}
	return s, nil
}

// Encrypt returns one AWS Encryption SDK message (format version 2,
// algorithm suite 0x0478) that holds plaintext, with encCtx stored in the
// message header. It makes one KMS request per configured key.
//
// The ESDK calls KMS without a context, so cancelling ctx does not stop the
// request: Encrypt then returns ctx.Err() at once and drops the result of
// the request when it completes. The request works on copies of plaintext
// and encCtx, so the caller may clear or reuse them once Encrypt returns.
func (s *Sealer) Encrypt(ctx context.Context, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if err := checkContext(encCtx); err != nil {
		return nil, err
	}
	suite := mpltypes.ESDKAlgorithmSuiteIdAlgAes256GcmHkdfSha512CommitKey
	// Owned by the call, which may outlive Encrypt: the caller clears its
	// plaintext as soon as Encrypt returns.
	pt, ec := bytes.Clone(plaintext), maps.Clone(encCtx)
	out, err := call(ctx, func() (*esdktypes.EncryptOutput, error) {
		defer clear(pt)
		return s.client.Encrypt(ctx, esdktypes.EncryptInput{
			Plaintext:         pt,
			AlgorithmSuiteId:  &suite,
			EncryptionContext: ec,
			MaterialsManager:  s.cmm,
		})
	}, nil)
	if err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return nil, err
		}
		return nil, classify("encrypt", err)
	}
	if out.AlgorithmSuiteId != suite {
		return nil, fmt.Errorf("%w: ESDK used algorithm suite %s", ErrUnsupportedMessage, out.AlgorithmSuiteId)
	}
	return out.Ciphertext, nil
}

// Decrypt returns the plaintext of msg. It refuses, before any KMS request,
// a message that is not format version 2 with algorithm suite 0x0478 (so no
// downgrade to a non-committing or signed suite), whose header encryption
// context is not exactly encCtx, or that has no encrypted data key for a
// configured key. It then decrypts with the configured keys only and checks
// the suite and the authenticated context again.
//
// As with Encrypt, cancelling ctx makes Decrypt return ctx.Err() without
// stopping a KMS request already sent; the request works on copies of msg
// and encCtx, and a plaintext it returns after that is cleared.
func (s *Sealer) Decrypt(ctx context.Context, msg []byte, encCtx map[string]string) ([]byte, error) {
	if err := checkContext(encCtx); err != nil {
		return nil, err
	}
	h, err := parseHeader(msg, s.maxEDKs)
	if err != nil {
		return nil, err
	}
	if err := compareContext(encCtx, h.context); err != nil {
		return nil, err
	}
	if !s.namesPrimaryKey(h.edks) {
		return nil, fmt.Errorf("%w: the message has no data key encrypted by the primary key (break-glass keys are read only by a configuration without it)", ErrNoMatchingKey)
	}

	ct, ec := bytes.Clone(msg), maps.Clone(encCtx)
	out, err := call(ctx, func() (*esdktypes.DecryptOutput, error) {
		return s.client.Decrypt(ctx, esdktypes.DecryptInput{
			Ciphertext: ct,
			// The reproduced context: the ESDK checks it against the
			// header before it asks KMS.
			EncryptionContext: ec,
			MaterialsManager:  s.readCMM,
		})
	}, func(out *esdktypes.DecryptOutput) {
		if out != nil {
			clear(out.Plaintext)
		}
	})
	if err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return nil, err
		}
		return nil, classify("decrypt", err)
	}
	// The header was authenticated by now; check what it says, not what the
	// pre-check read.
	if out.AlgorithmSuiteId != mpltypes.ESDKAlgorithmSuiteIdAlgAes256GcmHkdfSha512CommitKey {
		return nil, fmt.Errorf("%w: algorithm suite %s, want %s", ErrUnsupportedMessage, out.AlgorithmSuiteId, suiteIDString)
	}
	if err := compareContext(encCtx, out.EncryptionContext); err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// namesPrimaryKey reports whether any encrypted data key is a KMS one for
// the primary key ARN.
func (s *Sealer) namesPrimaryKey(edks []edk) bool {
	for _, e := range edks {
		if e.providerID == kmsProviderID && e.providerInfo == s.primary {
			return true
		}
	}
	return false
}

// esdkTurn serializes calls into the ESDK process-wide. The Go ESDK v0.4.0
// and its Dafny runtime write to a process-global value on every Encrypt and
// Decrypt, even through independent clients (aws/aws-encryption-sdk issue
// 902), which is a data race under the Go memory model. A channel rather
// than a mutex lets a waiting caller give up when its context ends.
var esdkTurn = make(chan struct{}, 1)

// call runs f, an ESDK operation, in its turn. It returns ctx.Err() if ctx
// ends first, while waiting for the turn or during f; f itself cannot be
// stopped (the ESDK calls KMS without a context) and keeps the turn until it
// returns. f must use only memory it owns, since it may outlive call; if it
// does, drop (if not nil) is given the result that no one received.
func call[T any](ctx context.Context, f func() (T, error), drop func(T)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	select {
	case esdkTurn <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	if ctx.Done() == nil {
		defer func() { <-esdkTurn }()
		return f()
	}
	type result struct {
		v   T
		err error
	}
	// Unbuffered: the result goes either to the caller or, once the caller
	// has given up, to drop; never both, never neither.
	ch := make(chan result)
	abandoned := make(chan struct{})
	go func() {
		defer func() { <-esdkTurn }()
		v, err := f()
		select {
		case ch <- result{v, err}:
		case <-abandoned:
			if drop != nil && err == nil {
				drop(v)
			}
		}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		close(abandoned)
		return zero, ctx.Err()
	}
}

// checkContext refuses an encryption context the message format cannot
// carry. Errors name the offending key only when it is valid UTF-8; values
// are never named.
func checkContext(c map[string]string) error {
	size := 2 // pair count
	for k, v := range c {
		switch {
		case k == "":
			return fmt.Errorf("%w: empty key", ErrInvalidContext)
		case !utf8.ValidString(k):
			return fmt.Errorf("%w: a key is not UTF-8", ErrInvalidContext)
		case !utf8.ValidString(v):
			return fmt.Errorf("%w: the value of %q is not UTF-8", ErrInvalidContext, k)
		case strings.HasPrefix(k, "aws-crypto-"):
			return fmt.Errorf("%w: key %q has the reserved prefix aws-crypto-", ErrInvalidContext, k)
		}
		size += 2 + len(k) + 2 + len(v)
	}
	if size > 65535 {
		return fmt.Errorf("%w: %d bytes serialized, more than 65535", ErrInvalidContext, size)
	}
	return nil
}

// compareContext requires got to equal want exactly (an absent or nil want
// means an empty context). Errors name keys, never values.
func compareContext(want, got map[string]string) error {
	if maps.Equal(want, got) || (len(want) == 0 && len(got) == 0) {
		return nil
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("%w: message lacks key %q", ErrContextMismatch, k)
		}
		if g != v {
			return fmt.Errorf("%w: message has another value for key %q", ErrContextMismatch, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("%w: message has unexpected key %q", ErrContextMismatch, k)
		}
	}
	return fmt.Errorf("%w", ErrContextMismatch)
}

// Factory returns a function that makes Sealers over cfg for given key
// ARNs, as envelope.MessageSealer values, for codec.WithESDK. Sealers made
// by it accept messages with up to 16 encrypted data keys.
func Factory(cfg aws.Config, opts ...Option) func(keyARNs []string) (envelope.MessageSealer, error) {
	return func(keyARNs []string) (envelope.MessageSealer, error) {
		o := append([]Option{WithMaxEncryptedDataKeys(16)}, opts...)
		s, err := New(cfg, keyARNs, o...)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
