package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/datakey"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// Errors callers branch on. Token failures come as a *TokenError that wraps
// one of ErrMalformedToken, ErrAuthentication, ErrUnknownClass or a key
// error from package envelope (envelope.ErrNoKey, ErrDenied, ErrInvalidKey,
// ErrUnavailable); a failure to get a data key comes as a *DataKeyError.
var (
	// ErrInvalidDocument: the input is not a JSON document the codec
	// accepts (syntax, duplicate names, invalid UTF-8, too deep). The
	// error also wraps the jsontape sentinel that says which.
	ErrInvalidDocument = errors.New("codec: invalid JSON document")
	// ErrTooLarge: the input is a larger document than the size limit
	// (see WithLimits). It wraps jsontape.ErrTooLarge.
	ErrTooLarge = errors.New("codec: document over the size limit")
	// ErrMalformedToken: a string has the token prefix but is not a
	// well-formed token of a known version and mode.
	ErrMalformedToken = errors.New("codec: malformed token")
	// ErrReservedPrefix: Encrypt met a string that begins with the token
	// prefix but is not a token. The prefix is reserved: such a string
	// would make every later decryption of the document fail.
	ErrReservedPrefix = errors.New("codec: string begins with the reserved token prefix but is not a token")
	// ErrAuthentication: a token's data key was unwrapped but its value
	// failed authentication (altered, or bound to another context or
	// class), or the decrypted value is not JSON.
	ErrAuthentication = errors.New("token failed authentication")
	// ErrOutputTooLarge: the encrypted document would be larger than the
	// size limit, so that Decrypt would refuse it. Nothing is returned.
	ErrOutputTooLarge = errors.New("codec: encrypted document would exceed the size limit")
	// ErrUnknownClass: a token, or a call, names a class that no rule of
	// the configuration has. A class opens only under its own rule.
	ErrUnknownClass = errors.New("codec: unknown class")
	// ErrForeignToken: a token at a selected path is not of the rule's
	// class, keyring or format (Encrypt will not pass it on as the rule's
	// token).
	ErrForeignToken = errors.New("codec: token at a selected path is not of the rule's class, keyring or format")
	// ErrUnsigned: a token of a signed class carries no signature (it was
	// made in an unsigned mode), and the class's rule requires one
	// (Rule.Signed true; a staged rule accepts it).
	ErrUnsigned = errors.New("codec: token of a signed class is not signed")
	// ErrForged: a token of a signed class failed its writer's signature,
	// or its data key does not unwrap under the verifying key it names:
	// someone who may read the class, but not write it, made it.
	ErrForged = errors.New("codec: forged token: not signed by a writer of its signed class")
)

// ErrUnavailable is envelope.ErrUnavailable: the key service could not be
// reached in time, or throttled past the retries. Callers that only use the
// codec test for it here.
var ErrUnavailable = envelope.ErrUnavailable

// ErrNoCredentials is envelope.ErrNoCredentials: no AWS credentials were
// found to call KMS, a configuration problem that retrying does not mend.
var ErrNoCredentials = envelope.ErrNoCredentials

// MaxPayloadSize is the AWS Step Functions limit on a payload (an execution
// input, a task result, a cause), in bytes. The codec's own default
// document limit is larger (jsontape.DefaultMaxSize), so that readers can
// take whole histories; writers to Step Functions check this one.
const MaxPayloadSize = 262144

// TokenError reports a token that could not be made or read. It names the
// value by JSON Pointer and the token's class when known; it never holds the
// value. For a token inside a decrypted value, the pointer is that of the
// outermost token: names inside an encrypted value are never reported.
type TokenError struct {
	Pointer string // RFC 6901 pointer of the value in the document
	Class   string // the token's class, if the token could be parsed
	Err     error
}

func (e *TokenError) Error() string {
	if e.Class != "" {
		return fmt.Sprintf("codec: token at %s (class %s): %s", where(e.Pointer), e.Class, errText(e.Err))
	}
	return fmt.Sprintf("codec: token at %s: %s", where(e.Pointer), errText(e.Err))
}

func (e *TokenError) Unwrap() error { return e.Err }

// DataKeyError reports that no data key could be had for a class.
type DataKeyError struct {
	Class string
	Err   error
}

func (e *DataKeyError) Error() string {
	return fmt.Sprintf("codec: data key for class %s: %s", e.Class, errText(e.Err))
}

func (e *DataKeyError) Unwrap() error { return e.Err }

func where(ptr string) string {
	if ptr == "" {
		return "(root)"
	}
	return ptr
}

// errText is err's message without a leading "codec: ", so that wrapped
// sentinels do not stutter.
func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "codec: ")
}

