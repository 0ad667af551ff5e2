package check

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/format"
)

// Rule ids of the grant rules, which compare a template's own IAM and key
// policy statements with what each function's classes need.
const (
	// A function's classes need a KMS grant its role lacks.
	RuleGrantMissing = "kms-grant-missing"
	// A role may decrypt or write a class it does not need, or a grant
	// lacks the class condition.
	RuleGrantTooBroad = "kms-grant-too-broad"
	// Someone other than the writers may kms:Encrypt on a break-glass key.
	RuleBreakGlassEncryptOpen = "break-glass-encrypt-open"
	// What the check cannot see of a role's permissions.
	RuleGrantNotChecked = "kms-grant-not-checked"
	// A function runs as the one role of its Serverless service.
	RuleGrantSharedRole = "kms-grant-shared-role"
)

// TemplateKeys finds, in the SFNENC_CONFIG that a template's functions
// write as Fn::Sub, the KMS keys it names by ${Key.Arn} and the context
// values it takes from ${Parameter}, at the places where cfg names its key
// ARNs and context values: keys maps cfg's key ARNs to the keys' logical
// ids, refs a context key to its template expression ({"Ref": "Stage"}).
func TemplateKeys(st *stack.Stack, cfg *codec.Config) (keys map[string]string, refs map[string]any) {
	keys, refs = map[string]string{}, map[string]any{}
	const fake = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-%012d"
	for _, f := range st.Functions {
		sub, ok := f.EnvSub["SFNENC_CONFIG"]
		if !ok {
			continue
		}
		var names []string
		text := subArn.ReplaceAllStringFunc(sub, func(m string) string {
			names = append(names, subArn.FindStringSubmatch(m)[1])
			return fmt.Sprintf(fake, len(names))
		})
		tc, err := codec.ParseConfig([]byte(text))
		if err != nil {
			continue
		}
		name := func(arn string) (string, bool) {
			var n int
			if _, err := fmt.Sscanf(arn, fake, &n); err != nil || n < 1 || n > len(names) {
				return "", false
			}
			return names[n-1], true
		}
		arnsOf := func(k codec.KeyringConfig) []string {
			switch {
			case k.KMS != nil:
				return append([]string{k.KMS.KeyARN}, k.KMS.BreakGlassKeyARNs...)
			case k.KMSKeyset != nil:
				return append([]string{k.KMSKeyset.KeyARN}, k.KMSKeyset.BreakGlassKeyARNs...)
			}
			return nil
		}
		for kr, k := range cfg.Keyrings {
			mine, theirs := arnsOf(k), arnsOf(tc.Keyrings[kr])
			for i := range min(len(mine), len(theirs)) {
				if id, ok := name(theirs[i]); ok {
					keys[mine[i]] = id
				}
			}
		}
		for k, v := range tc.EncryptionContext {
			if strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && !strings.Contains(v[2:len(v)-1], "${") {
				refs[k] = map[string]any{"Ref": v[2 : len(v)-1]}
			}
		}
		break
	}
	return keys, refs
}

