// Package keyset is the key side of sfnenc's keyset mode: one Tink keyset
// of X-AES-GCM keys per class, kept in a file that holds the keyset only
// encrypted by AWS KMS (once per KMS key: the primary key and any
// break-glass keys), under the class's key context.
//
// A [Store] stands for one directory of keyset files (the "dir" of a
// kmsKeyset keyring). [Store.Load] decrypts a class's keyset with one KMS
// Decrypt, the first time the class is used in the process, and keeps it:
// concurrent first uses share that one call. The [Keyset] it returns seals
// new values with its primary key and opens values by key id, with no KMS
// call. [Store.Create], [Store.Rotate], [Store.Destroy] and [Store.List] are
// the operator's side, used by "sfn-decrypt keyset".
//
// SECURITY.md ("Keyset mode") specifies the file format and the cipher.
package keyset

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/format"
	_ "github.com/tink-crypto/tink-go/v2/aead/xaesgcm" // registers the X-AES-GCM key manager
	"github.com/tink-crypto/tink-go/v2/core/registry"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	xpb "github.com/tink-crypto/tink-go/v2/proto/x_aes_gcm_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/proto"
)

// FileVersion is the version of the keyset file format.
const FileVersion = 1

// Algorithm names the only cipher of keyset keys in a file's key list.
const Algorithm = "xaes-256-gcm-160"

const (
	xaesTypeURL = "type.googleapis.com/google.crypto.tink.XAesGcmKey"
	saltSize    = 8  // bytes: with the 12-byte nonce, a 160-bit random nonce
	keySize     = 32 // bytes of an X-AES-GCM key
	// maxFileSize bounds what Load reads: a file of the largest keyset KMS
	// encrypts, under 16 keys, is well below it.
	maxFileSize = 1 << 20
	// maxCopies bounds the encrypted copies of a file, as the format
	// bounds the keys of a keyring.
	maxCopies = format.MaxWrappedKeys
)

// Errors callers branch on. An *Error wraps one of them, or a key error of
// package envelope (envelope.ErrDenied, ErrInvalidKey, ErrUnavailable,
// ErrNoKey) for a keyset KMS would not decrypt, or fs.ErrNotExist for a
// missing file.
var (
	// ErrDestroyed: the token's key was destroyed; the token can never be
	// read again.
	ErrDestroyed = errors.New("keyset: the key was destroyed")
	// ErrDisabled: the token's key is disabled in the keyset.
	ErrDisabled = errors.New("keyset: the key is disabled")
	// ErrNoSuchKey: the keyset holds no key of the token's key id.
	ErrNoSuchKey = errors.New("keyset: no key of this id in the keyset")
	// ErrBadFile: the file is not a keyset file of this class: damaged,
	// truncated, of another class or format, or its key list does not
	// match the keyset it holds.
	ErrBadFile = errors.New("keyset: damaged or foreign keyset file")
	// ErrExists: Create found a file already there.
	ErrExists = errors.New("keyset: keyset file already exists")
	// ErrPrimary: Destroy was asked to destroy the primary key.
	ErrPrimary = errors.New("keyset: the primary key cannot be destroyed; rotate first")
	// ErrFull: the keyset has no room for another key: the KMS plaintext
	// limit or the key id range is reached.
	ErrFull = errors.New("keyset: keyset full; destroy old keys first")
)

// Error reports a failure of one class's keyset. It names the file, the
// class and the key id where one applies, never key material.
type Error struct {
	Path  string
	Class string
	KeyID uint32 // 0 if no particular key
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keyset: %s (class %s)", e.Path, e.Class)
	if e.KeyID != 0 {
		fmt.Fprintf(&b, ": key %d", e.KeyID)
	}
	fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Err.Error(), "keyset: "))
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KeyInfo is what a keyset file says in clear about one key: nothing
// secret. Load checks it against the keyset the file holds.
type KeyInfo struct {
	KeyID     uint32 `json:"keyId"`
	Status    string `json:"status"` // "enabled", "disabled" or "destroyed"
	Primary   bool   `json:"primary"`
	Algorithm string `json:"algorithm,omitempty"` // Algorithm; empty for a destroyed key
}