// Codec encrypts and decrypts JSON documents by a Config. It is safe for
// concurrent use; build one per process and reuse it, so that its key caches
// work.
type Codec struct {
	rules   []*rule
	byClass map[string]*rule
	sels    []*fieldpath.Selector
	selRule []int // sels[i] belongs to rules[selRule[i]]
	// strict is sels with every filter taken as a wildcard (Widened), for
	// a Scope's strict reads; nil if no selector has a filter.
	strict    []*fieldpath.Selector
	names     []string // member names the selectors select by name
	nameClass []string // names[i] is selected by a rule of class nameClass[i]
	enc       *datakey.EncryptCache
	dec       *datakey.DecryptCache
	ec        map[string]string
	allow     map[string]bool // classes to decrypt; nil means all
	limits    jsontape.Limits
	fp        *jsontape.Fingerprinter
}

// rule is a configured rule, ready to use.
type rule struct {
	class     string
	pad       int
	kctx      map[string]string   // key context: configured context + class
	ctxBytes  []byte              // its canonical encoding
	partition string              // encrypt cache partition: keyring name + ctxBytes
	bind      *fieldpath.Selector // Rule.Bind, or nil
	signing   Signing             // Rule.Signed
	callCtx   []contextEntry      // Rule.Context, by key; nil without
	// writer makes the rule's tokens, with its keyring and format.
	writer tokenMode
	// readers are the keyrings and formats that may open this class's
	// tokens: the rule's own first, then those of its "read" list.
	readers []tokenMode
}

// Option configures a Codec.
type Option func(*options) error

type options struct {
	clients    func(region string) envelope.KMSClient
	keyrings   map[string]envelope.Keyring
	classes    []string
	encLimits  CacheLimits
	decLimits  CacheLimits
	docLimits  jsontape.Limits
	setClasses bool
	esdk       func(keyARNs []string) (envelope.MessageSealer, error)
}

// WithESDK enables rules of format "esdk" and the decryption of tokens of
// that mode, with sealers made by newSealer for a list of KMS key ARNs
// (esdk.Factory makes it). Without it, a configuration with such a rule is
// refused.
func WithESDK(newSealer func(keyARNs []string) (envelope.MessageSealer, error)) Option {
	return func(o *options) error { o.esdk = newSealer; return nil }
}

// WithKMSClients sets how KMS clients are made, by region (see
// envelope.KMSClients). By default the standard AWS configuration is
// loaded, the first time a KMS keyring is needed.
func WithKMSClients(f func(region string) envelope.KMSClient) Option {
	return func(o *options) error { o.clients = f; return nil }
}

// WithKeyring replaces the keyring the configuration names name with kr.
func WithKeyring(name string, kr envelope.Keyring) Option {
	return func(o *options) error {
		if o.keyrings == nil {
			o.keyrings = map[string]envelope.Keyring{}
		}
		o.keyrings[name] = kr
		return nil
	}
}

// WithClasses limits decryption to tokens of the given classes (need to
// know): tokens of other classes are left as they are, byte for byte. With
// no classes, nothing is decrypted. A class that no rule of the
// configuration has is a configuration error.
func WithClasses(classes ...string) Option {
	return func(o *options) error {
		for _, c := range classes {
			if !format.ValidClass(c) {
				return &ConfigError{Field: "classes", Err: fmt.Errorf("invalid class name %q", c)}
			}
		}
		o.classes, o.setClasses = slices.Clone(classes), true
		return nil
	}
}

// WithCacheLimits sets the limits of the encrypt-side data-key cache and the
// decrypt-side unwrapped-key cache (zero fields: defaults). Encrypt splits a
// document's values among as many data keys as the encrypt-side MaxUses and
// MaxBytes require.
func WithCacheLimits(encrypt, decrypt CacheLimits) Option {
	return func(o *options) error { o.encLimits, o.decLimits = encrypt, decrypt; return nil }
}

// failureAge is how long refusals are remembered, as CacheLimits say for
// the decrypt side: FailureAge, else MaxAge, else the default.
func (o *options) failureAge() time.Duration {
	for _, d := range []time.Duration{o.decLimits.FailureAge, o.decLimits.MaxAge} {
		if d != 0 {
			return d
		}
	}
	return DefaultMaxAge
}

// WithLimits sets the document size and depth limits (zero fields:
// jsontape defaults).
func WithLimits(l jsontape.Limits) Option {
	return func(o *options) error { o.docLimits = l; return nil }
}

