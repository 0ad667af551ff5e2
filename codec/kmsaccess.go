package codec

import (
	"fmt"
	"maps"
	"slices"

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
	// configured encryption context and format.ClassKey ("sfnenc:class").
	Context map[string]string
	// ContextKeys is every key the request carries, sorted: those of
	// Context and those whose value comes from the document
	// ("sfnenc:bind" of an ESDK-mode rule with bind).
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
	keysFor := func(f string) []string {
		if normFormat(f) == "esdk" && r.Bind != "" {
			return slices.Sorted(slices.Values(append(slices.Clone(keys), format.BindingKey)))
		}
		return keys
	}
	var out []KMSRequest
	add := func(action, arn string, ks []string) {
		for _, q := range out {
			if q.Action == action && q.KeyARN == arn {
				return
			}
		}
		out = append(out, KMSRequest{Action: action, KeyARN: arn, Context: maps.Clone(ctx), ContextKeys: slices.Clone(ks)})
	}
	own := c.Keyrings[r.Keyring]
	switch d {
	case Write:
		switch {
		case own.KMS != nil:
			add(ActionGenerateDataKey, own.KMS.KeyARN, keysFor(r.Format))
			for _, bg := range own.KMS.BreakGlassKeyARNs {
				add(ActionEncrypt, bg, keysFor(r.Format))
			}
		case own.KMSKeyset != nil:
			add(ActionDecrypt, own.KMSKeyset.KeyARN, keys)
		}
	case Read:
		for _, rd := range append([]ReadRule{{Keyring: r.Keyring, Format: r.Format}}, r.Read...) {
			kr := c.Keyrings[rd.Keyring]
			switch {
			case kr.KMS != nil:
				add(ActionDecrypt, kr.KMS.KeyARN, keysFor(rd.Format))
			case kr.KMSKeyset != nil:
				add(ActionDecrypt, kr.KMSKeyset.KeyARN, keys)
			}
		}
	case KeysetAdmin:
		if k := own.KMSKeyset; k != nil {
			add(ActionDecrypt, k.KeyARN, keys)
			for _, arn := range append([]string{k.KeyARN}, k.BreakGlassKeyARNs...) {
				add(ActionEncrypt, arn, keys)
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
			add(ActionDecrypt, bg, keysFor(r.Format))
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
