package identityverification_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/samtemplate"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/stack"
	"github.com/sfnenc/sfnenc/internal/testbin"
)

const (
	classCondition = "kms:EncryptionContext:sfnenc:class"
	contextPrefix  = "kms:EncryptionContext:"
)

// backendWrites lists the classes the backend services encrypt: the
// application (identity, contact) and the provider's result
// (verification).
var backendWrites = []string{"contact", "identity", "verification"}

// The template's KMS keys, by logical id.
const (
	dataKey       = "IdentityDataKey"
	breakGlassKey = "BreakGlassKey"
)

// The KMS grants a statement may make, each on one key: reading and making
// data keys on the data key, and wrapping them (for break-glass reading)
// on the break-glass key. Only the break-glass role may decrypt with the
// break-glass key, and its grant is in the key's policy.
const (
	decrypt  = "kms:Decrypt on " + dataKey
	generate = "kms:GenerateDataKey on " + dataKey
	wrap     = "kms:Encrypt on " + breakGlassKey
)

// grants is what a set of IAM statements allows on the template's keys,
// by KMS operation and key (decrypt, generate, wrap): the classes, and the
// other encryption context entries each statement requires.
type grants struct {
	classes  map[string][]string            // decrypt -> sorted classes
	contexts map[string][]map[string]string // decrypt -> the context entries of each statement
}

// kmsGrants reads the KMS statements of a policy. Every statement that
// allows a KMS action must name one action on one of the template's keys,
// one of the grants decrypt, generate and wrap, and condition it on the
// class.
func kmsGrants(t *testing.T, who string, sts []samtemplate.Statement, values map[string]string) grants {
	t.Helper()
	g := grants{classes: map[string][]string{}, contexts: map[string][]map[string]string{}}
	keys := map[string]string{values[dataKey+".Arn"]: dataKey, values[breakGlassKey+".Arn"]: breakGlassKey}
	for _, st := range sts {
		var kmsActions []string
		for _, a := range st.Action {
			if strings.HasPrefix(a, "kms:") {
				kmsActions = append(kmsActions, a)
			}
		}
		if len(kmsActions) == 0 || st.Effect != "Allow" {
			continue
		}
		if len(kmsActions) != 1 {
			t.Errorf("%s: statement %s allows %v; want one KMS action per statement", who, st.Sid, st.Action)
			continue
		}
		res, err := samtemplate.Resolve(st.Resource, values)
		key := keys[res]
		if err != nil || key == "" {
			t.Errorf("%s: statement %s: Resource %v is neither %s nor %s", who, st.Sid, st.Resource, dataKey, breakGlassKey)
			continue
		}
		a := kmsActions[0] + " on " + key
		switch a {
		case decrypt, generate, wrap:
		case "kms:Decrypt on " + breakGlassKey:
			t.Errorf("%s: statement %s allows kms:Decrypt on %s; only the break-glass role may, by the key's policy", who, st.Sid, breakGlassKey)
			continue
		default:
			t.Errorf("%s: statement %s allows %s; want one of: %s; %s; %s", who, st.Sid, a, decrypt, generate, wrap)
			continue
		}
		if len(st.Condition) != 2 || st.Condition["StringEquals"] == nil || st.Condition["ForAllValues:StringEquals"] == nil {
			t.Errorf("%s: statement %s: want a StringEquals condition and a ForAllValues:StringEquals on the context keys, got %v", who, st.Sid, st.Condition)
			continue
		}
		if keys, err := samtemplate.ResolveList(st.Condition["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"], values); err != nil || len(keys) == 0 {
			t.Errorf("%s: statement %s: the context keys are not pinned: %v", who, st.Sid, st.Condition)
		}
		eq := st.Condition["StringEquals"]
		classes, err := samtemplate.ResolveList(eq[classCondition], values)
		if err != nil || len(classes) == 0 {
			t.Errorf("%s: statement %s: no %s condition", who, st.Sid, classCondition)
			continue
		}
		g.classes[a] = sortedUnion(g.classes[a], classes)
		g.contexts[a] = append(g.contexts[a], contextCondition(t, who, st, values))
	}
	return g
}

