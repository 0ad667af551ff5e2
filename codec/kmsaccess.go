package codec

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/format"
)

// KMS actions, as IAM and key policies name them.
const (
	ActionGenerateDataKey = "kms:GenerateDataKey"
	ActionEncrypt         = "kms:Encrypt"
	ActionDecrypt         = "kms:Decrypt"
)

// A Duty is what a principal does with a class, and so which KMS requests
// it makes for it.
type Duty int

const (
	// Write: make tokens of the class (a function's result, a backend's
	// StartExecution input).
	Write Duty = iota + 1
	// Read: open tokens of the class with the configuration as written
	// (a function's event, an operator's sfn-decrypt).
	Read
	// KeysetAdmin: create, rotate and destroy the class's keyset files
	// (sfn-decrypt keyset), for a class of a kmsKeyset keyring.
	KeysetAdmin
	// BreakGlassRead: open tokens of the class with a configuration whose
	// keyArn is one of the keyring's break-glass keys (SECURITY.md,
	// "Break-glass procedure").
	BreakGlassRead
)

func (d Duty) String() string {
	switch d {
	case Write:
		return "write"
	case Read:
		return "read"
	case KeysetAdmin:
		return "keyset-admin"
	case BreakGlassRead:
		return "break-glass-read"
	}
	return fmt.Sprintf("Duty(%d)", int(d))
}

// KMSRequest is one kind of KMS request made for a class: its action, the
// key it names, and the encryption context it carries. Key policies and IAM
// policies that grant exactly these requests are least privilege for the
// class (sfn-decrypt policy writes them).
type KMSRequest struct {
	Action string // ActionGenerateDataKey, ActionEncrypt or ActionDecrypt
	KeyARN string
	// Context holds the entries whose values the configuration fixes: the
	// configured encryption context, format.ClassKey ("sfnenc:class") and,
	// for a copy of a signed class's keyset file, keyset.RoleKey.
	Context map[string]string
	// ContextKeys is every key the request carries, sorted: those of
	// Context and those whose value comes from the document or the token:
	// a rule's per-call context entries, "sfnenc:vk" of a signed class in
	// envelope mode, "sfnenc:bind" of an ESDK-mode rule with bind.
	ContextKeys []string
}

