package identityverification_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/samtemplate"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/stack"
)

const (
	classCondition = "kms:EncryptionContext:sfnenc:class"
	contextPrefix  = "kms:EncryptionContext:"
)

// writes lists, for each function, the classes its results hold (by the
// configuration's rules), besides the class of its error messages. The
// end-to-end test checks it against what the functions encrypted.
var writes = map[string][]string{
	"RequestIdentificationFunction": {"session"},
}

// backendWrites lists the classes the backend services encrypt: the
// application (identity, contact) and the provider's result
// (verification).
var backendWrites = []string{"contact", "identity", "verification"}

// grants is what a set of IAM statements allows on the data key, by KMS
// operation: the classes, and the other encryption context entries each
// statement requires.
type grants struct {
	classes  map[string][]string            // "kms:Decrypt" -> sorted classes
	contexts map[string][]map[string]string // "kms:Decrypt" -> the context entries of each statement
}

// kmsGrants reads the KMS statements of a policy. Every statement that
// allows a KMS action must name one action on the key and condition it on
// the class.
func kmsGrants(t *testing.T, who string, sts []samtemplate.Statement, values map[string]string) grants {
	t.Helper()
	g := grants{classes: map[string][]string{}, contexts: map[string][]map[string]string{}}
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
		if len(kmsActions) != 1 || (kmsActions[0] != "kms:Decrypt" && kmsActions[0] != "kms:GenerateDataKey") {
			t.Errorf("%s: statement %s allows %v; want exactly one of kms:Decrypt and kms:GenerateDataKey", who, st.Sid, st.Action)
			continue
		}
		if res, err := samtemplate.Resolve(st.Resource, values); err != nil || res != values["IdentityDataKey.Arn"] {
			t.Errorf("%s: statement %s: Resource %v is not the data key", who, st.Sid, st.Resource)
		}
		if len(st.Condition) != 1 || st.Condition["StringEquals"] == nil {
			t.Errorf("%s: statement %s: want one StringEquals condition, got %v", who, st.Sid, st.Condition)
			continue
		}
		eq := st.Condition["StringEquals"]
		classes, err := samtemplate.ResolveList(eq[classCondition], values)
		if err != nil || len(classes) == 0 {
			t.Errorf("%s: statement %s: no %s condition", who, st.Sid, classCondition)
			continue
		}
		ctx := map[string]string{}
		for k, v := range eq {
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
		a := kmsActions[0]
		g.classes[a] = sortedUnion(g.classes[a], classes)
		g.contexts[a] = append(g.contexts[a], ctx)
	}
	return g
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
	var arn string
	for _, k := range cfg.Keyrings {
		if k.KMS != nil {
			arn = k.KMS.KeyARN
		}
	}
	var keysetDir string
	for _, k := range cfg.Keyrings {
		if k.KMSKeyset != nil {
			keysetDir = k.KMSKeyset.Dir
		}
	}
	return map[string]string{
		// The configuration file names the keyset directory relative to
		// itself; the template, where the layer puts it.
		"KeysetDir":           keysetDir,
		"Stage":               stack.Stage,
		"AWS::Region":         stack.Region,
		"AWS::AccountId":      stack.Account,
		"AWS::Partition":      "aws",
		"IdentityDataKey.Arn": arn,
	}
}

type functionGrants struct {
	classes, errorClass string
	decrypt, generate   []string
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
			decrypt:    g.classes["kms:Decrypt"],
			generate:   g.classes["kms:GenerateDataKey"],
		}
	}
	return out
}

// TestTemplateGrantsMatchConfiguration checks template.yaml against each
// function's sfnenc configuration: kms:Decrypt exactly for the classes of
// SFNENC_CLASSES, kms:GenerateDataKey exactly for the classes it writes,
// every grant conditioned on the configured encryption context, and the
// inline SFNENC_CONFIG equal to config/sfnenc.json.
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
	for _, id := range ids {
		g := grants[id]
		t.Run(id, func(t *testing.T) {
			if g.classes == "" {
				t.Fatalf("SFNENC_CLASSES is not set: the function would decrypt every class")
			}
			decrypt := classList(g.classes)
			for _, c := range decrypt {
				if !slices.Contains(known, c) {
					t.Errorf("SFNENC_CLASSES names %q, which is not a class of %s", c, stack.ConfigFile)
				}
			}
			var generate []string
			if g.errorClass != "" {
				if !slices.Contains(known, g.errorClass) {
					t.Errorf("SFNENC_ERROR_CLASS %q is not a class of %s", g.errorClass, stack.ConfigFile)
				}
				generate = append(generate, g.errorClass)
			}
			generate = sortedUnion(generate, writes[id])
			// A function reads the keyset of every keyset-mode class it
			// writes: kms:Decrypt instead of kms:GenerateDataKey.
			var keysetWrites, envelopeWrites []string
			for _, c := range generate {
				if slices.Contains(keysetClasses(cfg), c) {
					keysetWrites = append(keysetWrites, c)
				} else {
					envelopeWrites = append(envelopeWrites, c)
				}
			}
			generate = envelopeWrites
			decrypt = sortedUnion(decrypt, keysetWrites)
			if diff := cmp.Diff(decrypt, g.decrypt); diff != "" {
				t.Errorf("kms:Decrypt classes differ from SFNENC_CLASSES and the keyset-mode classes it writes (-want +policy):\n%s", diff)
			}
			if diff := cmp.Diff(generate, g.generate); diff != "" {
				t.Errorf("kms:GenerateDataKey classes differ from the classes the function writes (-writes +policy):\n%s", diff)
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
			"BackendServicePolicy":      {"kms:GenerateDataKey": backendWrites},
			"OperatorHistoryReadPolicy": {"kms:Decrypt": sortedUnion(nil, known)},
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
	})

	t.Run("key policy", func(t *testing.T) {
		tmpl, err := samtemplate.Load(stack.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := tmpl.KeyPolicies()
		if err != nil {
			t.Fatal(err)
		}
		sts := keys["IdentityDataKey"]
		if len(sts) == 0 {
			t.Fatal("no key policy for IdentityDataKey")
		}
		// The key refuses data key use without a class, and under any
		// other value of each configured context entry.
		denied := map[string]bool{}
		for _, st := range sts {
			if st.Effect != "Deny" || !slices.Contains(st.Action, "kms:Decrypt") || !slices.Contains(st.Action, "kms:GenerateDataKey") {
				continue
			}
			if v, ok := st.Condition["Null"][classCondition]; ok && v == "true" {
				denied["sfnenc:class"] = true
			}
			for k := range st.Condition["StringNotEquals"] {
				denied[strings.TrimPrefix(k, contextPrefix)] = true
			}
		}
		want := map[string]bool{"sfnenc:class": true}
		for k := range cfg.EncryptionContext {
			want[k] = true
		}
		if diff := cmp.Diff(want, denied); diff != "" {
			t.Errorf("key policy denials mismatch (-want +got):\n%s", diff)
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