// file is the JSON form of a keyset file.
type file struct {
	Version int       `json:"version"`
	Class   string    `json:"class"`
	Keys    []KeyInfo `json:"keys"`
	// KeysetDigest ties the encrypted copies together: the SHA-256 of a
	// label and the serialized keyset that every copy encrypts (see
	// digestOf). A reader checks the copy it decrypts against it, so readers
	// with different KMS keys load the same keyset. Files written before it
	// existed lack it; a reader refuses such a file if it has more than one
	// copy.
	KeysetDigest     []byte      `json:"keysetDigest,omitempty"` // base64 in JSON
	EncryptedKeysets []encrypted `json:"encryptedKeysets"`
	// WriterKeysets are the writers' copies of a signed file (see
	// signed.go); a file without them is not signed.
	WriterKeysets []encrypted `json:"writerKeysets,omitempty"`
}

// digestLabel separates the keyset digest from any other use of SHA-256.
const digestLabel = "sfnenc v1 keyset digest\x00"

// digestOf returns the digest of a serialized keyset (the plaintext of every
// encrypted copy). The keys it covers are 256-bit random secrets, so the
// digest reveals nothing of them.
func digestOf(serialized []byte) []byte {
	h := sha256.New()
	h.Write([]byte(digestLabel))
	h.Write(serialized)
	return h.Sum(nil)
}

// encrypted is the keyset (a serialized Tink Keyset) encrypted by one KMS
// key under the class's key context.
type encrypted struct {
	KeyARN     string `json:"keyArn"`
	Ciphertext []byte `json:"ciphertext"` // base64 in JSON
}

// Store is the directory of keyset files of one kmsKeyset keyring. It is
// safe for concurrent use; build one per process, so that each class's
// keyset is decrypted once.
type Store struct {
	dir string
	krs []*envelope.KMSKeyring // the primary key first, then break-glass keys

	mu         sync.Mutex
	loaded     map[string]*loading // by role, class and encoded key context
	failureAge time.Duration
	now        func() time.Time
	signed     map[string]bool // classes whose files Create, Rotate, Stage and Destroy write signed
}

// SetSigned says whether Create, Rotate, Stage and Destroy write class's
// file as a signed file (for a signed class: writers' copies with signing
// keys, readers' copies with verifying keys). An unsigned file becomes
// signed, keeping its keys, at the next of them. Call it before the Store
// is used.
func (s *Store) SetSigned(class string, signed bool) {
	if s.signed == nil {
		s.signed = map[string]bool{}
	}
	s.signed[class] = signed
}

type loading struct {
	done chan struct{}
	ks   *Keyset
	err  error
	at   time.Time // when err was remembered
}

// DefaultFailureAge is how long a Store remembers that KMS refused a
// class's keyset, unless SetFailureAge says otherwise.
const DefaultFailureAge = 5 * time.Minute

// SetFailureAge sets how long Load remembers a refusal of KMS for a class's
// file (access denied, no such key, a copy that does not decrypt under its
// key and context): until then Load fails at once with the same error,
// without a KMS call. Throttling and outages are never remembered; a
// negative age remembers nothing. Call it before the Store is used.
func (s *Store) SetFailureAge(d time.Duration) { s.failureAge = d }

// NewStore returns a store of the keyset files in dir, encrypted by the KMS
// keys keyARN and breakGlass (key ARNs). Load decrypts the copy of keyARN
// only, never a break-glass copy (a Store for the break-glass procedure is
// made with the break-glass key as keyARN); Create, Rotate and Destroy
// encrypt under all of them. clients makes a KMS client for a key's region.
func NewStore(dir string, clients func(region string) envelope.KMSClient, keyARN string, breakGlass ...string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("keyset: no directory")
	}
	s := &Store{dir: dir, loaded: map[string]*loading{}, failureAge: DefaultFailureAge, now: time.Now}
	for _, a := range append([]string{keyARN}, breakGlass...) {
		region, err := envelope.ParseKeyARN(a)
		if err != nil {
			return nil, err
		}
		kr, err := envelope.NewKMS(clients(region), a)
		if err != nil {
			return nil, err
		}
		s.krs = append(s.krs, kr)
	}
	return s, nil
}

// Path returns the file of a class's keyset.
func (s *Store) Path(class string) string { return filepath.Join(s.dir, class+".json") }

// Load returns the keyset of class, decrypting its file's copy for the
// primary key with one KMS Decrypt under the key context (ec plus the class)
// the first time; later calls, and calls made while the first is under way,
// share its result. A failed load is tried again by the next call, unless
// KMS refused it (see SetFailureAge). Of a signed file it decrypts a
// reader's copy (verifying keys, no signing keys), unless LoadWriter has
// loaded the class already.
func (s *Store) Load(ctx context.Context, class string, ec map[string]string) (*Keyset, error) {
	return s.loadAs(ctx, class, ec, RoleReader)
}