// contextCondition returns the encryption context entries other than the
// class that a statement's StringEquals condition requires.
func contextCondition(t *testing.T, who string, st samtemplate.Statement, values map[string]string) map[string]string {
	t.Helper()
	ctx := map[string]string{}
	for k, v := range st.Condition["StringEquals"] {
		if k == classCondition {
			continue
		}
		if !strings.HasPrefix(k, contextPrefix) {
			t.Errorf("%s: statement %s: unexpected condition key %s", who, st.Sid, k)
			continue
		}
		s, err := samtemplate.Resolve(v, values)
		if err != nil {
			t.Errorf("%s: statement %s: %s: %v", who, st.Sid, k, err)
		}
		ctx[strings.TrimPrefix(k, contextPrefix)] = s
	}
	return ctx
}

// keysetClasses returns the classes whose rules use a kmsKeyset keyring.
func keysetClasses(cfg *codec.Config) []string {
	var out []string
	for _, r := range cfg.Rules {
		if cfg.Keyrings[r.Keyring].KMSKeyset != nil {
			out = append(out, r.Class)
		}
	}
	return out
}

// noKMS is a KMS client for reading keyset files' clear part: it has no
// key (a stand-in, not a mock: nothing calls it).
type noKMS struct{ envelope.KMSClient }

func sortedUnion(a, b []string) []string {
	out := slices.Concat(a, b)
	sort.Strings(out)
	return slices.Compact(out)
}

// classList reads SFNENC_CLASSES ("-" for none).
func classList(v string) []string {
	if v == "-" || v == "" {
		return nil
	}
	out := strings.Split(v, ",")
	sort.Strings(out)
	return out
}

