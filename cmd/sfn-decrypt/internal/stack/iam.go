package stack

import (
	"fmt"
	"slices"
)

// Statement is an IAM policy statement as the template writes it:
// intrinsic functions (Fn::GetAtt, Ref, Fn::Sub) are left as they are.
type Statement = map[string]any

// Role is an IAM role of a template and the statements the reader sees
// in it.
type Role struct {
	// ID is the role's logical id (SAM's "<Function>Role" for a role it
	// makes from a function's Policies; Serverless:
	// IamRoleLambdaExecution for the service's one role).
	ID string
	// Statements are the role's policy statements written in the file:
	// inline policies, SAM Policies statements, AWS::IAM::Policy and
	// AWS::IAM::ManagedPolicy resources of the file attached to it.
	Statements []Statement
	// Unseen lists what grants the role permissions the reader cannot
	// see: managed policies by ARN or name, SAM policy templates, a
	// permissions boundary. (SCPs and grants made at run time are never
	// in a template.)
	Unseen []string
}

// Key is an AWS::KMS::Key of a template.
type Key struct {
	ID         string
	Statements []Statement // of its KeyPolicy
	At         Pos         // where the key is written
}

// readIAM reads the roles (with the policies attached to them) and the
// KMS keys of a template's resources.
func (s *Stack) readIAM(res map[string]any, at func(id string) Pos) {
	s.Roles = map[string]*Role{}
	s.Keys = map[string]*Key{}
	role := func(id string) *Role {
		if s.Roles[id] == nil {
			s.Roles[id] = &Role{ID: id}
		}
		return s.Roles[id]
	}
	for _, id := range sortedKeys(res) {
		r, _ := res[id].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::KMS::Key":
			s.Keys[id] = &Key{ID: id, Statements: statements(dig(props, "KeyPolicy")["Statement"]), At: at(id)}
		case "AWS::IAM::Role":
			ro := role(id)
			pols, _ := props["Policies"].([]any)
			for _, p := range pols {
				pm, _ := p.(map[string]any)
				ro.Statements = append(ro.Statements, statements(dig(pm, "PolicyDocument")["Statement"])...)
			}
			arns, _ := props["ManagedPolicyArns"].([]any)
			for _, a := range arns {
				if ref, ok := a.(map[string]any)["Ref"].(string); ok && managed(res, ref) {
					continue // read below, with the policy
				}
				ro.Unseen = append(ro.Unseen, "managed policy "+s.resolve(a))
			}
			if props["PermissionsBoundary"] != nil {
				ro.Unseen = append(ro.Unseen, "permissions boundary "+s.resolve(props["PermissionsBoundary"]))
			}
		case "AWS::Serverless::Function":
			if props["Role"] != nil {
				continue
			}
			ro := role(id + "Role")
			pols := props["Policies"]
			if p, ok := pols.(string); ok {
				pols = []any{p}
			}
			if p, ok := pols.(map[string]any); ok {
				pols = []any{p}
			}
			list, _ := pols.([]any)
			for _, p := range list {
				switch t := p.(type) {
				case string:
					ro.Unseen = append(ro.Unseen, "managed policy "+t)
				case map[string]any:
					if st, ok := t["Statement"]; ok {
						ro.Statements = append(ro.Statements, statements(st)...)
						continue
					}
					for k := range t {
						ro.Unseen = append(ro.Unseen, "SAM policy template "+k)
					}
				}
			}
			if props["PermissionsBoundary"] != nil {
				ro.Unseen = append(ro.Unseen, "permissions boundary "+s.resolve(props["PermissionsBoundary"]))
			}
		}
	}
	// Policies of the file attached to roles of the file.
	for _, id := range sortedKeys(res) {
		r, _ := res[id].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			sts := statements(dig(props, "PolicyDocument")["Statement"])
			roles, _ := props["Roles"].([]any)
			for _, x := range roles {
				if ref, ok := x.(map[string]any)["Ref"].(string); ok {
					role(ref).Statements = append(role(ref).Statements, sts...)
				}
			}
			if r["Type"] != "AWS::IAM::ManagedPolicy" {
				continue
			}
			for rid, ro := range s.Roles {
				rr, _ := res[rid].(map[string]any)
				arns, _ := dig(rr, "Properties")["ManagedPolicyArns"].([]any)
				if slices.ContainsFunc(arns, func(a any) bool { ref, _ := a.(map[string]any)["Ref"].(string); return ref == id }) {
					ro.Statements = append(ro.Statements, sts...)
				}
			}
		}
	}
}

// managed reports whether id is an AWS::IAM::ManagedPolicy of res.
func managed(res map[string]any, id string) bool {
	r, _ := res[id].(map[string]any)
	return r["Type"] == "AWS::IAM::ManagedPolicy"
}

// statements reads a Statement value: a list of statements, or one.
func statements(x any) []Statement {
	switch t := x.(type) {
	case map[string]any:
		return []Statement{t}
	case []any:
		var out []Statement
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// RoleOf returns the role a function runs as, as the reader sees it, or
// nil when the role is outside the file (an ARN, a role of another stack).
func (s *Stack) RoleOf(f *Function) *Role {
	return s.Roles[f.RoleID()]
}

// serverlessIAM reads the service's one role (provider.iam.role.statements,
// or the older provider.iamRoleStatements) and the roles and keys of its
// resources.Resources.
func (s *Stack) serverlessIAM(doc map[string]any, res map[string]any, at func(id string) Pos) {
	s.readIAM(res, at)
	shared := &Role{ID: "IamRoleLambdaExecution"}
	shared.Statements = append(shared.Statements, statements(dig(doc, "provider", "iam", "role")["statements"])...)
	if old, ok := dig(doc, "provider")["iamRoleStatements"]; ok {
		shared.Statements = append(shared.Statements, statements(old)...)
	}
	arns, _ := dig(doc, "provider", "iam", "role")["managedPolicies"].([]any)
	for _, a := range arns {
		shared.Unseen = append(shared.Unseen, fmt.Sprintf("managed policy %v", a))
	}
	if _, named := dig(doc, "provider", "iam")["role"].(string); !named {
		s.Roles[shared.ID] = shared
	}
}