// LoadWriter is Load for a writer of a signed class: it decrypts a
// writer's copy of the class's signed file, whose keyset signs as well as
// seals and opens. It fails with ErrNotSigned for an unsigned file.
func (s *Store) LoadWriter(ctx context.Context, class string, ec map[string]string) (*Keyset, error) {
	return s.loadAs(ctx, class, ec, RoleWriter)
}

func (s *Store) loadAs(ctx context.Context, class string, ec map[string]string, role string) (*Keyset, error) {
	if !format.ValidClass(class) {
		return nil, fmt.Errorf("keyset: invalid class name %q", class)
	}
	kctx := format.KeyContext(ec, class)
	ctxKey := string(format.AppendContext(nil, kctx))
	key := role + "\x00" + ctxKey
	s.mu.Lock()
	if role == RoleReader {
		// A writer's keyset reads as well: no second KMS call.
		if w, ok := s.loaded[RoleWriter+"\x00"+ctxKey]; ok && w.ks != nil {
			s.mu.Unlock()
			return w.ks, nil
		}
	}
	l, ok := s.loaded[key]
	// l.at is written under s.mu, once the load failed with a refusal.
	if ok && !l.at.IsZero() && s.now().Sub(l.at) >= s.failureAge {
		delete(s.loaded, key) // the remembered refusal is over: try again
		ok = false
	}
	if !ok {
		l = &loading{done: make(chan struct{})}
		s.loaded[key] = l
	}
	s.mu.Unlock()
	if ok {
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, &Error{Path: s.Path(class), Class: class, Err: fmt.Errorf("%w: %w", envelope.ErrUnavailable, ctx.Err())}
		}
		return l.ks, l.err
	}
	ks, err := s.load(ctx, class, kctx, role)
	s.mu.Lock()
	l.ks, l.err = ks, err
	if err != nil {
		if s.failureAge > 0 && ctx.Err() == nil && envelope.IsRefusal(err) {
			l.at = s.now()
		} else {
			delete(s.loaded, key)
		}
	}
	s.mu.Unlock()
	close(l.done)
	return l.ks, l.err
}

func (s *Store) load(ctx context.Context, class string, kctx map[string]string, role string) (*Keyset, error) {
	path := s.Path(class)
	ks, sg, err := s.decrypt(ctx, class, kctx, role)
	if err != nil {
		return nil, err
	}
	defer clearKeyset(ks)
	out := &Keyset{path: path, class: class, primary: ks.GetPrimaryKeyId(), keys: map[uint32]*key{}}
	for _, k := range ks.GetKey() {
		st := k.GetStatus()
		e := &key{status: st}
		if st == tinkpb.KeyStatusType_ENABLED {
			p, err := registry.PrimitiveFromKeyData(k.GetKeyData())
			if err != nil {
				return nil, &Error{Path: path, Class: class, KeyID: k.GetKeyId(), Err: ErrBadFile}
			}
			a, ok := p.(tink.AEAD)
			if !ok {
				return nil, &Error{Path: path, Class: class, KeyID: k.GetKeyId(), Err: ErrBadFile}
			}
			e.aead = a
		}
		if sg != nil {
			e.verify = sg.public[k.GetKeyId()]
			if st == tinkpb.KeyStatusType_ENABLED {
				e.sign = sg.private[k.GetKeyId()]
			}
		}
		out.keys[k.GetKeyId()] = e
	}
	return out, nil
}