var subArn = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\.Arn\}`)

// need is one KMS request a function's classes need.
type need struct {
	codec.KMSRequest
	class string
	duty  codec.Duty
}

// Grants compares the IAM statements of each function's role in the
// template, and the key-policy statements that name the role, with the
// KMS requests its classes need (codec.Config.KMSRequests: what it
// decrypts, SFNENC_CLASSES; what it writes, SFNENC_WRITES). functions are
// as Check takes them, by name. Only Allow statements are read; what the
// check cannot see (managed policies by ARN, SAM policy templates,
// permissions boundaries, roles outside the file; SCPs and grants made at
// run time never are in it) is reported as not checked, never assumed.
func Grants(cfg *codec.Config, st *stack.Stack, functions map[string]Function) []Finding {
	keyIDs, _ := TemplateKeys(st, cfg)
	arnOf := map[string]string{} // key logical id -> ARN
	for arn, id := range keyIDs {
		arnOf[id] = arn
	}
	all := cfg.Classes()
	bgKeys := cfg.BreakGlassKeyARNs()
	var out []Finding
	add := func(f *stack.Function, rule, class, format string, args ...any) {
		out = append(out, Finding{Rule: rule, Severity: severity[rule], State: f.LogicalID, Path: "$", Class: class,
			Message: fmt.Sprintf(format, args...), At: f.At})
	}
	for _, f := range st.Functions {
		fn, ok := functions[f.Name]
		if !ok || !fn.Middleware {
			continue
		}
		reads, writes := fn.Classes, fn.Writes
		if reads == nil {
			reads = all
		}
		if writes == nil {
			writes = all
		}
		var needs []need
		for _, d := range []struct {
			classes []string
			duty    codec.Duty
		}{{reads, codec.Read}, {writes, codec.Write}} {
			for _, c := range d.classes {
				qs, err := cfg.KMSRequests(c, d.duty)
				if err != nil {
					continue // an unknown class is reported by the caller
				}
				for _, q := range qs {
					needs = append(needs, need{q, c, d.duty})
				}
			}
		}
		role := st.RoleOf(f)
		switch {
		case role == nil && f.RoleID() == "":
			add(f, RuleGrantNotChecked, "", "%s names no role in %s: its KMS grants are not checked", f.LogicalID, st.File)
			continue
		case role == nil:
			add(f, RuleGrantNotChecked, "", "%s runs as %s, which is not in %s: its KMS grants are not checked", f.LogicalID, f.RoleID(), st.File)
			continue
		}
		shared := ""
		if f.SharedRole {
			fix := fmt.Sprintf("role: %s under functions.%s", OwnRoleID(f), f.ID)
			shared = fmt.Sprintf(" (it shares the service's one role with every function, so it may do what any of them needs: give it a role of its own, %s)", fix)
			add(f, RuleGrantSharedRole, "", "%s runs as the service's one role %s, which every function of the service shares (the Serverless Framework's default), so it may do whatever any of them needs and no function has least privilege: give it a role of its own, %s, with the statements sfn-decrypt policy writes for it", f.LogicalID, role.ID, fix)
		}
		sts := slices.Clone(role.Statements)
		for _, k := range st.Keys {
			for _, s := range k.Statements {
				if names(s["Principal"], role.ID) {
					s = withResource(s, k.ID)
					sts = append(sts, s)
				}
			}
		}
		if len(role.Unseen) > 0 {
			add(f, RuleGrantNotChecked, "", "%s's role %s also gets permissions the check cannot see: %s (nor SCPs or grants made at run time): they are not checked", f.LogicalID, role.ID, strings.Join(role.Unseen, ", "))
		}
		// Missing: a need no Allow statement grants.
		type miss struct {
			action, key string
			duty        codec.Duty
		}
		missing := map[miss][]string{}
		var order []miss
		for _, n := range needs {
			if slices.ContainsFunc(sts, func(s stack.Statement) bool { return allows(s, n, cfg, arnOf) }) {
				continue
			}
			m := miss{n.Action, n.KeyARN, n.duty}
			if _, ok := missing[m]; !ok {
				order = append(order, m)
			}
			if !slices.Contains(missing[m], n.class) {
				missing[m] = append(missing[m], n.class)
			}
		}
		for _, m := range order {
			why := "it decrypts the class (SFNENC_CLASSES)"
			switch {
			case m.action == codec.ActionGenerateDataKey:
				why = "it writes the class (SFNENC_WRITES)"
			case m.action == codec.ActionEncrypt:
				why = "it writes the class, and wraps each data key under this break-glass key"
			case m.duty == codec.Write:
				why = "it writes the class in keyset mode, which opens the class's keyset"
			}
			add(f, RuleGrantMissing, strings.Join(missing[m], ","), "%s needs %s on %s for class %s (%s), which its role %s does not grant: it will fail with AccessDenied; grant it, conditioned on the class and the context (sfn-decrypt policy writes the statement)%s",
				f.LogicalID, m.action, keyName(m.key, keyIDs), strings.Join(missing[m], ", "), why, role.ID, shared)
		}
		// Too broad: what a statement allows beyond the needs.
		for i, s := range role.Statements {
			if !strings.EqualFold(str(s["Effect"]), "Allow") {
				continue
			}
			sid := str(s["Sid"])
			if sid == "" {
				sid = fmt.Sprintf("statement %d", i+1)
			}
			for _, action := range []string{codec.ActionDecrypt, codec.ActionGenerateDataKey, codec.ActionEncrypt} {
				if !actionMatches(s["Action"], action) {
					continue
				}
				for _, key := range cfg.KeyARNs() {
					if !resourceMatches(s["Resource"], key, arnOf) {
						continue
					}
					var needed []string
					for _, n := range needs {
						if n.Action == action && n.KeyARN == key && !slices.Contains(needed, n.class) {
							needed = append(needed, n.class)
						}
					}
					rule := RuleGrantTooBroad
					if action == codec.ActionEncrypt && slices.Contains(bgKeys, key) {
						rule = RuleBreakGlassEncryptOpen
					}
					classes, conditioned := classCondition(s, all)
					if !conditioned {
						add(f, rule, "", "%s of role %s allows %s on %s without a condition on kms:EncryptionContext:sfnenc:class, so it opens every class (it needs %s): condition it on the classes%s",
							sid, role.ID, action, keyName(key, keyIDs), orNone(needed), shared)
						continue
					}
					var extra []string
					for _, c := range classes {
						if !slices.Contains(needed, c) {
							extra = append(extra, c)
						}
					}
					if len(extra) > 0 {
						add(f, rule, strings.Join(extra, ","), "%s of role %s allows %s on %s for class %s, which %s does not need (it needs %s): remove %s from the statement%s",
							sid, role.ID, action, keyName(key, keyIDs), strings.Join(extra, ", "), f.LogicalID, orNone(needed), strings.Join(extra, ", "), shared)
					}
				}
			}
		}
	}
	// Key policies of break-glass keys: kms:Encrypt for anyone but the
	// account (which delegates to IAM) is open.
	for arn, id := range keyIDs {
		if !slices.Contains(bgKeys, arn) || st.Keys[id] == nil {
			continue
		}
		for i, s := range st.Keys[id].Statements {
			if !strings.EqualFold(str(s["Effect"]), "Allow") || !actionMatches(s["Action"], codec.ActionEncrypt) {
				continue
			}
			if isAccountRoot(s["Principal"]) {
				continue
			}
			sid := str(s["Sid"])
			if sid == "" {
				sid = fmt.Sprintf("statement %d", i+1)
			}
			out = append(out, Finding{Rule: RuleBreakGlassEncryptOpen, Severity: severity[RuleBreakGlassEncryptOpen], State: id, Path: "$", At: st.Keys[id].At,
				Message: fmt.Sprintf("%s of the key policy of break-glass key %s allows kms:Encrypt to %s: whoever may encrypt under a break-glass key can make tokens its readers accept; allow it only to the writers, in their IAM policies, for their classes", sid, id, principalText(s["Principal"]))})
		}
	}
	return out
}

// OwnRoleID is the logical id to give the role of its own that a
// Serverless function sharing the service's role should have:
// ScreenRole for the key screen (logical id ScreenLambdaFunction).
func OwnRoleID(f *stack.Function) string {
	return strings.TrimSuffix(f.LogicalID, "LambdaFunction") + "Role"
}

func orNone(cs []string) string {
	if len(cs) == 0 {
		return "none"
	}
	return strings.Join(cs, ", ")
}

func keyName(arn string, ids map[string]string) string {
	if id, ok := ids[arn]; ok {
		return id
	}
	return arn
}

func str(x any) string { s, _ := x.(string); return s }

// list reads a value that is one item or a list of them.
func list(x any) []any {
	if l, ok := x.([]any); ok {
		return l
	}
	if x == nil {
		return nil
	}
	return []any{x}
}

// actionMatches reports whether an Action value (a string or list, with
// IAM's wildcards) covers action.
func actionMatches(x any, action string) bool {
	for _, a := range list(x) {
		if p, ok := a.(string); ok && globMatch(strings.ToLower(p), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

func globMatch(pattern, s string) bool {
	// IAM's * and ? match any run of characters, "/" and ":" included.
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// resourceMatches reports whether a Resource value covers the key: "*",
// the ARN, Fn::GetAtt [Key, Arn] or Fn::Sub "${Key.Arn}".
func resourceMatches(x any, arn string, arnOf map[string]string) bool {
	for _, r := range list(x) {
		switch t := r.(type) {
		case string:
			if globMatch(t, arn) {
				return true
			}
		case map[string]any:
			if id := getAttID(t); id != "" && arnOf[id] == arn {
				return true
			}
			if s, ok := t["Fn::Sub"].(string); ok {
				if m := subArn.FindStringSubmatch(s); m != nil && s == m[0] && arnOf[m[1]] == arn {
					return true
				}
			}
		}
	}
	return false
}

func getAttID(m map[string]any) string {
	switch ga := m["Fn::GetAtt"].(type) {
	case []any:
		if len(ga) > 0 {
			return str(ga[0])
		}
	case string:
		id, _, _ := strings.Cut(ga, ".")
		return id
	}
	return ""
}

// names reports whether a Principal value names the role (Fn::GetAtt
// [Role, Arn]).
func names(x any, role string) bool {
	p, _ := x.(map[string]any)
	for _, v := range list(p["AWS"]) {
		if m, ok := v.(map[string]any); ok && getAttID(m) == role {
			return true
		}
	}
	return false
}

// isAccountRoot reports whether a Principal is the account (which only
// delegates to IAM policies).
func isAccountRoot(x any) bool {
	p, _ := x.(map[string]any)
	vs := list(p["AWS"])
	if len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		s := str(v)
		if m, ok := v.(map[string]any); ok {
			s = str(m["Fn::Sub"])
		}
		if !strings.HasSuffix(s, ":root") {
			return false
		}
	}
	return true
}

func principalText(x any) string {
	if s, ok := x.(string); ok {
		return s
	}
	p, _ := x.(map[string]any)
	var out []string
	for _, v := range list(p["AWS"]) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case map[string]any:
			if id := getAttID(t); id != "" {
				out = append(out, id)
			} else if s, ok := t["Fn::Sub"].(string); ok {
				out = append(out, s)
			} else {
				out = append(out, "a principal the template computes")
			}
		}
	}
	if len(out) == 0 {
		return "a principal"
	}
	return strings.Join(out, ", ")
}

// withResource is a key-policy statement with the key as its resource.
func withResource(s stack.Statement, keyID string) stack.Statement {
	c := make(stack.Statement, len(s))
	for k, v := range s {
		c[k] = v
	}
	c["Resource"] = map[string]any{"Fn::GetAtt": []any{keyID, "Arn"}}
	return c
}

// classCondition returns the classes a statement's condition allows
// (StringEquals or StringLike on kms:EncryptionContext:sfnenc:class,
// patterns matched against the configuration's classes), and whether it
// has such a condition at all.
func classCondition(s stack.Statement, all []string) ([]string, bool) {
	conds, _ := s["Condition"].(map[string]any)
	var out []string
	found := false
	for op, kv := range conds {
		m, _ := kv.(map[string]any)
		for k, v := range m {
			if !strings.EqualFold(k, "kms:EncryptionContext:"+format.ClassKey) {
				continue
			}
			base := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(op, "ForAnyValue:"), "ForAllValues:"), "IfExists")
			switch base {
			case "StringEquals", "StringLike":
			default:
				continue
			}
			found = true
			for _, x := range list(v) {
				p := str(x)
				for _, c := range all {
					if (base == "StringEquals" && p == c || base == "StringLike" && globMatch(p, c)) && !slices.Contains(out, c) {
						out = append(out, c)
					}
				}
			}
		}
	}
	return out, found
}

// allows reports whether an Allow statement grants the need: its action,
// its key, and a condition the need's request satisfies. A condition the
// check cannot evaluate (a value the template computes, another key) is
// taken to hold: the check reports missing grants it can show.
func allows(s stack.Statement, n need, cfg *codec.Config, arnOf map[string]string) bool {
	if !strings.EqualFold(str(s["Effect"]), "Allow") || !actionMatches(s["Action"], n.Action) || !resourceMatches(s["Resource"], n.KeyARN, arnOf) {
		return false
	}
	conds, _ := s["Condition"].(map[string]any)
	for op, kv := range conds {
		m, _ := kv.(map[string]any)
		for k, v := range m {
			lk := strings.ToLower(k)
			switch {
			case lk == "kms:encryptioncontextkeys" && op == "ForAllValues:StringEquals":
				for _, want := range n.ContextKeys {
					if !slices.ContainsFunc(list(v), func(x any) bool { return str(x) == want }) {
						return false
					}
				}
			case strings.HasPrefix(lk, "kms:encryptioncontext:"):
				ctxKey := k[len("kms:EncryptionContext:"):]
				val, sent := n.Context[ctxKey]
				if !sent {
					if !strings.HasSuffix(op, "IfExists") && (strings.HasPrefix(op, "String") && !strings.Contains(op, "Not")) {
						return false
					}
					continue
				}
				literal := true
				matched := false
				for _, x := range list(v) {
					p, ok := x.(string)
					if !ok {
						literal = false
						continue
					}
					switch strings.TrimSuffix(op, "IfExists") {
					case "StringEquals":
						matched = matched || p == val
					case "StringLike":
						matched = matched || globMatch(p, val)
					default:
						literal = false
					}
				}
				if literal && !matched && (strings.HasPrefix(op, "StringEquals") || strings.HasPrefix(op, "StringLike")) {
					return false
				}
			}
		}
	}
	return true
}
