package datakey

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/sfnenc/sfnenc/envelope"
	"sync"
	"time"
)

// Cache defaults. SECURITY.md explains the bound on uses.
const (
	DefaultMaxAge     = 5 * time.Minute
	DefaultMaxUses    = 1 << 20 // tokens sealed under one data key
	DefaultMaxBytes   = 1 << 30 // plaintext bytes sealed under one data key
	DefaultMaxEntries = 1000

	// HardMaxUses caps MaxUses: with random 96-bit nonces, 2^28 messages
	// under one key keep the chance of a nonce collision below 2^-41.
	HardMaxUses = 1 << 28
)

// Limits bound how long and how much a cached data key is used. Zero
// fields take the defaults; negative MaxAge means "do not cache".
type Limits struct {
	MaxAge     time.Duration // age after which a key is no longer used
	MaxUses    uint64        // tokens per data key (encrypt side); at most HardMaxUses
	MaxBytes   uint64        // plaintext bytes per data key (encrypt side)
	MaxEntries int           // entries kept; the oldest goes first
	// FailureAge is how long a refusal of the key service is remembered
	// for one wrapped key (decrypt side): access denied, no such key, or a
	// wrapped key that does not decrypt under its key and context. Until
	// then, tokens under that wrapped key fail at once with the same error,
	// without another call. Throttling, outages and cancelled calls are
	// never remembered. Zero takes MaxAge; negative remembers nothing.
	FailureAge time.Duration
}

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxAge == 0 {
		l.MaxAge = DefaultMaxAge
	}
	if l.MaxUses == 0 {
		l.MaxUses = DefaultMaxUses
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.FailureAge == 0 {
		l.FailureAge = l.MaxAge
	}
	if l.MaxUses > HardMaxUses {
		return l, fmt.Errorf("datakey: MaxUses %d is over the limit %d", l.MaxUses, HardMaxUses)
	}
	if l.MaxEntries < 0 {
		return l, errors.New("datakey: negative MaxEntries")
	}
	return l, nil
}

// call is one keyring call in flight, shared by concurrent misses.
type call struct {
	done chan struct{}
	key  *Key
	err  error
}

// store is the map, limits and call coalescing shared by both caches.
// Eviction is oldest-first by insertion.
type store struct {
	mu      sync.Mutex
	limits  Limits
	now     func() time.Time
	entries map[string]*entry
	order   []string // insertion order, for eviction
	flight  map[string]*call
	stats   Stats
}

type entry struct {
	key     *Key
	err     error // a remembered refusal, if key is nil
	created time.Time
	uses    uint64
	bytes   uint64
}

// Stats counts what a cache did. Refused counts calls answered with a
// remembered refusal (see Limits.FailureAge), without a keyring call.
type Stats struct {
	Hits, Misses, KeyringCalls, Refused uint64
}

func newStore(l Limits) (*store, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, err
	}
	return &store{limits: l, now: time.Now, entries: map[string]*entry{}, flight: map[string]*call{}}, nil
}

func (s *store) put(id string, e *entry) {
	if s.limits.MaxAge < 0 {
		return
	}
	s.putFailure(id, e)
}

// putFailure stores e (a key or a refusal) under id, evicting the oldest
// entries over MaxEntries.
func (s *store) putFailure(id string, e *entry) {
	if _, ok := s.entries[id]; !ok {
		s.order = append(s.order, id)
	}
	s.entries[id] = e
	for len(s.entries) > s.limits.MaxEntries && len(s.order) > 0 {
		old := s.order[0]
		s.order = s.order[1:]
		delete(s.entries, old)
	}
	// Drop ids of deleted entries from the order now and then.
	if len(s.order) > 2*s.limits.MaxEntries+16 {
		kept := s.order[:0]
		for _, id := range s.order {
			if _, ok := s.entries[id]; ok {
				kept = append(kept, id)
			}
		}
		s.order = kept
	}
}

// get returns the key cached under id if it can take uses and bytes more,
// counting them; otherwise it makes one fetch for all concurrent callers.
//
// If remember is set, a refusal (see envelope.IsRefusal) is kept for FailureAge.
func (s *store) get(ctx context.Context, id []byte, uses, bytes uint64, remember bool, fetch func(context.Context) (*Key, error)) (*Key, bool, error) {
	for {
		s.mu.Lock()
		if e, ok := s.entries[string(id)]; ok {
			if e.err != nil {
				if s.now().Sub(e.created) < s.limits.FailureAge {
					s.stats.Refused++
					s.mu.Unlock()
					return nil, false, e.err
				}
				delete(s.entries, string(id)) // try again
			} else if s.now().Sub(e.created) < s.limits.MaxAge && e.uses+uses <= s.limits.MaxUses && e.bytes+bytes <= s.limits.MaxBytes {
				e.uses += uses
				e.bytes += bytes
				s.stats.Hits++
				s.mu.Unlock()
				return e.key, true, nil
			}
			delete(s.entries, string(id)) // spent or expired
		}
		if c, ok := s.flight[string(id)]; ok {
			s.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, false, &envelope.KeyError{Op: "cache", Kind: envelope.ErrUnavailable, Err: ctx.Err()}
			}
			if c.err == nil {
				continue // the key is cached now; check that it fits our uses
			}
			if ctx.Err() == nil && (errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
				continue // the caller that made the call gave up; we have not
			}
			return nil, false, c.err
		}
		key := string(id)
		c := &call{done: make(chan struct{})}
		s.flight[key] = c
		s.stats.Misses++
		s.stats.KeyringCalls++
		s.mu.Unlock()

		c.key, c.err = fetch(ctx)

		s.mu.Lock()
		delete(s.flight, key)
		if c.err == nil {
			s.put(key, &entry{key: c.key, created: s.now(), uses: uses, bytes: bytes})
		} else if remember && s.limits.FailureAge > 0 && ctx.Err() == nil && envelope.IsRefusal(c.err) {
			s.putFailure(key, &entry{err: c.err, created: s.now()})
		}
		s.mu.Unlock()
		close(c.done)
		return c.key, false, c.err
	}
}

