package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// Config is the configuration shared by the library, the Lambda middleware
// and the sfn-decrypt CLI. It is usually read from a JSON file with
// LoadConfig; see the README for the file's shape.
type Config struct {
	// EncryptionContext is bound to every token, as KMS encryption
	// context and as associated data. A reader must configure the same
	// context to decrypt. Keys starting with "sfnenc:" or "aws-crypto-"
	// are reserved.
	EncryptionContext map[string]string `json:"encryptionContext,omitempty"`
	// Keyrings by name.
	Keyrings map[string]KeyringConfig `json:"keyrings"`
	// Rules say what to encrypt, as which class, with which keyring.
	Rules []Rule `json:"rules"`

	// dir is the directory relative paths are resolved against.
	dir string
	// selectors[i] are the parsed selectors of Rules[i].
	selectors [][]*fieldpath.Selector
	// binds[i] is the parsed Bind of Rules[i], or nil.
	binds []*fieldpath.Selector
	// contexts[i] are the parsed Context entries of Rules[i], by key.
	contexts [][]contextEntry
}

// contextEntry is one entry of a rule's Context, parsed.
type contextEntry struct {
	key string
	sel *fieldpath.Selector
}

// KeyringConfig names the keys of one keyring. Exactly one field is set.
type KeyringConfig struct {
	KMS *KMSKeyringConfig `json:"kms,omitempty"`
	// KMSKeyset keeps one KMS-encrypted keyset per class in a directory
	// (keyset mode: compact tokens, one KMS call per class per process).
	KMSKeyset *KMSKeysetConfig `json:"kmsKeyset,omitempty"`
	// InsecureLocalKeyset is the path of a cleartext Tink keyset file
	// (relative to the configuration file). For development and tests
	// only: anyone who reads the file can decrypt.
	InsecureLocalKeyset string `json:"insecureLocalKeyset,omitempty"`
}

// KMSKeyringConfig names AWS KMS keys by key ARN.
type KMSKeyringConfig struct {
	// KeyARN makes and wraps data keys.
	KeyARN string `json:"keyArn"`
	// BreakGlassKeyARNs also wrap every data key, so that holders of any
	// of them (in another account, say) can decrypt.
	BreakGlassKeyARNs []string `json:"breakGlassKeyArns,omitempty"`
}

// KMSKeysetConfig names the KMS keys that encrypt the keyset files of a
// keyset-mode keyring, and the directory that holds them.
type KMSKeysetConfig struct {
	// KeyARN encrypts each class's keyset, under the class's key context.
	KeyARN string `json:"keyArn"`
	// BreakGlassKeyARNs also encrypt each keyset, so that holders of any
	// of them can read the keyset, and so the tokens.
	BreakGlassKeyARNs []string `json:"breakGlassKeyArns,omitempty"`
	// Dir holds one file <class>.json per class of the keyring's rules
	// (relative to the configuration file).
	Dir string `json:"dir"`
}

// Rule selects values to encrypt as one class.
type Rule struct {
	// Class names the kind of data (for example "contact"). It is bound
	// to each token and to the KMS encryption context (key
	// "sfnenc:class"), so that key policies can grant decryption per
	// class.
	Class string `json:"class"`
	// Keyring names an entry of Config.Keyrings.
	Keyring string `json:"keyring"`
	// Select holds RFC 9535 JSONPath queries.
	Select []string `json:"select"`
	// Format is "native" (the default) or "esdk": each token is then an
	// AWS Encryption SDK message that other ESDK clients can decrypt
	// (KMS keyrings only; slower and larger, see the README). With a
	// kmsKeyset keyring, "native" tokens are keyset-mode tokens (mode 0x03).
	Format string `json:"format,omitempty"`
	// Pad, if over 1, pads each plaintext with spaces to a multiple of
	// Pad bytes before sealing, so that tokens hide the exact length of
	// values (up to 4096).
	Pad int `json:"pad,omitempty"`
	// Read names further keyrings and formats under which tokens of the
	// class open, for readers that must still read tokens made before a
	// change of keyring or format (rotation). A token of the class opens
	// only under the rule's own keyring and format or one of these;
	// Encrypt always uses the rule's own.
	Read []ReadRule `json:"read,omitempty"`
	// Bind, if set, is a singular RFC 9535 query (such as
	// "$.creditApplicationId") whose value, a string or number that no
	// rule encrypts, is bound to each of the rule's tokens: a token moved
	// into a document where that value differs, or is absent, does not
	// decrypt. Writers and readers must name the same path.
	Bind string `json:"bind,omitempty"`
	// Signed makes the class writer-authenticated (SECURITY.md, "Signed
	// classes"): SignedRequired (true in JSON) signs every token and
	// refuses unsigned ones; SignedStaged ("staged") signs every token and
	// still reads unsigned ones, for the first of two deployments that
	// turn signing on; SignedOff (false, the default) signs nothing.
	Signed Signing `json:"signed,omitempty"`
	// Context takes encryption context entries from the document: each
	// key maps to a singular RFC 9535 query (such as "$.tenantId") whose
	// value, a string or number that no rule encrypts, joins the key
	// context of the rule's tokens in that document: the KMS encryption
	// context of their data keys in envelope mode (one data key per
	// distinct value), the associated data in keyset mode, the message's
	// context in ESDK mode. Keys are not reserved and not keys of
	// EncryptionContext. See SECURITY.md, "Encryption context per call".
	Context map[string]string `json:"context,omitempty"`
}

