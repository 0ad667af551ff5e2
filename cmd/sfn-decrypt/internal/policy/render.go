package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// obj is a JSON object whose members keep their order.
type obj []member

type member struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// value is v as the form writes it.
func (v Value) in(cfn bool) any {
	if cfn && v.CFN != nil {
		return v.CFN
	}
	return v.S
}

func values(vs []Value, list, cfn bool) any {
	if len(vs) == 1 && !list {
		return vs[0].in(cfn)
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v.in(cfn)
	}
	return out
}

func strs(ss []string) any {
	if len(ss) == 1 {
		return ss[0]
	}
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// document is a policy document as an ordered tree.
func (p Policy) document(cfn bool) obj {
	var sts []any
	for _, s := range p.Statements {
		o := obj{{"Sid", s.Sid}, {"Effect", s.Effect}}
		if s.Principals != nil {
			o = append(o, member{"Principal", obj{{"AWS", values(s.Principals, false, cfn)}}})
		}
		o = append(o, member{"Action", strs(s.Actions)}, member{"Resource", s.Resource.in(cfn)})
		if len(s.Conditions) > 0 {
			var conds obj
			for _, c := range s.Conditions {
				i := len(conds)
				for j, m := range conds {
					if m.k == c.Op {
						i = j
					}
				}
				if i == len(conds) {
					conds = append(conds, member{c.Op, obj{}})
				}
				conds[i].v = append(conds[i].v.(obj), member{c.Key, values(c.Values, c.List, cfn)})
			}
			o = append(o, member{"Condition", conds})
		}
		sts = append(sts, o)
	}
	if sts == nil {
		sts = []any{}
	}
	return obj{{"Version", "2012-10-17"}, {"Statement", sts}}
}

// WriteJSON prints {"roles": {NAME: POLICY}, "keys": {NAME: POLICY}}.
func WriteJSON(w io.Writer, p *Policies) error {
	roles, keys := obj{}, obj{}
	for _, r := range p.Roles {
		roles = append(roles, member{r.Name, r.document(false)})
	}
	for _, k := range p.Keys {
		keys = append(keys, member{k.Name, k.document(false)})
	}
	b, err := json.MarshalIndent(obj{{"roles", roles}, {"keys", keys}}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteCloudFormation prints YAML to paste into a SAM or CloudFormation
// template: under KeyPolicies, each key's KeyPolicy (for its
// AWS::KMS::Key); under Resources, an AWS::IAM::Policy per role that
// attaches the role's statements to it. Roles are named in key policies
// by aws:PrincipalArn built from their names, and role statements live in
// their own resources, so no dependency cycle arises between keys and
// roles.
func WriteCloudFormation(w io.Writer, p *Policies) error {
	var b strings.Builder
	b.WriteString("# Written by sfn-decrypt policy from the sfnenc configuration.\n")
	b.WriteString("# KeyPolicies: the KeyPolicy property of each AWS::KMS::Key.\n")
	b.WriteString("KeyPolicies:\n")
	for _, k := range p.Keys {
		notes(&b, "  ", k.Notes)
		fmt.Fprintf(&b, "  %s:\n", yamlKey(k.Name))
		yamlValue(&b, 4, k.document(true))
	}
	b.WriteString("# Resources: an AWS::IAM::Policy per role, to add to the template's Resources.\n")
	b.WriteString("Resources:\n")
	n := 0
	for _, r := range p.Roles {
		notes(&b, "  ", r.Notes)
		if len(r.Statements) == 0 {
			continue
		}
		n++
		roleRef := any(r.RoleName)
		if r.RoleID != "" {
			roleRef = obj{{"Ref", r.RoleID}}
		}
		fmt.Fprintf(&b, "  %s:\n", yamlKey(title(r.Name)+"KmsPolicy"))
		yamlValue(&b, 4, obj{
			{"Type", "AWS::IAM::Policy"},
			{"Properties", obj{
				{"PolicyName", "sfnenc-kms"},
				{"Roles", []any{roleRef}},
				{"PolicyDocument", r.document(true)},
			}},
		})
	}
	if n == 0 {
		b.WriteString("  {}\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func notes(b *strings.Builder, indent string, ns []string) {
	for _, n := range ns {
		fmt.Fprintf(b, "%s# %s\n", indent, n)
	}
}

// yamlValue writes v (obj, []any, string, map[string]any) as block YAML at
// the indent, for a value that follows "key:" on its own line.
func yamlValue(b *strings.Builder, indent int, v any) {
	pad := strings.Repeat(" ", indent)
	switch t := v.(type) {
	case obj:
		if len(t) == 0 {
			b.WriteString(pad + "{}\n")
		}
		for _, m := range t {
			yamlMember(b, pad, m.k, m.v, indent)
		}
	case map[string]any:
		for k, x := range t { // one member: an intrinsic function
			yamlMember(b, pad, k, x, indent)
		}
	case []any:
		for _, x := range t {
			switch x.(type) {
			case obj, map[string]any:
				var sub strings.Builder
				yamlValue(&sub, indent+2, x)
				s := sub.String()
				b.WriteString(pad + "- " + s[indent+2:])
			default:
				b.WriteString(pad + "- " + yamlScalar(x) + "\n")
			}
		}
	default:
		b.WriteString(pad + yamlScalar(v) + "\n")
	}
}

func yamlMember(b *strings.Builder, pad, k string, v any, indent int) {
	switch t := v.(type) {
	case obj, map[string]any:
		b.WriteString(pad + yamlKey(k) + ":\n")
		yamlValue(b, indent+2, v)
	case []any:
		if flat(t) {
			parts := make([]string, len(t))
			for i, x := range t {
				parts[i] = yamlScalar(x)
			}
			b.WriteString(pad + yamlKey(k) + ": [" + strings.Join(parts, ", ") + "]\n")
			return
		}
		b.WriteString(pad + yamlKey(k) + ":\n")
		yamlValue(b, indent+2, v)
	default:
		b.WriteString(pad + yamlKey(k) + ": " + yamlScalar(v) + "\n")
	}
}

func flat(xs []any) bool {
	for _, x := range xs {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

// yamlKey writes a mapping key, quoted where plain YAML would misread it.
func yamlKey(k string) string { return yamlScalar(k) }

// yamlScalar writes a string plain where YAML reads it back as the same
// string, else double-quoted (a JSON string is a YAML double-quoted one).
func yamlScalar(x any) string {
	s, _ := x.(string)
	if plain(s) {
		return s
	}
	return strconv.Quote(s)
}

func plain(s string) bool {
	if s == "" || strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@` ") {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
		return false
	}
	if s[0] >= '0' && s[0] <= '9' || s[0] == '.' || s[0] == '+' { // numbers, dates, times
		return false
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}

// WriteTerraform prints an aws_iam_policy_document data block per role
// and per key.
func WriteTerraform(w io.Writer, p *Policies) error {
	var b strings.Builder
	b.WriteString("# Written by sfn-decrypt policy from the sfnenc configuration.\n")
	block := func(prefix string, pol Policy) {
		notes(&b, "", pol.Notes)
		fmt.Fprintf(&b, "data \"aws_iam_policy_document\" %s {\n", strconv.Quote(prefix+tfName(pol.Name)))
		for _, s := range pol.Statements {
			b.WriteString("  statement {\n")
			fmt.Fprintf(&b, "    sid       = %s\n", strconv.Quote(s.Sid))
			fmt.Fprintf(&b, "    effect    = %s\n", strconv.Quote(s.Effect))
			fmt.Fprintf(&b, "    actions   = %s\n", tfList(s.Actions))
			fmt.Fprintf(&b, "    resources = %s\n", tfList([]string{s.Resource.S}))
			if s.Principals != nil {
				b.WriteString("    principals {\n      type        = \"AWS\"\n")
				fmt.Fprintf(&b, "      identifiers = %s\n    }\n", tfList(vals(s.Principals)))
			}
			for _, c := range s.Conditions {
				b.WriteString("    condition {\n")
				fmt.Fprintf(&b, "      test     = %s\n", strconv.Quote(c.Op))
				fmt.Fprintf(&b, "      variable = %s\n", strconv.Quote(c.Key))
				fmt.Fprintf(&b, "      values   = %s\n", tfList(vals(c.Values)))
				b.WriteString("    }\n")
			}
			b.WriteString("  }\n")
		}
		b.WriteString("}\n\n")
	}
	for _, r := range p.Roles {
		if len(r.Statements) == 0 {
			notes(&b, "", append([]string{r.Name + ":"}, r.Notes...))
			b.WriteString("\n")
			continue
		}
		block("role_", r)
	}
	for _, k := range p.Keys {
		block("key_", k)
	}
	_, err := io.WriteString(w, strings.TrimSuffix(b.String(), "\n"))
	return err
}

func vals(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.S
	}
	return out
}

// tfList writes strings as an HCL list; "${" and "%{" are escaped, so a
// value is never read as a template.
func tfList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		q := strconv.Quote(s)
		q = strings.ReplaceAll(q, "${", "$${")
		q = strings.ReplaceAll(q, "%{", "%%{")
		parts[i] = q
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// tfName makes a Terraform block name: letters, digits and underscores,
// in lower case.
func tfName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