// templateValues are the values of the template's references in the local
// deployment.
func templateValues(t *testing.T, cfg *codec.Config) map[string]string {
	t.Helper()
	keys, err := stack.KeyValues(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var keysetDir string
	for _, k := range cfg.Keyrings {
		if k.KMSKeyset != nil {
			keysetDir = k.KMSKeyset.Dir
		}
	}
	values := map[string]string{
		// The configuration file names the keyset directory relative to
		// itself; the template, where the layer puts it.
		"KeysetDir":      keysetDir,
		"Stage":          stack.Stage,
		"AWS::Region":    stack.Region,
		"AWS::AccountId": stack.Account,
		"AWS::Partition": "aws",
		// The break-glass role's ARN, as IAM would make it.
		"BreakGlassReaderRole.Arn": "arn:aws:iam::" + stack.Account + ":role/BreakGlassReaderRole",
	}
	maps.Copy(values, keys)
	return values
}

type functionGrants struct {
	classes, errorClass     string
	decrypt, generate, wrap []string
}

// templateGrants returns each function's configured classes and the KMS
// classes its IAM policy grants, and checks every KMS statement's context
// against the configuration.
func templateGrants(t *testing.T) map[string]functionGrants {
	t.Helper()
	tmpl, err := samtemplate.Load(stack.TemplateFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := codec.LoadConfig(stack.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	values := templateValues(t, cfg)
	fns, err := tmpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]functionGrants{}
	for _, f := range fns {
		g := kmsGrants(t, f.LogicalID, f.Statements, values)
		for _, ctxs := range g.contexts {
			for _, ctx := range ctxs {
				if diff := cmp.Diff(cfg.EncryptionContext, ctx); diff != "" {
					t.Errorf("%s: a KMS statement's encryption context condition differs from %s (-config +template):\n%s", f.LogicalID, stack.ConfigFile, diff)
				}
			}
		}
		classes, _ := f.Env["SFNENC_CLASSES"].(string)
		errorClass, _ := f.Env["SFNENC_ERROR_CLASS"].(string)
		out[f.LogicalID] = functionGrants{
			classes:    classes,
			errorClass: errorClass,
			decrypt:    g.classes[decrypt],
			generate:   g.classes[generate],
			wrap:       g.classes[wrap],
		}
	}
	return out
}

// TestTemplateGrantsMatchConfiguration checks template.yaml against each
// function's sfnenc configuration: kms:Decrypt exactly for the classes of
// SFNENC_CLASSES, kms:GenerateDataKey exactly for the classes it writes,
// kms:Encrypt on the break-glass key for exactly those classes too, every
// grant conditioned on the configured encryption context, and the inline
// SFNENC_CONFIG equal to config/sfnenc.json. The break-glass key decrypts
// for the break-glass role alone, with MFA; the local-kms seed holds both
// keys under the template's aliases.
func TestTemplateGrantsMatchConfiguration(t *testing.T) {
	cfg, err := codec.LoadConfig(stack.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	known := cfg.Classes()
	grants := templateGrants(t)
	if len(grants) == 0 {
		t.Fatal("the template has no functions")
	}
	ids := make([]string, 0, len(grants))
	for id := range grants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	generated := generatedPolicies(t)
	tmpl, err := samtemplate.Load(stack.TemplateFile)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tmpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	values := templateValues(t, cfg)
	for _, f := range fns {
		g := grants[f.LogicalID]
		t.Run(f.LogicalID, func(t *testing.T) {
			if g.classes == "" {
				t.Fatalf("SFNENC_CLASSES is not set: the function would decrypt every class")
			}
			if _, ok := f.Env["SFNENC_WRITES"]; !ok {
				t.Fatalf("SFNENC_WRITES is not set: the function would be taken to write every class")
			}
			for _, c := range classList(g.classes) {
				if !slices.Contains(known, c) {
					t.Errorf("SFNENC_CLASSES names %q, which is not a class of %s", c, stack.ConfigFile)
				}
			}
			// The function's KMS statements are the ones sfn-decrypt
			// policy writes from its SFNENC_CLASSES and SFNENC_WRITES.
			want := generated.Roles[f.LogicalID]
			var got []any
			for _, st := range f.Statements {
				got = append(got, normalStatement(t, st, values))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("KMS statements differ from sfn-decrypt policy's (-policy +template):\n%s", diff)
			}
			// Whoever may wrap a data key under the break-glass key may
			// forge tokens of its class for break-glass readers: exactly
			// the classes the function makes data keys for.
			if diff := cmp.Diff(g.generate, g.wrap); diff != "" {
				t.Errorf("kms:Encrypt classes on %s differ from the kms:GenerateDataKey classes on %s (-%s +%s):\n%s", breakGlassKey, dataKey, dataKey, breakGlassKey, diff)
			}
		})
	}

	t.Run("keyset files", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		layer := tmpl.Resources["KeysetsLayer"]
		if layer == nil || layer.Type != "AWS::Serverless::LayerVersion" {
			t.Fatal("no layer KeysetsLayer")
		}
		var props struct {
			ContentURI string `yaml:"ContentUri"`
		}
		if err := layer.Properties.Decode(&props); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(tmpl.Globals.Function.Layers, func(l any) bool {
			m, ok := l.(map[string]any)
			return ok && m["Ref"] == "KeysetsLayer"
		}) {
			t.Error("the functions do not use KeysetsLayer")
		}
		// Each keyset-mode class has its file in the layer, where the
		// template's KeysetDir says (the layer's content is at /opt).
		for name, k := range cfg.Keyrings {
			if k.KMSKeyset == nil {
				continue
			}
			dir := cfg.KeysetDir(name)
			rel, err := filepath.Rel(filepath.Clean(props.ContentURI), dir)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("keyring %s: %s is not in the layer's %s", name, dir, props.ContentURI)
				continue
			}
			if want := "/opt/" + filepath.ToSlash(rel); tmpl.Parameters["KeysetDir"].Default != want {
				t.Errorf("KeysetDir defaults to %q, want %q", tmpl.Parameters["KeysetDir"].Default, want)
			}
			st, err := keyset.NewStore(dir, func(string) envelope.KMSClient { return noKMS{} }, k.KMSKeyset.KeyARN, k.KMSKeyset.BreakGlassKeyARNs...)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range cfg.Rules {
				if r.Keyring != name {
					continue
				}
				keys, err := st.List(r.Class)
				if err != nil {
					t.Errorf("class %s: %v", r.Class, err)
				} else if len(keys) == 0 {
					t.Errorf("class %s: an empty keyset", r.Class)
				}
			}
		}
	})

	t.Run("SFNENC_CONFIG", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		inline, err := samtemplate.Resolve(tmpl.Globals.Function.Environment.Variables["SFNENC_CONFIG"], templateValues(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(stack.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		var want, got any
		if err := json.Unmarshal(file, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(inline), &got); err != nil {
			t.Fatalf("SFNENC_CONFIG is not JSON: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("SFNENC_CONFIG differs from %s (-file +template):\n%s", stack.ConfigFile, diff)
		}
	})

	t.Run("managed policies", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		pols, err := tmpl.ManagedPolicies()
		if err != nil {
			t.Fatal(err)
		}
		values := templateValues(t, cfg)
		want := map[string]map[string][]string{
			"BackendServicePolicy":      {generate: backendWrites, wrap: backendWrites},
			"OperatorHistoryReadPolicy": {decrypt: sortedUnion(nil, known)},
		}
		got := map[string]map[string][]string{}
		for id, sts := range pols {
			g := kmsGrants(t, id, sts, values)
			got[id] = g.classes
			for _, ctxs := range g.contexts {
				for _, ctx := range ctxs {
					if diff := cmp.Diff(cfg.EncryptionContext, ctx); diff != "" {
						t.Errorf("%s: encryption context condition differs (-config +template):\n%s", id, diff)
					}
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("managed policies' KMS grants mismatch (-want +got):\n%s", diff)
		}
		// Their KMS statements are sfn-decrypt policy's for a writer and
		// a reader of those classes.
		for id, role := range map[string]string{"BackendServicePolicy": "BackendServiceRole", "OperatorHistoryReadPolicy": "OperatorRole"} {
			var kms []any
			for _, st := range pols[id] {
				if slices.ContainsFunc(st.Action, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
					kms = append(kms, normalStatement(t, st, values))
				}
			}
			if diff := cmp.Diff(generated.Roles[role], kms); diff != "" {
				t.Errorf("%s: KMS statements differ from sfn-decrypt policy's for %s (-policy +template):\n%s", id, role, diff)
			}
		}
	})

	t.Run("key policies", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := tmpl.KeyPolicies()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{breakGlassKey, dataKey}, slices.Sorted(maps.Keys(keys))); diff != "" {
			t.Errorf("KMS keys mismatch (-want +template):\n%s", diff)
		}
		values := templateValues(t, cfg)
		for _, key := range []string{dataKey, breakGlassKey} {
			want := map[string]any{}
			for _, st := range generated.Keys[key] {
				sid := st.(map[string]any)["Sid"].(string)
				want[sid] = st
			}
			// The differences README.md explains: each must still be one.
			for _, sid := range templateOmits[key] {
				if _, ok := want[sid]; !ok {
					t.Errorf("%s: sfn-decrypt policy writes no %s any more: update README.md and templateOmits", key, sid)
				}
				delete(want, sid)
			}
			got := map[string]any{}
			for _, st := range keys[key] {
				got[st.Sid] = normalStatement(t, st, values)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: key policy differs from sfn-decrypt policy's (-policy +template):\n%s", key, diff)
			}
		}
	})

	t.Run("break-glass key", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := tmpl.KeyPolicies()
		if err != nil {
			t.Fatal(err)
		}
		values := templateValues(t, cfg)
		role := values["BreakGlassReaderRole.Arn"]
		// Besides the account's administration of the key, the key policy
		// allows one thing: kms:Decrypt to the break-glass role, with MFA,
		// for the classes the key wraps data keys of.
		type allow struct {
			Principal, Action string
			Classes           []string
			Context           map[string]string
			MFA               any
		}
		var allows []allow
		var denies []string
		for _, st := range keys[breakGlassKey] {
			if st.Effect == "Deny" {
				denies = append(denies, denial(t, st, values)...)
				continue
			}
			if st.Sid == "AccountAdministersKeyAndDelegatesToIAM" {
				continue
			}
			p, _ := st.Principal.(map[string]any)
			principal, err := samtemplate.Resolve(p["AWS"], values)
			if err != nil {
				t.Errorf("statement %s: Principal %v: %v", st.Sid, st.Principal, err)
			}
			classes, _ := samtemplate.ResolveList(st.Condition["StringEquals"][classCondition], values)
			sort.Strings(classes)
			allows = append(allows, allow{principal, strings.Join(st.Action, ","), classes,
				contextCondition(t, breakGlassKey, st, values), st.Condition["Bool"]["aws:MultiFactorAuthPresent"]})
		}
		var wrapped []string
		for _, r := range cfg.Rules {
			if k := cfg.Keyrings[r.Keyring].KMS; k != nil && slices.Contains(k.BreakGlassKeyARNs, values[breakGlassKey+".Arn"]) {
				wrapped = append(wrapped, r.Class)
			}
		}
		sort.Strings(wrapped)
		want := []allow{{role, "kms:Decrypt", wrapped, cfg.EncryptionContext, "true"}}
		if diff := cmp.Diff(want, allows); diff != "" {
			t.Errorf("%s: key policy allows mismatch (-want +got):\n%s", breakGlassKey, diff)
		}
		// IAM policies of the account cannot widen that grant, nor make
		// data keys under the break-glass key.
		for _, d := range []string{"kms:Decrypt unless aws:PrincipalArn is " + role, "kms:Decrypt without MFA", "kms:GenerateDataKey*"} {
			if !slices.Contains(denies, d) {
				t.Errorf("%s: the key policy does not deny %s (it denies %q)", breakGlassKey, d, denies)
			}
		}

		roles, err := tmpl.Roles()
		if err != nil {
			t.Fatal(err)
		}
		r, ok := roles["BreakGlassReaderRole"]
		if !ok {
			t.Fatal("no role BreakGlassReaderRole")
		}
		if len(r.AssumeRole) == 0 {
			t.Error("BreakGlassReaderRole: no assume-role policy")
		}
		for _, st := range r.AssumeRole {
			if st.Effect == "Allow" && st.Condition["Bool"]["aws:MultiFactorAuthPresent"] != "true" {
				t.Errorf("BreakGlassReaderRole: assume-role statement %s does not require MFA", st.Sid)
			}
		}
		// The role's kms:Decrypt is the key policy's, with its conditions;
		// an IAM statement could only add to it.
		for id, r := range roles {
			for _, st := range r.Statements {
				if st.Effect == "Allow" && slices.ContainsFunc(st.Action, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
					t.Errorf("role %s: statement %s allows %v; grant KMS use in the key policy", id, st.Sid, st.Action)
				}
			}
		}
	})

	t.Run("local-kms seed", func(t *testing.T) {
		data, err := os.ReadFile(stack.KMSSeedFile)
		if err != nil {
			t.Fatal(err)
		}
		var seed struct {
			Keys struct {
				Symmetric struct {
					Aes []struct {
						Metadata struct {
							KeyID string `yaml:"KeyId"`
						} `yaml:"Metadata"`
					} `yaml:"Aes"`
				} `yaml:"Symmetric"`
			} `yaml:"Keys"`
			Aliases []struct {
				AliasName   string `yaml:"AliasName"`
				TargetKeyID string `yaml:"TargetKeyId"`
			} `yaml:"Aliases"`
		}
		if err := yaml.Unmarshal(data, &seed); err != nil {
			t.Fatal(err)
		}
		var seeded []string
		for _, k := range seed.Keys.Symmetric.Aes {
			seeded = append(seeded, k.Metadata.KeyID)
		}
		// Every key of the configuration is seeded, under the alias the
		// template gives it.
		values := templateValues(t, cfg)
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for id, r := range tmpl.Resources {
			if r.Type != "AWS::KMS::Alias" {
				continue
			}
			var p struct {
				AliasName   any `yaml:"AliasName"`
				TargetKeyID any `yaml:"TargetKeyId"`
			}
			if err := r.Properties.Decode(&p); err != nil {
				t.Fatal(err)
			}
			name, err := samtemplate.Resolve(p.AliasName, values)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			ref, _ := p.TargetKeyID.(map[string]any)
			target, _ := ref["Ref"].(string)
			want[name] = values[target+".Arn"][strings.LastIndexByte(values[target+".Arn"], '/')+1:]
		}
		got := map[string]string{}
		for _, a := range seed.Aliases {
			got[a.AliasName] = a.TargetKeyID
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("aliases of the template and of %s differ (-template +seed):\n%s", stack.KMSSeedFile, diff)
		}
		for _, id := range want {
			if !slices.Contains(seeded, id) {
				t.Errorf("%s does not seed key %s", stack.KMSSeedFile, id)
			}
		}
	})

	t.Run("definition substitutions", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		sms, err := tmpl.StateMachines()
		if err != nil || len(sms) != 1 {
			t.Fatalf("state machines: %v, %v", sms, err)
		}
		def, err := os.ReadFile(filepath.Clean(sms[0].DefinitionURI))
		if err != nil {
			t.Fatal(err)
		}
		var inDef []string
		for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`).FindAllStringSubmatch(string(def), -1) {
			inDef = append(inDef, m[1])
		}
		var inTemplate []string
		for k := range sms[0].DefinitionSubstitutions {
			inTemplate = append(inTemplate, k)
		}
		if diff := cmp.Diff(sortedUnion(nil, inDef), sortedUnion(nil, inTemplate)); diff != "" {
			t.Errorf("placeholders of the definition and DefinitionSubstitutions differ (-definition +template):\n%s", diff)
		}
	})
}

// templateOmits are the statements of sfn-decrypt policy's key policies
// that the template leaves out, each explained in README.md ("Key
// policies"): they name the functions' roles by name, and SAM gives the
// roles it makes names of its own.
var templateOmits = map[string][]string{
	dataKey:       {"DenyDataKeysToOthers", "DenyEncryptToOthers"},
	breakGlassKey: {"DenyEncryptToOthers"},
}

// policyOutput is sfn-decrypt policy's JSON, each statement normalised.
type policyOutput struct {
	Roles map[string][]any
	Keys  map[string][]any
}

// generatedPolicies runs sfn-decrypt policy on the example, as its
// README and the template's header say.
func generatedPolicies(t *testing.T) policyOutput {
	t.Helper()
	bin := testbin.Build(t, "cmd/sfn-decrypt")
	cmd := exec.Command(bin, "policy", "--config", stack.ConfigFile, "--template", stack.TemplateFile,
		"--writers", "BackendServiceRole="+strings.Join(backendWrites, ","),
		"--readers", "OperatorRole=identity,contact,verification,session",
		"--break-glass-role", "BreakGlassReaderRole", "--format", "json")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sfn-decrypt policy: %v", err)
	}
	var raw struct {
		Roles, Keys map[string]struct{ Statement []any }
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	p := policyOutput{Roles: map[string][]any{}, Keys: map[string][]any{}}
	for name, pol := range raw.Roles {
		for _, st := range pol.Statement {
			p.Roles[name] = append(p.Roles[name], normal(st))
		}
	}
	for name, pol := range raw.Keys {
		for _, st := range pol.Statement {
			p.Keys[name] = append(p.Keys[name], normal(st))
		}
	}
	return p
}

// normalStatement is a template's statement with its references resolved,
// in the shape normal gives.
func normalStatement(t *testing.T, st samtemplate.Statement, values map[string]string) any {
	t.Helper()
	m := map[string]any{"Sid": st.Sid, "Effect": st.Effect, "Action": []string(st.Action)}
	resolve := func(v any) any {
		switch x := v.(type) {
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				s, err := samtemplate.Resolve(e, values)
				if err != nil {
					t.Errorf("statement %s: %v", st.Sid, err)
				}
				out[i] = s
			}
			return out
		case nil:
			return nil
		}
		s, err := samtemplate.Resolve(v, values)
		if err != nil {
			t.Errorf("statement %s: %v", st.Sid, err)
		}
		return s
	}
	if p, ok := st.Principal.(map[string]any); ok {
		m["Principal"] = map[string]any{"AWS": resolve(p["AWS"])}
	}
	m["Resource"] = resolve(st.Resource)
	if len(st.Condition) > 0 {
		conds := map[string]any{}
		for op, kv := range st.Condition {
			c := map[string]any{}
			for k, v := range kv {
				c[k] = resolve(v)
			}
			conds[op] = c
		}
		m["Condition"] = conds
	}
	return normal(m)
}

// normal writes a statement so that two that IAM reads alike compare
// equal: a list of one is its value, lists of strings are sorted.
func normal(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normal(e)
		}
		return out
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return normal(l)
	case []any:
		if len(x) == 1 {
			return normal(x[0])
		}
		out := make([]any, len(x))
		strs := true
		for i, e := range x {
			out[i] = normal(e)
			_, ok := out[i].(string)
			strs = strs && ok
		}
		if strs {
			slices.SortFunc(out, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		}
		return out
	}
	return v
}

// denial describes what a Deny statement of a key policy refuses that the
// break-glass checks look for: an action, and "unless aws:PrincipalArn is
// R" or "without MFA" when conditioned so.
func denial(t *testing.T, st samtemplate.Statement, values map[string]string) []string {
	t.Helper()
	var out []string
	for _, a := range st.Action {
		switch {
		case len(st.Condition) == 0:
			out = append(out, a)
		case st.Condition["ArnNotEquals"] != nil:
			p, err := samtemplate.Resolve(st.Condition["ArnNotEquals"]["aws:PrincipalArn"], values)
			if err != nil {
				t.Errorf("statement %s: %v", st.Sid, err)
			}
			out = append(out, a+" unless aws:PrincipalArn is "+p)
		case st.Condition["BoolIfExists"]["aws:MultiFactorAuthPresent"] == "false":
			out = append(out, a+" without MFA")
		}
	}
	return out
}

// TestProxiedFunctions: a function in another runtime than Go runs its
// handler behind the sfnenc layer's proxy, and nothing else holds it to
// the contract: without the layer the wrapper is missing, without
// AWS_LAMBDA_EXEC_WRAPPER the runtime never reaches the proxy and the
// handler's results go out unencrypted. So every such function must have
// both; and sfn-decrypt check must read its SFNENC_CLASSES as a Go
// function's.
func TestProxiedFunctions(t *testing.T) {
	tmpl, err := samtemplate.Load(stack.TemplateFile)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tmpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	var proxied []string
	for _, f := range fns {
		if f.IsGo() {
			continue
		}
		proxied = append(proxied, f.LogicalID)
		if !slices.ContainsFunc(f.Layers, func(l any) bool {
			m, ok := l.(map[string]any)
			return ok && m["Ref"] == "SfnencLayer"
		}) {
			t.Errorf("%s (%s) lacks the layer SfnencLayer: %v", f.LogicalID, f.Runtime, f.Layers)
		}
		if w := f.Env["AWS_LAMBDA_EXEC_WRAPPER"]; w != "/opt/sfnenc-wrapper" {
			t.Errorf("%s (%s): AWS_LAMBDA_EXEC_WRAPPER = %v, want /opt/sfnenc-wrapper", f.LogicalID, f.Runtime, w)
		}
		if _, ok := f.Env["SFNENC_CLASSES"]; !ok {
			t.Errorf("%s (%s): no SFNENC_CLASSES: it would decrypt every class", f.LogicalID, f.Runtime)
		}
	}
	if diff := cmp.Diff([]string{"SendRejectionEmailFunction"}, proxied); diff != "" {
		t.Errorf("functions behind the proxy (-want +got):\n%s", diff)
	}
	var layer struct {
		ContentURI string `yaml:"ContentUri"`
	}
	r, ok := tmpl.Resources["SfnencLayer"]
	if !ok || r.Type != "AWS::Serverless::LayerVersion" {
		t.Fatal("no AWS::Serverless::LayerVersion SfnencLayer")
	}
	if err := r.Properties.Decode(&layer); err != nil {
		t.Fatal(err)
	}
	// What make layer writes, at the repository's root.
	if layer.ContentURI != "../../bin/sfnenc-layer.zip" {
		t.Errorf("SfnencLayer's ContentUri = %q, want ../../bin/sfnenc-layer.zip (make layer)", layer.ContentURI)
	}

	// check reads the Node.js function's SFNENC_CLASSES: a class that
	// never reaches it (here, one the rules lack) is reported for it.
	if testing.Short() {
		return
	}
	data, err := os.ReadFile(stack.TemplateFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "SendRejectionEmailFunction:")
	j := strings.Index(s[i:], "SFNENC_CLASSES: contact\n")
	if i < 0 || j < 0 {
		t.Fatal("no SFNENC_CLASSES: contact under SendRejectionEmailFunction")
	}
	j += i + len("SFNENC_CLASSES: contact")
	// The changed copy beside a copy of the definition it names.
	dir := t.TempDir()
	changed := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(changed, []byte(s[:j]+",retired"+s[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile("statemachine/identity-verification.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "statemachine"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "statemachine", "identity-verification.asl.json"), def, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := testbin.Build(t, "cmd/sfn-decrypt")
	out, err := exec.Command(bin, "check", "--config", stack.ConfigFile, "--template", changed, "--output", "json").Output()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var got struct {
		Findings []struct{ Rule, State, Class string }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("check: %v: %s", err, out)
	}
	if !slices.ContainsFunc(got.Findings, func(f struct{ Rule, State, Class string }) bool {
		return f.Rule == "class-never-reaches" && f.State == "SendRejectionEmail" && f.Class == "retired"
	}) {
		t.Errorf("check did not read the Node.js function's SFNENC_CLASSES: %s", out)
	}
}
