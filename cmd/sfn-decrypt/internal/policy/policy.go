// Package policy writes least-privilege KMS policies from sfnenc's rules:
// for each principal (a function's role, an operator's reader role, a
// backend writer, a keyset administrator, the break-glass role) the IAM
// statements it needs for its classes, and for each KMS key the key-policy
// statements that deny everything else. The requests they grant are the
// codec's own list (codec.Config.KMSRequests), never a copy of it.
//
// Entry points: Build makes the policies, and WriteJSON,
// WriteCloudFormation and WriteTerraform print them.
package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/format"
)

// Kind is what a principal is.
type Kind int

const (
	Function    Kind = iota + 1 // a Lambda function of the workflow
	Reader                      // a role that reads with sfn-decrypt (--readers)
	Writer                      // a writer outside Lambda, such as a backend with sfnclient (--writers)
	KeysetAdmin                 // runs sfn-decrypt keyset create, rotate, destroy (--keyset-admins)
	BreakGlass                  // reads with the break-glass keys, with MFA (--break-glass-role)
)

// Principal is a role and the classes it reads and writes.
type Principal struct {
	// Name is the principal's name in the output: a function's logical
	// id, or a role's name.
	Name string
	Kind Kind
	// RoleName is the name of the IAM role key policies name (as
	// aws:PrincipalArn), or a role ARN.
	RoleName string
	// RoleID is the logical id of the role resource in a template
	// (cloudformation output attaches the statements to it), or "".
	RoleID string
	// Reads and Writes are the classes the principal decrypts and
	// encrypts. A keyset administrator and the break-glass role have no
	// Writes; their classes are in Reads.
	Reads, Writes []string
	// Notes are said beside the principal's statements.
	Notes []string
}

// Input is what Build needs.
type Input struct {
	Config     *codec.Config
	Principals []Principal
	// KeyIDs names key ARNs by the logical id of their AWS::KMS::Key,
	// where a template names them; other keys are named by their ARN.
	KeyIDs map[string]string
	// ContextRefs gives, for cloudformation output, the template
	// expression of a configured context value (stage: {"Ref": "Stage"}).
	ContextRefs map[string]any
}

// Value is a string of a policy, with the expression a CloudFormation
// template writes for it where that differs (a key's Fn::GetAtt, a role
// ARN's Fn::Sub).
type Value struct {
	S   string
	CFN any
}

func lit(s string) Value { return Value{S: s} }

// Condition is one condition operator, key and values.
type Condition struct {
	Op, Key string
	Values  []Value
	// List: write the values as a list even if there is one.
	List bool
}

// Statement is one statement of a policy document.
type Statement struct {
	Sid        string
	Effect     string
	Principals []Value // nil in an IAM policy; "*" is the value "*"
	Actions    []string
	Resource   Value
	Conditions []Condition
}

// Policy is a named IAM policy document with its notes.
type Policy struct {
	Name       string
	RoleID     string // cloudformation: the role resource, for principals
	RoleName   string
	Notes      []string
	Statements []Statement
}

// Policies is what Build makes: role policies by principal, key policies
// by key, each in a stable order.
type Policies struct {
	Roles []Policy
	Keys  []Policy
}

// Key-policy actions: the data calls sfnenc makes and the ones that could
// reach the same keys another way.
var dataActions = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"}

const ctxPrefix = "kms:EncryptionContext:"