func (s *store) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// EncryptCache hands out data keys for new tokens. A data key is reused for
// (keyring, encryption context) until it reaches the age, uses or bytes
// limit; then a new one is made. Safe for concurrent use.
type EncryptCache struct{ s *store }

// NewEncryptCache returns an encrypt-side cache with the given limits.
func NewEncryptCache(l Limits) (*EncryptCache, error) {
	s, err := newStore(l)
	if err != nil {
		return nil, err
	}
	return &EncryptCache{s: s}, nil
}

// MaxUses returns the number of tokens one data key may seal.
func (c *EncryptCache) MaxUses() uint64 { return c.s.limits.MaxUses }

// MaxBytes returns the number of plaintext bytes one data key may seal.
func (c *EncryptCache) MaxBytes() uint64 { return c.s.limits.MaxBytes }

// Key returns a data key of kr for the encryption context ec that may
// seal uses more tokens of bytes more plaintext bytes, and counts them
// against it. partition must name kr and ec exactly (the codec uses the
// keyring's name and the encoded context): keys are never shared between
// partitions. uses must not exceed MaxUses, nor bytes MaxBytes. hit reports
// whether the key came from the cache.
func (c *EncryptCache) DataKey(ctx context.Context, partition string, kr envelope.Keyring, ec map[string]string, uses, bytes uint64) (dk *Key, hit bool, err error) {
	return c.get(ctx, partition, kr, ec, uses, bytes, nil)
}

// SignedDataKey is DataKey for a signed class: each data key it makes has
// its own Ed25519 key pair, made just before the data key, whose public
// key joins the encryption context (signedContext returns it) under which
// the keyring makes and wraps the data key. The private key stays in the
// cached Key, under the same limits.
func (c *EncryptCache) SignedDataKey(ctx context.Context, partition string, kr envelope.Keyring, ec map[string]string, uses, bytes uint64, signedContext func(ec map[string]string, verifyingKey []byte) map[string]string) (dk *Key, hit bool, err error) {
	return c.get(ctx, partition, kr, ec, uses, bytes, signedContext)
}

func (c *EncryptCache) get(ctx context.Context, partition string, kr envelope.Keyring, ec map[string]string, uses, bytes uint64, signedContext func(map[string]string, []byte) map[string]string) (dk *Key, hit bool, err error) {
	if uses > c.s.limits.MaxUses {
		return nil, false, fmt.Errorf("datakey: %d uses requested, a data key allows %d", uses, c.s.limits.MaxUses)
	}
	if bytes > c.s.limits.MaxBytes {
		return nil, false, fmt.Errorf("datakey: %d bytes requested, a data key allows %d", bytes, c.s.limits.MaxBytes)
	}
	return c.s.get(ctx, []byte(partition), uses, bytes, false, func(ctx context.Context) (*Key, error) {
		var signer ed25519.PrivateKey
		if signedContext != nil {
			pub, priv, err := ed25519.GenerateKey(nil) // crypto/rand
			if err != nil {
				return nil, err
			}
			signer, ec = priv, signedContext(ec, pub)
		}
		secret, wrapped, err := kr.GenerateDataKey(ctx, ec)
		if err != nil {
			return nil, err
		}
		k, err := New(secret)
		if err != nil {
			return nil, err
		}
		k.wrapped, k.signer = wrapped, signer
		return k, nil
	})
}

// Stats returns counts of hits, misses and keyring calls so far.
func (c *EncryptCache) Stats() Stats { return c.s.snapshot() }

// DecryptCache remembers unwrapped data keys, keyed by the wrapped keys and
// encryption context they were unwrapped from. Safe for concurrent use.
type DecryptCache struct{ s *store }

// NewDecryptCache returns a decrypt-side cache. MaxUses and MaxBytes do not
// apply to it.
func NewDecryptCache(l Limits) (*DecryptCache, error) {
	l.MaxUses, l.MaxBytes = HardMaxUses, 1<<62
	s, err := newStore(l)
	if err != nil {
		return nil, err
	}
	return &DecryptCache{s: s}, nil
}

// Key returns the data key for id, unwrapping it with kr on a miss. id
// must identify the wrapped keys and the encryption context exactly (the
// codec uses the token header and the encoded context). hit reports whether
// the key came from the cache. A refusal of the key service for id is
// remembered for FailureAge and returned again without a keyring call.
func (c *DecryptCache) DataKey(ctx context.Context, id []byte, kr envelope.Keyring, wrapped []envelope.WrappedKey, ec map[string]string) (dk *Key, hit bool, err error) {
	return c.s.get(ctx, id, 0, 0, true, func(ctx context.Context) (*Key, error) {
		secret, err := kr.Unwrap(ctx, wrapped, ec)
		if err != nil {
			return nil, err
		}
		return New(secret)
	})
}

// Stats returns counts of hits, misses and keyring calls so far.
func (c *DecryptCache) Stats() Stats { return c.s.snapshot() }