// KMSRequests returns the kinds of KMS request that a principal with duty d
// makes for class: the one list that policies are written from. A class of
// an insecure local keyring makes none. Writers in envelope and ESDK mode
// make data keys under the keyring's key and wrap them under each
// break-glass key; writers and readers in keyset mode decrypt the class's
// keyset file; readers decrypt under the key of the rule's keyring and of
// each keyring its read list names (a reader with a primary key reads
// only through it); keyset administrators encrypt the keyset under every
// key of the keyring and decrypt the primary copy.
func (c *Config) KMSRequests(class string, d Duty) ([]KMSRequest, error) {
	i := slices.IndexFunc(c.Rules, func(r Rule) bool { return r.Class == class })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClass, class)
	}
	r := c.Rules[i]
	ctx := format.KeyContext(c.EncryptionContext, class)
	keys := slices.Sorted(maps.Keys(ctx))
	// keysFor is the context keys of a data-key request (envelope and ESDK
	// mode): the fixed ones, the rule's per-call entries (their values come
	// from the document), the verifying key of a signed class (envelope
	// mode), and the binding (ESDK mode).
	keysFor := func(f string) []string {
		ks := slices.Clone(keys)
		ks = append(ks, slices.Collect(maps.Keys(r.Context))...)
		switch {
		case normFormat(f) == "esdk" && r.Bind != "":
			ks = append(ks, format.BindingKey)
		case normFormat(f) != "esdk" && r.Signed != SignedOff:
			ks = append(ks, format.VerifyingKeyKey)
		}
		slices.Sort(ks)
		return slices.Compact(ks)
	}
	// roles are the copies of the class's keyset file that a duty
	// decrypts (keyset mode): a signed class's readers and writers each
	// have their own copy (sfnenc:role); an unsigned class's file has one
	// kind, without that entry. In a staged rollout readers may still meet
	// an unsigned file.
	// Keyset administrators decrypt the writers' copy (or, converting a
	// file made before the class was signed, its one kind of copy) and
	// encrypt both kinds.
	roles := func(action string, d Duty) []string {
		if r.Signed == SignedOff {
			return []string{""}
		}
		switch {
		case d == Write:
			return []string{keyset.RoleWriter}
		case d == KeysetAdmin && action == ActionDecrypt:
			return []string{keyset.RoleWriter, ""}
		case d == KeysetAdmin:
			return []string{keyset.RoleWriter, keyset.RoleReader}
		case r.Signed == SignedStaged:
			return []string{keyset.RoleReader, ""}
		}
		return []string{keyset.RoleReader}
	}
	var out []KMSRequest
	add := func(action, arn string, c map[string]string, ks []string) {
		for _, q := range out {
			if q.Action == action && q.KeyARN == arn && maps.Equal(q.Context, c) {
				return
			}
		}
		out = append(out, KMSRequest{Action: action, KeyARN: arn, Context: maps.Clone(c), ContextKeys: slices.Clone(ks)})
	}
	addKeyset := func(action, arn string, d Duty) {
		for _, role := range roles(action, d) {
			if role == "" {
				add(action, arn, ctx, keys)
				continue
			}
			rc := maps.Clone(ctx)
			rc[keyset.RoleKey] = role
			add(action, arn, rc, slices.Sorted(maps.Keys(rc)))
		}
	}
	own := c.Keyrings[r.Keyring]
	switch d {
	case Write:
		switch {
		case own.KMS != nil:
			add(ActionGenerateDataKey, own.KMS.KeyARN, ctx, keysFor(r.Format))
			for _, bg := range own.KMS.BreakGlassKeyARNs {
				add(ActionEncrypt, bg, ctx, keysFor(r.Format))
			}
		case own.KMSKeyset != nil:
			addKeyset(ActionDecrypt, own.KMSKeyset.KeyARN, Write)
		}
	case Read:
		for _, rd := range append([]ReadRule{{Keyring: r.Keyring, Format: r.Format}}, r.Read...) {
			kr := c.Keyrings[rd.Keyring]
			switch {
			case kr.KMS != nil:
				add(ActionDecrypt, kr.KMS.KeyARN, ctx, keysFor(rd.Format))
			case kr.KMSKeyset != nil:
				addKeyset(ActionDecrypt, kr.KMSKeyset.KeyARN, Read)
			}
		}
	case KeysetAdmin:
		if k := own.KMSKeyset; k != nil {
			addKeyset(ActionDecrypt, k.KeyARN, KeysetAdmin)
			for _, arn := range append([]string{k.KeyARN}, k.BreakGlassKeyARNs...) {
				addKeyset(ActionEncrypt, arn, KeysetAdmin)
			}
		}
	case BreakGlassRead:
		var bgs []string
		switch {
		case own.KMS != nil:
			bgs = own.KMS.BreakGlassKeyARNs
		case own.KMSKeyset != nil:
			bgs = own.KMSKeyset.BreakGlassKeyARNs
		}
		for _, bg := range bgs {
			if own.KMSKeyset != nil {
				addKeyset(ActionDecrypt, bg, Read)
				continue
			}
			add(ActionDecrypt, bg, ctx, keysFor(r.Format))
		}
	default:
		return nil, fmt.Errorf("codec: unknown duty %v", d)
	}
	return out, nil
}

// KeyARNs returns every KMS key ARN the configuration names, without
// repeats: those of the rules' keyrings in the order of the rules, then
// the other keyrings' by name; each key before its break-glass keys.
func (c *Config) KeyARNs() []string {
	var out []string
	var names []string
	for _, r := range c.Rules {
		names = appendNew(names, r.Keyring)
	}
	names = appendNew(names, slices.Sorted(maps.Keys(c.Keyrings))...)
	for _, name := range names {
		kr := c.Keyrings[name]
		var arns []string
		switch {
		case kr.KMS != nil:
			arns = append([]string{kr.KMS.KeyARN}, kr.KMS.BreakGlassKeyARNs...)
		case kr.KMSKeyset != nil:
			arns = append([]string{kr.KMSKeyset.KeyARN}, kr.KMSKeyset.BreakGlassKeyARNs...)
		}
		out = appendNew(out, arns...)
	}
	return out
}

// appendNew appends the strings that out does not hold yet.
func appendNew(out []string, ss ...string) []string {
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// BreakGlassKeyARNs returns the key ARNs that some keyring names as a
// break-glass key.
func (c *Config) BreakGlassKeyARNs() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.Keyrings)) {
		kr := c.Keyrings[name]
		var arns []string
		switch {
		case kr.KMS != nil:
			arns = kr.KMS.BreakGlassKeyARNs
		case kr.KMSKeyset != nil:
			arns = kr.KMSKeyset.BreakGlassKeyARNs
		}
		out = appendNew(out, arns...)
	}
	return out
}