// Build makes the policies of in.
func Build(in Input) (*Policies, error) {
	cfg := in.Config
	keys := cfg.KeyARNs()
	account := accountOf(keys)
	keyVal := func(arn string) Value {
		if id, ok := in.KeyIDs[arn]; ok {
			return Value{S: arn, CFN: map[string]any{"Fn::GetAtt": []any{id, "Arn"}}}
		}
		return lit(arn)
	}
	ctxVal := func(k string) Value {
		v := Value{S: cfg.EncryptionContext[k]}
		if r, ok := in.ContextRefs[k]; ok {
			v.CFN = r
		}
		return v
	}
	ctxKeys := slices.Sorted(maps.Keys(cfg.EncryptionContext))
	classOrder := cfg.Classes()

	type use struct{ action, key string }
	users := map[use][]Value{} // who makes which request, for key policies
	keyClasses := map[string][]string{}
	keyCtxKeys := map[string][]string{}
	bgRoles := []Value{}
	out := &Policies{}
	seen := map[string]bool{}
	for _, p := range in.Principals {
		if seen[p.Name] {
			return nil, fmt.Errorf("%s is named twice", p.Name)
		}
		seen[p.Name] = true
		role := roleARN(p.RoleName, account)
		type group struct {
			action, key string
			ctxKeys     []string
			classes     []string
		}
		var groups []*group
		addReq := func(class string, d codec.Duty) error {
			reqs, err := cfg.KMSRequests(class, d)
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			for _, q := range reqs {
				i := slices.IndexFunc(groups, func(g *group) bool {
					return g.action == q.Action && g.key == q.KeyARN && slices.Equal(g.ctxKeys, q.ContextKeys)
				})
				if i < 0 {
					groups = append(groups, &group{action: q.Action, key: q.KeyARN, ctxKeys: q.ContextKeys})
					i = len(groups) - 1
				}
				if !slices.Contains(groups[i].classes, class) {
					groups[i].classes = append(groups[i].classes, class)
				}
				u := use{q.Action, q.KeyARN}
				if !slices.ContainsFunc(users[u], func(v Value) bool { return v.S == role.S }) {
					users[u] = append(users[u], role)
				}
				if !slices.Contains(keyClasses[q.KeyARN], class) {
					keyClasses[q.KeyARN] = append(keyClasses[q.KeyARN], class)
				}
				for _, k := range q.ContextKeys {
					if !slices.Contains(keyCtxKeys[q.KeyARN], k) {
						keyCtxKeys[q.KeyARN] = append(keyCtxKeys[q.KeyARN], k)
					}
				}
			}
			return nil
		}
		readDuty := codec.Read
		switch p.Kind {
		case KeysetAdmin:
			readDuty = codec.KeysetAdmin
		case BreakGlass:
			readDuty = codec.BreakGlassRead
			bgRoles = append(bgRoles, role)
		}
		for _, c := range p.Reads {
			if err := addReq(c, readDuty); err != nil {
				return nil, err
			}
		}
		for _, c := range p.Writes {
			if err := addReq(c, codec.Write); err != nil {
				return nil, err
			}
		}
		actionRank := map[string]int{codec.ActionDecrypt: 0, codec.ActionGenerateDataKey: 1, codec.ActionEncrypt: 2}
		slices.SortStableFunc(groups, func(a, b *group) int {
			if d := actionRank[a.action] - actionRank[b.action]; d != 0 {
				return d
			}
			if d := slices.Index(keys, a.key) - slices.Index(keys, b.key); d != 0 {
				return d
			}
			return strings.Compare(strings.Join(a.ctxKeys, ","), strings.Join(b.ctxKeys, ","))
		})
		pol := Policy{Name: p.Name, RoleID: p.RoleID, RoleName: p.RoleName, Notes: p.Notes}
		sids := map[string]int{}
		for _, g := range groups {
			slices.SortFunc(g.classes, func(a, b string) int { return slices.Index(classOrder, a) - slices.Index(classOrder, b) })
			st := Statement{
				Sid:      sid(sids, strings.TrimPrefix(g.action, "kms:"), keyName(in.KeyIDs, g.key, keys)),
				Effect:   "Allow",
				Actions:  []string{g.action},
				Resource: keyVal(g.key),
			}
			st.Conditions = append(st.Conditions, Condition{Op: "StringEquals", Key: ctxPrefix + format.ClassKey, Values: lits(g.classes), List: true})
			for _, k := range ctxKeys {
				st.Conditions = append(st.Conditions, Condition{Op: "StringEquals", Key: ctxPrefix + k, Values: []Value{ctxVal(k)}})
			}
			st.Conditions = append(st.Conditions, Condition{Op: "ForAllValues:StringEquals", Key: "kms:EncryptionContextKeys", Values: lits(g.ctxKeys), List: true})
			if p.Kind == BreakGlass {
				st.Conditions = append(st.Conditions, Condition{Op: "Bool", Key: "aws:MultiFactorAuthPresent", Values: []Value{lit("true")}})
			}
			pol.Statements = append(pol.Statements, st)
		}
		if len(pol.Statements) == 0 {
			pol.Notes = append(pol.Notes, "needs no KMS permission")
		}
		out.Roles = append(out.Roles, pol)
	}

	bgKeys := cfg.BreakGlassKeyARNs()
	all := []Value{lit("*")}
	for _, arn := range keys {
		name := keyName(in.KeyIDs, arn, keys)
		pol := Policy{Name: name}
		if len(keyClasses[arn]) == 0 {
			pol.Notes = append(pol.Notes, "no principal given uses this key")
		}
		add := func(st Statement) { pol.Statements = append(pol.Statements, st) }
		deny := func(sid string, actions []string, conds ...Condition) {
			add(Statement{Sid: sid, Effect: "Deny", Principals: all, Actions: actions, Resource: lit("*"), Conditions: conds})
		}
		add(Statement{Sid: "AccountAdministersKeyAndDelegatesToIAM", Effect: "Allow",
			Principals: []Value{{S: "arn:aws:iam::" + account + ":root", CFN: map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}},
			Actions:    []string{"kms:*"}, Resource: lit("*")})
		deny("DenyUseWithoutClass", dataActions, Condition{Op: "Null", Key: ctxPrefix + format.ClassKey, Values: []Value{lit("true")}})
		classes := keyClasses[arn]
		slices.SortFunc(classes, func(a, b string) int { return slices.Index(classOrder, a) - slices.Index(classOrder, b) })
		if len(classes) > 0 {
			deny("DenyOtherClasses", dataActions, Condition{Op: "StringNotEquals", Key: ctxPrefix + format.ClassKey, Values: lits(classes), List: true})
		}
		for _, k := range ctxKeys {
			deny("DenyOther"+title(k), dataActions, Condition{Op: "StringNotEquals", Key: ctxPrefix + k, Values: []Value{ctxVal(k)}})
		}
		if ks := keyCtxKeys[arn]; len(ks) > 0 {
			slices.Sort(ks)
			deny("DenyOtherContextKeys", dataActions, Condition{Op: "ForAnyValue:StringNotEquals", Key: "kms:EncryptionContextKeys", Values: lits(ks), List: true})
		}
		deny("DenyGrantsAndReEncrypt", []string{"kms:CreateGrant", "kms:ReEncrypt*"})
		only := func(sid string, actions []string, who []Value) {
			if len(who) == 0 {
				deny(sid, actions)
				return
			}
			deny(sid, actions, Condition{Op: "ArnNotEquals", Key: "aws:PrincipalArn", Values: who, List: true})
		}
		only("DenyDataKeysToOthers", []string{"kms:GenerateDataKey*"}, users[use{codec.ActionGenerateDataKey, arn}])
		only("DenyEncryptToOthers", []string{"kms:Encrypt"}, users[use{codec.ActionEncrypt, arn}])
		if slices.Contains(bgKeys, arn) {
			only("DenyDecryptToOthers", []string{"kms:Decrypt"}, users[use{codec.ActionDecrypt, arn}])
			deny("DenyDecryptWithoutMFA", []string{"kms:Decrypt"}, Condition{Op: "BoolIfExists", Key: "aws:MultiFactorAuthPresent", Values: []Value{lit("false")}})
			var bgClasses []string
			for _, c := range classOrder {
				if reqs, _ := cfg.KMSRequests(c, codec.BreakGlassRead); slices.ContainsFunc(reqs, func(q codec.KMSRequest) bool { return q.KeyARN == arn }) {
					bgClasses = append(bgClasses, c)
				}
			}
			if len(bgRoles) > 0 && len(bgClasses) > 0 {
				st := Statement{Sid: "BreakGlassRead", Effect: "Allow", Principals: bgRoles, Actions: []string{codec.ActionDecrypt}, Resource: lit("*")}
				st.Conditions = append(st.Conditions, Condition{Op: "StringEquals", Key: ctxPrefix + format.ClassKey, Values: lits(bgClasses), List: true})
				for _, k := range ctxKeys {
					st.Conditions = append(st.Conditions, Condition{Op: "StringEquals", Key: ctxPrefix + k, Values: []Value{ctxVal(k)}})
				}
				st.Conditions = append(st.Conditions, Condition{Op: "Bool", Key: "aws:MultiFactorAuthPresent", Values: []Value{lit("true")}})
				add(st)
			} else if len(bgRoles) == 0 {
				pol.Notes = append(pol.Notes, "a break-glass key: no --break-glass-role was given, so no one may decrypt with it")
			}
		}
		out.Keys = append(out.Keys, pol)
	}
	// A role's ARN in a key policy: the values name the account of the
	// configuration's first key.
	return out, nil
}