// New builds a Codec from a configuration. It checks cfg, opens local
// keysets and prepares KMS clients, but makes no KMS call.
func New(ctx context.Context, cfg *Config, opts ...Option) (*Codec, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Codec{
		byClass: map[string]*rule{},
		ec:      cfg.EncryptionContext,
		limits:  o.docLimits,
		fp:      jsontape.NewFingerprinter(),
	}
	var err error
	if c.enc, err = datakey.NewEncryptCache(o.encLimits); err != nil {
		return nil, err
	}
	if c.dec, err = datakey.NewDecryptCache(o.decLimits); err != nil {
		return nil, err
	}
	if o.setClasses {
		c.allow = map[string]bool{}
		for _, cl := range o.classes {
			if !slices.Contains(cfg.Classes(), cl) {
				return nil, &ConfigError{Field: "classes", Err: fmt.Errorf("class %q is not a class of the configuration (classes: %s)", cl, strings.Join(cfg.Classes(), ", "))}
			}
			c.allow[cl] = true
		}
	}
	krs, err := buildKeyrings(ctx, cfg, &o)
	if err != nil {
		return nil, err
	}
	stores, err := buildStores(ctx, cfg, &o)
	if err != nil {
		return nil, err
	}
	sealers := map[string]envelope.MessageSealer{} // by keyring name
	esdkFor := func(field, name string) (envelope.MessageSealer, error) {
		if s, ok := sealers[name]; ok {
			return s, nil
		}
		if o.esdk == nil {
			return nil, &ConfigError{Field: field, Err: errors.New("format \"esdk\" needs codec.WithESDK (see package envelope/esdk)")}
		}
		k := cfg.Keyrings[name].KMS
		s, err := o.esdk(append([]string{k.KeyARN}, k.BreakGlassKeyARNs...))
		if err != nil {
			return nil, &ConfigError{Field: field, Err: err}
		}
		sealers[name] = s
		return s, nil
	}
	for i, r := range cfg.Rules {
		kctx := format.KeyContext(cfg.EncryptionContext, r.Class)
		cb := format.AppendContext(nil, kctx)
		ru := &rule{
			class:     r.Class,
			pad:       r.Pad,
			kctx:      kctx,
			ctxBytes:  cb,
			partition: r.Keyring + "\x00" + string(cb),
			bind:      cfg.binds[i],
			signing:   r.Signed,
			callCtx:   cfg.contexts[i],
		}
		field := fmt.Sprintf("rules[%d]", i)
		for j, rd := range append([]ReadRule{{Keyring: r.Keyring, Format: r.Format}}, r.Read...) {
			f := field + ".format"
			if j > 0 {
				f = fmt.Sprintf("%s.read[%d].format", field, j-1)
			}
			if rd.Format == "esdk" {
				s, err := esdkFor(f, rd.Keyring)
				if err != nil {
					return nil, err
				}
				ru.readers = append(ru.readers, esdkMode{s: s})
				continue
			}
			if st := stores[rd.Keyring]; st != nil {
				if r.Signed != SignedOff {
					ru.readers = append(ru.readers, signedKeysetMode{keysetMode{st: st}})
				}
				if r.Signed != SignedRequired {
					ru.readers = append(ru.readers, keysetMode{st: st})
				}
				continue
			}
			kr := krs[rd.Keyring]
			if r.Signed != SignedOff {
				ru.readers = append(ru.readers, signedEnvelopeMode{envelopeMode{kr: kr}})
			}
			if r.Signed != SignedRequired {
				ru.readers = append(ru.readers, envelopeMode{kr: kr})
			}
		}
		ru.writer = ru.readers[0]
		c.rules = append(c.rules, ru)
		c.byClass[r.Class] = ru
		for _, s := range cfg.selectors[i] {
			if s.HasFilter() && c.strict == nil {
				c.strict = append(make([]*fieldpath.Selector, 0, len(c.sels)+1), c.sels...)
			}
			if c.strict != nil {
				c.strict = append(c.strict, s.Widened())
			}
			c.sels = append(c.sels, s)
			c.selRule = append(c.selRule, i)
			for _, n := range s.Names() {
				if !slices.Contains(c.names, n) {
					c.names = append(c.names, n)
					c.nameClass = append(c.nameClass, r.Class)
				}
			}
		}
	}
	return c, nil
}

func buildKeyrings(ctx context.Context, cfg *Config, o *options) (map[string]envelope.Keyring, error) {
	krs := map[string]envelope.Keyring{}
	for _, name := range sortedKeys(cfg.Keyrings) {
		if kr, ok := o.keyrings[name]; ok {
			krs[name] = kr
			continue
		}
		kc := cfg.Keyrings[name]
		if kc.KMSKeyset != nil {
			continue // see buildStores
		}
		if kc.InsecureLocalKeyset != "" {
			kr, err := envelope.LoadInsecureLocalKeyset(cfg.path(kc.InsecureLocalKeyset))
			if err != nil {
				return nil, &ConfigError{Field: "keyrings." + name, Err: err}
			}
			krs[name] = kr
			continue
		}
		if o.clients == nil {
			f, err := envelope.DefaultKMSClients(ctx)
			if err != nil {
				return nil, err
			}
			o.clients = f
		}
		var ks []envelope.Keyring
		for _, a := range append([]string{kc.KMS.KeyARN}, kc.KMS.BreakGlassKeyARNs...) {
			region, _ := envelope.ParseKeyARN(a) // checked by Validate
			k, err := envelope.NewKMS(o.clients(region), a)
			if err != nil {
				return nil, &ConfigError{Field: "keyrings." + name, Err: err}
			}
			ks = append(ks, k)
		}
		krs[name] = envelope.Multi(ks[0], ks[1:]...)
	}
	for name := range o.keyrings {
		if _, ok := cfg.Keyrings[name]; !ok {
			return nil, &ConfigError{Field: "keyrings", Err: fmt.Errorf("WithKeyring names %q, which the configuration lacks", name)}
		}
	}
	return krs, nil
}