// Signing says whether a rule signs its tokens (Rule.Signed). In JSON it
// is false, true or "staged".
type Signing string

// Values of Signing.
const (
	SignedOff      Signing = ""
	SignedStaged   Signing = "staged"
	SignedRequired Signing = "true"
)

// UnmarshalJSON reads false, true or "staged". Any other value is kept, for
// Validate to refuse naming the field.
func (s *Signing) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "false", "null":
		*s = SignedOff
	case "true":
		*s = SignedRequired
	case `"staged"`:
		*s = SignedStaged
	default:
		*s = Signing("invalid " + string(b))
	}
	return nil
}

// MarshalJSON writes false, true or "staged".
func (s Signing) MarshalJSON() ([]byte, error) {
	switch s {
	case SignedOff:
		return []byte("false"), nil
	case SignedRequired:
		return []byte("true"), nil
	}
	return json.Marshal(string(s))
}

// ReadRule is a keyring and format that a rule also reads.
type ReadRule struct {
	Keyring string `json:"keyring"`
	Format  string `json:"format,omitempty"`
}

// ErrConfig marks configuration errors. A *ConfigError wraps it.
var ErrConfig = errors.New("codec: bad configuration")

// ConfigError says which part of a configuration is wrong.
type ConfigError struct {
	Field string // e.g. "rules[1].select[0]"
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("codec: configuration: %v", e.Err)
	}
	return fmt.Sprintf("codec: configuration: %s: %v", e.Field, e.Err)
}

// Unwrap returns ErrConfig and the cause.
func (e *ConfigError) Unwrap() []error { return []error{ErrConfig, e.Err} }

func cfgErr(field string, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// LoadConfig reads and checks a JSON configuration file. Relative paths in
// it are resolved against the file's directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	c, err := parseConfig(data, filepath.Dir(path))
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Field == "" {
			ce.Field = path
		}
		return nil, err
	}
	return c, nil
}

// ParseConfig reads and checks a JSON configuration. Relative paths in it
// are resolved against the working directory.
func ParseConfig(data []byte) (*Config, error) {
	return parseConfig(data, "")
}