// read reads and checks the clear part of a class's file.
func (s *Store) read(class string) (*file, error) {
	path := s.Path(class)
	fail := func(err error) error { return &Error{Path: path, Class: class, Err: err} }
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fail(err)
	}
	if len(data) > maxFileSize {
		return nil, fail(fmt.Errorf("%w: over %d bytes", ErrBadFile, maxFileSize))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fl file
	if err := dec.Decode(&fl); err != nil {
		return nil, fail(fmt.Errorf("%w: not a keyset file (%s)", ErrBadFile, jsonProblem(err)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(fmt.Errorf("%w: data after the keyset object", ErrBadFile))
	}
	switch {
	case fl.Version != FileVersion:
		return nil, fail(fmt.Errorf("%w: version %d, want %d", ErrBadFile, fl.Version, FileVersion))
	case fl.Class != class:
		return nil, fail(fmt.Errorf("%w: the file is of class %q", ErrBadFile, fl.Class))
	case len(fl.EncryptedKeysets) == 0 || len(fl.EncryptedKeysets) > maxCopies:
		return nil, fail(fmt.Errorf("%w: %d encrypted keysets, want 1..%d", ErrBadFile, len(fl.EncryptedKeysets), maxCopies))
	}
	for _, copies := range [][]encrypted{fl.EncryptedKeysets, fl.WriterKeysets} {
		seen := map[string]bool{}
		for _, e := range copies {
			if _, err := envelope.ParseKeyARN(e.KeyARN); err != nil || seen[e.KeyARN] || len(e.Ciphertext) == 0 {
				return nil, fail(fmt.Errorf("%w: bad encrypted keyset entry", ErrBadFile))
			}
			seen[e.KeyARN] = true
		}
	}
	switch {
	case len(fl.WriterKeysets) > maxCopies:
		return nil, fail(fmt.Errorf("%w: %d writer keysets, want up to %d", ErrBadFile, len(fl.WriterKeysets), maxCopies))
	case len(fl.WriterKeysets) > 0 && fl.KeysetDigest == nil:
		return nil, fail(fmt.Errorf("%w: a signed file without a keysetDigest", ErrBadFile))
	}
	return &fl, nil
}

// jsonProblem describes a JSON error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("wrong JSON type for %s", te.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	}
	return "unexpected JSON"
}

// decrypt reads a class's file and returns its keyset, checked, and for a
// signed file its signing keys. It makes one KMS Decrypt, of the copy for
// the store's primary key, and never another: a copy that is absent,
// refused or does not decrypt fails the load, so whoever can encrypt under a
// break-glass key cannot have a reader with the primary key load a keyset
// of theirs. The keyset must match the file's digest, which ties every copy
// to one keyset; a file without a digest is accepted only with one copy, or
// by an administrator (Rotate, Stage and Destroy, which write the digest).
// role is RoleReader, RoleWriter or "admin": of a signed file, a reader
// decrypts a reader's copy, writers and administrators a writer's copy; of
// an unsigned file, a writer fails with ErrNotSigned.
func (s *Store) decrypt(ctx context.Context, class string, kctx map[string]string, role string) (*tinkpb.Keyset, *signing, error) {
	fl, err := s.read(class)
	if err != nil {
		return nil, nil, err
	}
	path := s.Path(class)
	fail := func(err error) error { return &Error{Path: path, Class: class, Err: err} }
	signed := len(fl.WriterKeysets) > 0
	if fl.KeysetDigest == nil && len(fl.EncryptedKeysets) > 1 && role != "admin" {
		return nil, nil, fail(fmt.Errorf("%w: its %d encrypted copies are not tied together by a keysetDigest (a file of an earlier version): rewrite it with `sfn-decrypt keyset rotate --staged`", ErrBadFile, len(fl.EncryptedKeysets)))
	}
	if role == RoleWriter && !signed {
		return nil, nil, fail(ErrNotSigned)
	}
	copies, ec, what := fl.EncryptedKeysets, kctx, "decrypt keyset"
	if signed {
		ec = roleContext(kctx, RoleReader)
		if role != RoleReader {
			copies, ec, what = fl.WriterKeysets, roleContext(kctx, RoleWriter), "decrypt writer keyset"
		}
	}
	kr := s.krs[0]
	i := slices.IndexFunc(copies, func(e encrypted) bool { return e.KeyARN == kr.KeyARN() })
	if i < 0 {
		return nil, nil, fail(fmt.Errorf("%w: the file has no copy encrypted under the primary key %s (only a configuration without the primary key reads a break-glass copy)", envelope.ErrNoKey, kr.KeyARN()))
	}
	pt, err := kr.DecryptSecret(ctx, what, copies[i].Ciphertext, ec)
	if err != nil {
		return nil, nil, fail(err)
	}
	defer clear(pt)
	// tinkBytes is the serialized keyset; digested is what the digest
	// covers (a reader's copy's plaintext, for a signed file).
	tinkBytes, digested := pt, pt
	var sg *signing
	if signed {
		label := readerLabel
		if role != RoleReader {
			label = writerLabel
		}
		var keys map[uint32][]byte
		if tinkBytes, keys, err = parseSigned(pt, label); err != nil {
			return nil, nil, fail(err)
		}
		if role == RoleReader {
			sg = &signing{public: map[uint32]ed25519.PublicKey{}}
			for id, k := range keys {
				sg.public[id] = ed25519.PublicKey(bytes.Clone(k))
			}
		} else {
			// The writer's copy ties to the readers' through the
			// digest of the readers' plaintext it implies.
			digested, sg = readerPlaintext(tinkBytes, keys)
		}
		ks, err := s.checked(fl, tinkBytes, digested)
		if err != nil {
			return nil, nil, fail(err)
		}
		if err := checkSigned(ks, keys); err != nil {
			clearKeyset(ks)
			return nil, nil, fail(err)
		}
		return ks, sg, nil
	}
	ks, err := s.checked(fl, tinkBytes, digested)
	if err != nil {
		return nil, nil, fail(err)
	}
	return ks, nil, nil
}

// checked parses a serialized keyset and checks it against the file: the
// digest (of digested) and the key list.
func (s *Store) checked(fl *file, tinkBytes, digested []byte) (*tinkpb.Keyset, error) {
	if fl.KeysetDigest != nil && !hmac.Equal(digestOf(digested), fl.KeysetDigest) {
		return nil, fmt.Errorf("%w: the keyset does not match the file's keysetDigest (its copies differ, or one was replaced)", ErrBadFile)
	}
	ks, err := parseKeyset(tinkBytes)
	if err != nil {
		return nil, err
	}
	if diff := infoOf(ks); !slices.Equal(diff, fl.Keys) {
		clearKeyset(ks)
		return nil, fmt.Errorf("%w: the key list does not match the keyset", ErrBadFile)
	}
	return ks, nil
}

// parseKeyset parses and checks a serialized keyset: key ids in
// 1..MaxKeysetKeyID and unique, an enabled primary key, X-AES-GCM keys with
// an 8-byte salt and no Tink output prefix, and no key material in
// destroyed keys.
func parseKeyset(b []byte) (*tinkpb.Keyset, error) {
	ks := new(tinkpb.Keyset)
	bad := func(what string) error {
		clearKeyset(ks)
		return fmt.Errorf("%w: %s", ErrBadFile, what)
	}
	if err := proto.Unmarshal(b, ks); err != nil {
		return nil, bad("the keyset does not parse")
	}
	if len(ks.GetKey()) == 0 {
		return nil, bad("no keys")
	}
	ids := map[uint32]bool{}
	primary := false
	for _, k := range ks.GetKey() {
		id := k.GetKeyId()
		if id == 0 || id > format.MaxKeysetKeyID || ids[id] {
			return nil, bad("bad or repeated key id")
		}
		ids[id] = true
		if k.GetOutputPrefixType() != tinkpb.OutputPrefixType_RAW {
			return nil, bad("a key with an output prefix")
		}
		switch k.GetStatus() {
		case tinkpb.KeyStatusType_DESTROYED:
			if k.GetKeyData() != nil {
				return nil, bad("a destroyed key with key material")
			}
		case tinkpb.KeyStatusType_ENABLED, tinkpb.KeyStatusType_DISABLED:
			kd := k.GetKeyData()
			if kd.GetTypeUrl() != xaesTypeURL || kd.GetKeyMaterialType() != tinkpb.KeyData_SYMMETRIC {
				return nil, bad("a key that is not X-AES-GCM")
			}
			xk := new(xpb.XAesGcmKey)
			if err := proto.Unmarshal(kd.GetValue(), xk); err != nil || xk.GetVersion() != 0 ||
				xk.GetParams().GetSaltSize() != saltSize || len(xk.GetKeyValue()) != keySize {
				clear(xk.GetKeyValue())
				return nil, bad("a key with other parameters")
			}
			clear(xk.GetKeyValue())
		default:
			return nil, bad("a key of unknown status")
		}
		if id == ks.GetPrimaryKeyId() {
			if k.GetStatus() != tinkpb.KeyStatusType_ENABLED {
				return nil, bad("the primary key is not enabled")
			}
			primary = true
		}
	}
	if !primary {
		return nil, bad("no primary key")
	}
	return ks, nil
}

// infoOf lists a keyset's keys as a file shows them.
func infoOf(ks *tinkpb.Keyset) []KeyInfo {
	out := make([]KeyInfo, 0, len(ks.GetKey()))
	for _, k := range ks.GetKey() {
		ki := KeyInfo{KeyID: k.GetKeyId(), Primary: k.GetKeyId() == ks.GetPrimaryKeyId()}
		switch k.GetStatus() {
		case tinkpb.KeyStatusType_ENABLED:
			ki.Status, ki.Algorithm = "enabled", Algorithm
		case tinkpb.KeyStatusType_DISABLED:
			ki.Status, ki.Algorithm = "disabled", Algorithm
		default:
			ki.Status = "destroyed"
		}
		out = append(out, ki)
	}
	return out
}

// clearKeyset zeroes the key material of a parsed keyset.
func clearKeyset(ks *tinkpb.Keyset) {
	for _, k := range ks.GetKey() {
		clear(k.GetKeyData().GetValue())
	}
}

// newKey returns a new X-AES-GCM key of the given id.
func newKey(id uint32) (*tinkpb.Keyset_Key, error) {
	kv := make([]byte, keySize)
	if _, err := rand.Read(kv); err != nil {
		return nil, err
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(&xpb.XAesGcmKey{
		Version: 0, Params: &xpb.XAesGcmParams{SaltSize: saltSize}, KeyValue: kv})
	clear(kv)
	if err != nil {
		return nil, err
	}
	return &tinkpb.Keyset_Key{
		KeyData:          &tinkpb.KeyData{TypeUrl: xaesTypeURL, Value: v, KeyMaterialType: tinkpb.KeyData_SYMMETRIC},
		Status:           tinkpb.KeyStatusType_ENABLED,
		KeyId:            id,
		OutputPrefixType: tinkpb.OutputPrefixType_RAW,
	}, nil
}

// Create makes a new keyset of one key for class and writes it to the
// class's file, encrypted under every key of the store with the class's key
// context. It makes one KMS Encrypt per key and no Decrypt, and fails with
// ErrExists if the file exists.
func (s *Store) Create(ctx context.Context, class string, ec map[string]string) error {
	if !format.ValidClass(class) {
		return fmt.Errorf("keyset: invalid class name %q", class)
	}
	path := s.Path(class)
	if _, err := os.Lstat(path); err == nil {
		return &Error{Path: path, Class: class, Err: ErrExists}
	}
	k, err := newKey(1)
	if err != nil {
		return &Error{Path: path, Class: class, Err: err}
	}
	ks := &tinkpb.Keyset{PrimaryKeyId: 1, Key: []*tinkpb.Keyset_Key{k}}
	defer clearKeyset(ks)
	return s.write(ctx, class, format.KeyContext(ec, class), ks, s.seedsFor(class, ks, nil), false)
}

// Rotate makes a newer key the primary key of class's keyset: new tokens
// use it, and the old keys stay for reading older tokens. The newer key is
// the one Stage added, if the newest key is such a key; else Rotate adds
// one. It returns the primary key's id. A running process keeps the keyset
// it loaded until it is restarted with the new file, and cannot read tokens
// of a key its keyset lacks: Stage first to avoid that (see SECURITY.md).
func (s *Store) Rotate(ctx context.Context, class string, ec map[string]string) (uint32, error) {
	return s.addKey(ctx, class, ec, true)
}

// Stage adds a new key to class's keyset without making it primary, so
// that every process can read its tokens once redeployed with the file,
// before Rotate makes it primary. It returns the new key's id.
func (s *Store) Stage(ctx context.Context, class string, ec map[string]string) (uint32, error) {
	return s.addKey(ctx, class, ec, false)
}

func (s *Store) addKey(ctx context.Context, class string, ec map[string]string, primary bool) (uint32, error) {
	kctx := format.KeyContext(ec, class)
	ks, sg, err := s.decrypt(ctx, class, kctx, "admin")
	if err != nil {
		return 0, err
	}
	defer clearKeyset(ks)
	var top uint32
	var newest *tinkpb.Keyset_Key
	for _, k := range ks.GetKey() {
		if k.GetKeyId() > top {
			top, newest = k.GetKeyId(), k
		}
	}
	if primary && top > ks.GetPrimaryKeyId() && newest.GetStatus() == tinkpb.KeyStatusType_ENABLED {
		ks.PrimaryKeyId = top // promote the staged key
		if err := s.write(ctx, class, kctx, ks, s.seedsFor(class, ks, sg), true); err != nil {
			return 0, err
		}
		return top, nil
	}
	if top >= format.MaxKeysetKeyID {
		return 0, &Error{Path: s.Path(class), Class: class, Err: ErrFull}
	}
	k, err := newKey(top + 1)
	if err != nil {
		return 0, &Error{Path: s.Path(class), Class: class, Err: err}
	}
	ks.Key = append(ks.Key, k)
	if primary {
		ks.PrimaryKeyId = top + 1
	}
	if err := s.write(ctx, class, kctx, ks, s.seedsFor(class, ks, sg), true); err != nil {
		return 0, err
	}
	return top + 1, nil
}

// Destroy removes the key material of key keyID from class's keyset and
// marks it destroyed: tokens made with it can never be read again from
// this file. Copies of older versions of the file (in version control, in
// deployed packages) still hold the key; see SECURITY.md. The primary key
// cannot be destroyed (ErrPrimary).
func (s *Store) Destroy(ctx context.Context, class string, ec map[string]string, keyID uint32) error {
	kctx := format.KeyContext(ec, class)
	ks, sg, err := s.decrypt(ctx, class, kctx, "admin")
	if err != nil {
		return err
	}
	defer clearKeyset(ks)
	fail := func(err error) error { return &Error{Path: s.Path(class), Class: class, KeyID: keyID, Err: err} }
	i := slices.IndexFunc(ks.GetKey(), func(k *tinkpb.Keyset_Key) bool { return k.GetKeyId() == keyID })
	switch {
	case i < 0:
		return fail(ErrNoSuchKey)
	case keyID == ks.GetPrimaryKeyId():
		return fail(ErrPrimary)
	case ks.Key[i].GetStatus() == tinkpb.KeyStatusType_DESTROYED:
		return fail(ErrDestroyed)
	}
	clear(ks.Key[i].GetKeyData().GetValue())
	ks.Key[i].KeyData = nil
	ks.Key[i].Status = tinkpb.KeyStatusType_DESTROYED
	// A destroyed key's signing key goes with it (seedsFor keeps none).
	return s.write(ctx, class, kctx, ks, s.seedsFor(class, ks, sg), true)
}

// List returns the key list of class's file, as the file states it, without
// a KMS call. Load checks that list against the keyset.
func (s *Store) List(class string) ([]KeyInfo, error) {
	fl, err := s.read(class)
	if err != nil {
		return nil, err
	}
	return fl.Keys, nil
}

// write encrypts ks under every key of the store and writes the class's
// file atomically: a temporary file in the same directory, then a rename
// (replace) or a hard link (no replace, so that Create never overwrites a
// file made meanwhile).
// seeds, if not nil, are the signing keys' seeds by key id: the file is
// then written signed (see signed.go).
func (s *Store) write(ctx context.Context, class string, kctx map[string]string, ks *tinkpb.Keyset, seeds map[uint32][]byte, replace bool) error {
	path := s.Path(class)
	fail := func(err error) error { return &Error{Path: path, Class: class, Err: err} }
	pt, err := proto.MarshalOptions{Deterministic: true}.Marshal(ks)
	if err != nil {
		return fail(err)
	}
	defer clear(pt)
	readerPT, readerCtx := pt, kctx
	var writerPT []byte
	if seeds != nil {
		readerPT, _ = readerPlaintext(pt, seeds)
		writerPT = appendSigned(nil, writerLabel, pt, seeds)
		defer clear(writerPT)
		readerCtx = roleContext(kctx, RoleReader)
	}
	if n := max(len(readerPT), len(writerPT)); n > maxKMSPlaintext {
		return fail(fmt.Errorf("%w (%d bytes, KMS encrypts at most %d)", ErrFull, n, maxKMSPlaintext))
	}
	fl := file{Version: FileVersion, Class: class, Keys: infoOf(ks), KeysetDigest: digestOf(readerPT)}
	for _, kr := range s.krs {
		ct, err := kr.EncryptSecret(ctx, "encrypt keyset", readerPT, readerCtx)
		if err != nil {
			return fail(err)
		}
		fl.EncryptedKeysets = append(fl.EncryptedKeysets, encrypted{KeyARN: kr.KeyARN(), Ciphertext: ct})
		if seeds == nil {
			continue
		}
		ct, err = kr.EncryptSecret(ctx, "encrypt writer keyset", writerPT, roleContext(kctx, RoleWriter))
		if err != nil {
			return fail(err)
		}
		fl.WriterKeysets = append(fl.WriterKeysets, encrypted{KeyARN: kr.KeyARN(), Ciphertext: ct})
	}
	data, err := json.MarshalIndent(fl, "", "  ")
	if err != nil {
		return fail(err)
	}
	data = append(data, '\n')
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(s.dir, "."+class+".json.tmp*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fail(err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		err = ErrExists
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// Keyset is the decrypted keyset of one class. It holds only the AEAD
// primitives of enabled keys and the status of the others; formatting it
// prints no key material.
type Keyset struct {
	path, class string
	primary     uint32
	keys        map[uint32]*key
}

type key struct {
	status tinkpb.KeyStatusType
	aead   tink.AEAD // nil unless enabled
	// verify is the key's verifying key (a signed file's), sign its
	// private key (a writer's copy, enabled keys only).
	verify ed25519.PublicKey
	sign   ed25519.PrivateKey
}

// Class returns the keyset's class.
func (k *Keyset) Class() string { return k.class }

// Primary returns the id of the key that seals new values.
func (k *Keyset) Primary() uint32 { return k.primary }

// Seal appends to dst the sealing of plaintext with the primary key and
// associated data ad, which should name Primary (a token header does).
// The result is salt (8 bytes), nonce (12), ciphertext and tag (16).
func (k *Keyset) Seal(dst, plaintext, ad []byte) ([]byte, error) {
	ct, err := k.keys[k.primary].aead.Encrypt(plaintext, ad)
	if err != nil {
		return nil, &Error{Path: k.path, Class: k.class, KeyID: k.primary, Err: err}
	}
	return append(dst, ct...), nil
}

// Sign appends to dst the Ed25519 signature of msg by the primary key's
// signing key. It fails with ErrNotSigned unless the keyset was loaded by
// LoadWriter.
func (k *Keyset) Sign(dst, msg []byte) ([]byte, error) {
	sk := k.keys[k.primary].sign
	if sk == nil {
		return nil, &Error{Path: k.path, Class: k.class, KeyID: k.primary, Err: ErrNotSigned}
	}
	return append(dst, ed25519.Sign(sk, msg)...), nil
}

// VerifyingKey returns the verifying key of key keyID, of a signed file. It
// fails with ErrNoSuchKey, ErrDestroyed or ErrNoVerifyingKey.
func (k *Keyset) VerifyingKey(keyID uint32) (ed25519.PublicKey, error) {
	e, err := k.key(keyID)
	if err == nil && e.verify == nil {
		err = k.fail(keyID, ErrNoVerifyingKey)
	}
	if err != nil {
		return nil, err
	}
	return e.verify, nil
}

// key returns key keyID, or an error for a key that is absent or
// destroyed.
func (k *Keyset) key(keyID uint32) (*key, error) {
	e, ok := k.keys[keyID]
	switch {
	case !ok:
		return nil, k.fail(keyID, ErrNoSuchKey)
	case e.status == tinkpb.KeyStatusType_DESTROYED:
		return nil, k.fail(keyID, ErrDestroyed)
	}
	return e, nil
}

func (k *Keyset) fail(keyID uint32, err error) error {
	return &Error{Path: k.path, Class: k.class, KeyID: keyID, Err: err}
}

// Open appends to dst the plaintext of sealed, sealed by key keyID with
// associated data ad. It fails with ErrNoSuchKey, ErrDestroyed or
// ErrDisabled for a key it cannot use, and with envelope.ErrOpen if the
// value does not authenticate.
func (k *Keyset) Open(dst []byte, keyID uint32, sealed, ad []byte) ([]byte, error) {
	e, err := k.key(keyID)
	if err == nil && e.aead == nil {
		err = k.fail(keyID, ErrDisabled)
	}
	if err != nil {
		return nil, err
	}
	pt, err := e.aead.Decrypt(sealed, ad)
	if err != nil {
		return nil, k.fail(keyID, envelope.ErrOpen)
	}
	return append(dst, pt...), nil
}

// String returns a fixed text: a keyset never formats its keys.
func (k *Keyset) String() string {
	return fmt.Sprintf("keyset.Keyset(%s, %d keys, primary %d)", k.class, len(k.keys), k.primary)
}

// GoString is like String, for %#v.
func (k *Keyset) GoString() string { return k.String() }

// Format prints the fixed text for every verb.
func (k *Keyset) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// maxKMSPlaintext is the largest plaintext KMS Encrypt accepts: a keyset
// must serialise to no more.
const maxKMSPlaintext = 4096