// Stats reports what the codec's key caches did.
type Stats struct {
	Encrypt, Decrypt CacheStats
}

// CacheStats counts what one of the codec's key caches did.
type CacheStats = datakey.Stats

// CacheLimits bound how long and how much a cached data key is used (see
// WithCacheLimits). Zero fields take the defaults: MaxAge 5 minutes,
// MaxUses 2^20 tokens (at most 2^28), MaxBytes 1 GiB, MaxEntries 1000;
// a negative MaxAge means "do not cache". On the decrypt side, FailureAge
// (default MaxAge) is how long a refusal of the key service (access denied,
// no such key, a wrapped key or keyset file that does not decrypt) is
// remembered per wrapped key and per keyset file, so that tokens a reader
// may not open fail without a key-service call each; throttles and outages
// are never remembered. A process that reads once, such as a command line,
// may remember refusals for its whole life (ForProcess).
type CacheLimits = datakey.Limits

// DefaultMaxAge is how long a data key is used by default.
const DefaultMaxAge = datakey.DefaultMaxAge

// ForProcess, as a CacheLimits.FailureAge, remembers refusals for the life
// of the process.
const ForProcess = time.Duration(math.MaxInt64)

// Stats returns counts of cache hits, misses and keyring calls so far.
func (c *Codec) Stats() Stats { return Stats{Encrypt: c.enc.Stats(), Decrypt: c.dec.Stats()} }

// scanPlain checks src as a document that holds plaintext (the input of
// Encrypt): its error names the byte offset but not the JSON Pointer, whose
// member names may lie inside a value about to be encrypted.
func (c *Codec) scanPlain(src []byte) (*jsontape.Document, error) {
	doc, err := jsontape.Scan(src, c.limits)
	if err != nil {
		return nil, c.docError(err, false, len(src))
	}
	return doc, nil
}

func (c *Codec) docError(err error, withPointer bool, size int) error {
	var de *jsontape.DocumentError
	if errors.Is(err, jsontape.ErrTooLarge) {
		// The size is no syntax error and says nothing of the content.
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, c.maxSize())
	}
	if errors.As(err, &de) && !withPointer {
		return fmt.Errorf("%w: %w at offset %d", ErrInvalidDocument, de.Err, de.Offset)
	}
	return fmt.Errorf("%w: %w", ErrInvalidDocument, err)
}

// maxSize is the document size limit in force.
func (c *Codec) maxSize() int {
	if c.limits.MaxSize > 0 {
		return c.limits.MaxSize
	}
	return jsontape.DefaultMaxSize
}

// maxDepth is the depth limit in force.
func (c *Codec) maxDepth() int {
	if c.limits.MaxDepth > 0 {
		return c.limits.MaxDepth
	}
	return jsontape.DefaultMaxDepth
}

// tokenText returns the text of a string node if it claims to be a token
// (starts with the prefix once unescaped). Escaped strings are unescaped
// into *buf; otherwise the text aliases src.
func tokenText(doc *jsontape.Document, src []byte, n int, buf *[]byte) ([]byte, bool) {
	if !mayBeToken(doc, src, n) {
		return nil, false
	}
	start, end := doc.Raw(n)
	content := src[start+1 : end-1]
	if bytes.IndexByte(content, '\\') < 0 {
		return content, format.IsToken(content)
	}
	*buf = doc.AppendString((*buf)[:0], n)
	return *buf, format.IsToken(*buf)
}

// mayBeToken reports whether string node n may be a token, by its length
// and first byte: an escape is never shorter than the text it stands for,
// and may spell the prefix's first byte. Few strings are tokens; the loops
// that look at every string for them use jsontape's NextWithPrefix, the
// others come here first.
func mayBeToken(doc *jsontape.Document, src []byte, n int) bool {
	start, end := doc.Raw(n)
	return end-start >= 2+len(format.Prefix) && (src[start+1] == format.Prefix[0] || src[start+1] == '\\')
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