func parseConfig(data []byte, dir string) (*Config, error) {
	// Duplicate names would make the configuration mean two things.
	if _, err := jsontape.Scan(data, jsontape.Limits{}); err != nil {
		return nil, &ConfigError{Err: err}
	}
	// encoding/json matches member names without regard to case, so
	// "keyARN" would be taken for "keyArn" while "keyArm" is refused:
	// names must match exactly.
	if err := checkNames(data, reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	c := new(Config)
	if err := dec.Decode(c); err != nil {
		return nil, &ConfigError{Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ConfigError{Err: errors.New("data after the configuration object")}
	}
	c.dir = dir
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the configuration and parses its selectors. LoadConfig
// and ParseConfig call it; call it yourself on a Config built in code.
func (c *Config) Validate() error {
	if err := format.ValidContext(c.EncryptionContext); err != nil {
		return cfgErr("encryptionContext", "%v", err)
	}
	if len(c.Keyrings) == 0 {
		return cfgErr("keyrings", "no keyrings")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Keyrings)) {
		if err := c.Keyrings[name].validate(); err != nil {
			return cfgErr("keyrings."+name, "%v", err)
		}
	}
	if len(c.Rules) == 0 {
		return cfgErr("rules", "no rules")
	}
	classes := map[string]int{}
	c.selectors = make([][]*fieldpath.Selector, len(c.Rules))
	c.binds = make([]*fieldpath.Selector, len(c.Rules))
	c.contexts = make([][]contextEntry, len(c.Rules))
	for i, r := range c.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if !format.ValidClass(r.Class) {
			return cfgErr(field+".class", "invalid class name %q (1-63 of A-Z a-z 0-9 _ - ., starting with a letter or digit)", r.Class)
		}
		if j, dup := classes[r.Class]; dup {
			return cfgErr(field+".class", "class %q is also the class of rules[%d]", r.Class, j)
		}
		classes[r.Class] = i
		if _, ok := c.Keyrings[r.Keyring]; !ok {
			return cfgErr(field+".keyring", "unknown keyring %q", r.Keyring)
		}
		if err := c.checkFormat(field, r.Keyring, r.Format); err != nil {
			return err
		}
		seen := map[ReadRule]bool{{Keyring: r.Keyring, Format: normFormat(r.Format)}: true}
		for j, rd := range r.Read {
			f := fmt.Sprintf("%s.read[%d]", field, j)
			if _, ok := c.Keyrings[rd.Keyring]; !ok {
				return cfgErr(f+".keyring", "unknown keyring %q", rd.Keyring)
			}
			if err := c.checkFormat(f, rd.Keyring, rd.Format); err != nil {
				return err
			}
			k := ReadRule{Keyring: rd.Keyring, Format: normFormat(rd.Format)}
			if seen[k] {
				return cfgErr(f, "keyring %q with format %q is already read by this rule", rd.Keyring, k.Format)
			}
			seen[k] = true
		}
		if r.Bind != "" {
			b, err := fieldpath.Parse(r.Bind)
			if err != nil {
				return &ConfigError{Field: field + ".bind", Err: err}
			}
			if !b.Singular() {
				return cfgErr(field+".bind", "%q is not a singular query (names and indexes only, such as $.creditApplicationId)", r.Bind)
			}
			c.binds[i] = b
		}
		if err := c.checkSigning(field, r); err != nil {
			return err
		}
		if r.Context != nil {
			keys := map[string]string{}
			for k := range r.Context {
				keys[k] = ""
			}
			if err := format.ValidContext(keys); err != nil || len(r.Context) == 0 {
				if err == nil {
					err = errors.New("no entries")
				}
				return cfgErr(field+".context", "%v", err)
			}
			for _, k := range slices.Sorted(maps.Keys(r.Context)) {
				f := field + ".context." + k
				if _, clash := c.EncryptionContext[k]; clash {
					return cfgErr(f, "%q is also a key of encryptionContext", k)
				}
				sel, err := fieldpath.Parse(r.Context[k])
				if err != nil {
					return &ConfigError{Field: f, Err: err}
				}
				if !sel.Singular() {
					return cfgErr(f, "%q is not a singular query (names and indexes only, such as $.tenantId)", r.Context[k])
				}
				c.contexts[i] = append(c.contexts[i], contextEntry{key: k, sel: sel})
			}
		}
		if r.Pad < 0 || r.Pad > 4096 {
			return cfgErr(field+".pad", "pad %d out of range 0..4096", r.Pad)
		}
		if len(r.Select) == 0 {
			return cfgErr(field+".select", "no selectors")
		}
		for j, expr := range r.Select {
			s, err := fieldpath.Parse(expr)
			if err != nil {
				return &ConfigError{Field: fmt.Sprintf("%s.select[%d]", field, j), Err: err}
			}
			c.selectors[i] = append(c.selectors[i], s)
		}
	}
	return nil
}

// checkSigning refuses a Signed value other than the three, and signed
// classes in a mode that cannot sign.
func (c *Config) checkSigning(field string, r Rule) error {
	switch r.Signed {
	case SignedOff:
		return nil
	case SignedStaged, SignedRequired:
	default:
		v := strings.TrimPrefix(string(r.Signed), "invalid ")
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return cfgErr(field+".signed", "want true, false or \"staged\", not %s", v)
	}
	for j, rd := range append([]ReadRule{{Keyring: r.Keyring, Format: r.Format}}, r.Read...) {
		f := field
		if j > 0 {
			f = fmt.Sprintf("%s.read[%d]", field, j-1)
		}
		if rd.Format == "esdk" {
			return cfgErr(f+".format", "a signed class cannot use format \"esdk\" (see SECURITY.md, \"Signed classes\")")
		}
	}
	return nil
}

func normFormat(f string) string {
	if f == "" {
		return "native"
	}
	return f
}

func (c *Config) checkFormat(field, keyring, f string) error {
	switch f {
	case "", "native":
	case "esdk":
		if c.Keyrings[keyring].KMS == nil {
			return cfgErr(field+".format", "format \"esdk\" needs a kms keyring; %q is not one", keyring)
		}
	default:
		return cfgErr(field+".format", "unknown format %q (want \"native\" or \"esdk\")", f)
	}
	return nil
}

func (k KeyringConfig) validate() error {
	n := 0
	for _, set := range []bool{k.KMS != nil, k.KMSKeyset != nil, k.InsecureLocalKeyset != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("set one of kms, kmsKeyset and insecureLocalKeyset, not several")
	case k.KMS != nil:
		return validKeyARNs(append([]string{k.KMS.KeyARN}, k.KMS.BreakGlassKeyARNs...))
	case k.KMSKeyset != nil:
		if k.KMSKeyset.Dir == "" {
			return errors.New("kmsKeyset: no dir")
		}
		return validKeyARNs(append([]string{k.KMSKeyset.KeyARN}, k.KMSKeyset.BreakGlassKeyARNs...))
	case k.InsecureLocalKeyset != "":
	default:
		return errors.New("set kms, kmsKeyset or insecureLocalKeyset")
	}
	return nil
}

func validKeyARNs(arns []string) error {
	if len(arns) > format.MaxWrappedKeys {
		return fmt.Errorf("%d keys, at most %d", len(arns), format.MaxWrappedKeys)
	}
	seen := map[string]bool{}
	for _, a := range arns {
		if _, err := envelope.ParseKeyARN(a); err != nil {
			return err
		}
		if seen[a] {
			return fmt.Errorf("key %s appears twice", a)
		}
		seen[a] = true
	}
	return nil
}

// KeysetDir returns the directory of a kmsKeyset keyring's files, resolved
// against the configuration file's directory, or "" if the keyring named
// is not a kmsKeyset keyring.
func (c *Config) KeysetDir(keyring string) string {
	k, ok := c.Keyrings[keyring]
	if !ok || k.KMSKeyset == nil {
		return ""
	}
	return c.path(k.KMSKeyset.Dir)
}

// Classes returns the classes of the rules, in rule order.
func (c *Config) Classes() []string {
	out := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		out[i] = r.Class
	}
	return out
}