// roleARN is the ARN of a role by name (or the ARN itself).
func roleARN(name, account string) Value {
	if strings.HasPrefix(name, "arn:") {
		return lit(name)
	}
	return Value{S: "arn:aws:iam::" + account + ":role/" + name,
		CFN: map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + name}}
}

// accountOf is the account of the first key ARN.
func accountOf(keys []string) string {
	for _, k := range keys {
		if parts := strings.Split(k, ":"); len(parts) > 4 {
			return parts[4]
		}
	}
	return "ACCOUNT"
}

// keyName is a key's logical id, or its ARN.
func keyName(ids map[string]string, arn string, keys []string) string {
	if id, ok := ids[arn]; ok {
		return id
	}
	return arn
}

// sid makes a statement id from words (letters and digits only), unique
// within a policy.
func sid(seen map[string]int, words ...string) string {
	var b strings.Builder
	for _, w := range words {
		if strings.HasPrefix(w, "arn:") {
			w = "Key" + w[strings.LastIndexAny(w, "/-")+1:]
		}
		b.WriteString(title(w))
	}
	s := b.String()
	seen[s]++
	if n := seen[s]; n > 1 {
		s = fmt.Sprintf("%s%d", s, n)
	}
	return s
}

// title keeps the letters and digits of s, each word capitalised.
func title(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) || r > unicode.MaxASCII {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func lits(ss []string) []Value {
	out := make([]Value, len(ss))
	for i, s := range ss {
		out[i] = lit(s)
	}
	return out
}