func (c *Config) path(p string) string {
	if filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// checkNames requires every member name of the JSON objects in data that
// decode into a struct of type t (and the structs it holds) to be exactly
// the name of one of its fields, as its json tag spells it. field is the
// position of data, for errors ("" for the root).
func checkNames(data []byte, t reflect.Type, field string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(data, &members) != nil {
			return nil // not an object: the decoder says what is wrong
		}
		names := map[string]reflect.Type{}
		for f := range t.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && name != "" && name != "-" {
				names[name] = f.Type
			}
		}
		for _, name := range slices.Sorted(maps.Keys(members)) {
			at := name
			if field != "" {
				at = field + "." + name
			}
			ft, ok := names[name]
			if !ok {
				for known := range names {
					if strings.EqualFold(known, name) {
						return cfgErr(at, "unknown field %q (names are case-sensitive: did you mean %q?)", name, known)
					}
				}
				return cfgErr(at, "unknown field %q", name)
			}
			if err := checkNames(members[name], ft, at); err != nil {
				return err
			}
		}
	case reflect.Slice:
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) != nil {
			return nil
		}
		for i, e := range elems {
			if err := checkNames(e, t.Elem(), fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		var elems map[string]json.RawMessage
		if json.Unmarshal(data, &elems) != nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(elems)) {
			if err := checkNames(elems[k], t.Elem(), field+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}
