package stack

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"strings"
)

// LoadTemplate reads a SAM or CloudFormation template (YAML, short-form
// tags included, or JSON): its Lambda functions (AWS::Serverless::Function
// with SAM's Globals, AWS::Lambda::Function) and its state machines
// (inline Definition, DefinitionString as a string or under Fn::Sub in
// either form, or DefinitionUri relative to the template), with their
// DefinitionSubstitutions.
func LoadTemplate(path string) (*Stack, error) {
	data, err := readFile(path, maxFile)
	if err != nil {
		return nil, err
	}
	v, pos, err := decode(data, path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStack, path, err)
	}
	tpl, _ := v.(map[string]any)
	res, _ := tpl["Resources"].(map[string]any)
	if res == nil {
		return nil, fmt.Errorf("%w: %s: no Resources", ErrStack, path)
	}
	s := &Stack{File: path}
	globalEnv, globalSub := envOf(dig(tpl, "Globals", "Function")), envSubOf(dig(tpl, "Globals", "Function"))
	for _, id := range sortedKeys(res) {
		r, _ := res[id].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			env, sub := map[string]string{}, map[string]string{}
			if r["Type"] == "AWS::Serverless::Function" {
				maps.Copy(env, globalEnv)
				maps.Copy(sub, globalSub)
			}
			maps.Copy(env, envOf(props))
			maps.Copy(sub, envSubOf(props))
			name := id
			if n, ok := props["FunctionName"].(string); ok {
				name = n
			}
			f := &Function{ID: id, LogicalID: id, Name: name, Env: env, EnvSub: sub, At: pos["/Resources/"+escape(id)]}
			f.Role, f.RoleName = roleOf(props["Role"], res)
			f.SAM = r["Type"] == "AWS::Serverless::Function"
			s.Functions = append(s.Functions, f)
		}
	}
	s.readIAM(res, func(id string) Pos { return pos["/Resources/"+escape(id)] })
	for _, id := range sortedKeys(res) {
		r, _ := res[id].(map[string]any)
		if r["Type"] != "AWS::Serverless::StateMachine" && r["Type"] != "AWS::StepFunctions::StateMachine" {
			continue
		}
		m, err := s.templateMachine(id, r, path, pos)
		if err != nil {
			m = &StateMachine{ID: id, err: err}
		}
		s.StateMachines = append(s.StateMachines, m)
	}
	return s, nil
}

func (s *Stack) templateMachine(id string, r map[string]any, path string, pos positions) (*StateMachine, error) {
	props, _ := r["Properties"].(map[string]any)
	ptr := "/Resources/" + escape(id) + "/Properties"
	m := &StateMachine{ID: id, Substitutions: map[string]string{}}
	subs, _ := props["DefinitionSubstitutions"].(map[string]any)
	for k, x := range subs {
		m.Substitutions[k] = s.resolve(x)
	}
	var err error
	switch {
	case props["Definition"] != nil:
		m.Definition, err = inlineDefinition(s.resolveAll(props["Definition"]), path, ptr+"/Definition", pos)
	case props["DefinitionString"] != nil:
		m.Definition, err = s.definitionString(props["DefinitionString"], m, path, ptr+"/DefinitionString", pos)
	case props["DefinitionUri"] != nil:
		uri, ok := props["DefinitionUri"].(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s: %s: DefinitionUri in S3 is not supported: pass the definition file", ErrStack, path, id)
		}
		m.Definition, err = loadDefinitionFile(filepath.Dir(path), uri)
	default:
		return nil, fmt.Errorf("%w: %s: %s has no Definition, DefinitionString or DefinitionUri", ErrStack, path, id)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// definitionString reads DefinitionString: a string, Fn::Sub of a string,
// or Fn::Sub of [string, {variables}].
func (s *Stack) definitionString(x any, m *StateMachine, path, ptr string, pos positions) (*Definition, error) {
	if str, ok := x.(string); ok {
		return stringDefinition(str, path, ptr, pos)
	}
	if join, ok := x.(map[string]any)["Fn::Join"].([]any); ok {
		// Fn::Join [separator, [parts]]: the parts that are functions'
		// ARNs or names resolve; the states' lines are not known.
		str, err := s.join(join)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s: %v", ErrStack, path, m.ID, err)
		}
		return stringDefinition(str, path, ptr, pos)
	}
	sub, ok := x.(map[string]any)["Fn::Sub"]
	if !ok {
		return nil, fmt.Errorf("%w: %s: %s: DefinitionString is neither a string, Fn::Sub nor Fn::Join", ErrStack, path, m.ID)
	}
	sptr := ptr
	if _, long := pos[ptr+"/Fn::Sub"]; long {
		sptr = ptr + "/Fn::Sub"
	}
	var tmpl string
	switch t := sub.(type) {
	case string:
		tmpl = t
	case []any:
		if len(t) != 2 {
			return nil, fmt.Errorf("%w: %s: %s: Fn::Sub takes a string and a map of variables", ErrStack, path, m.ID)
		}
		tmpl, ok = t[0].(string)
		vars, ok2 := t[1].(map[string]any)
		if !ok || !ok2 {
			return nil, fmt.Errorf("%w: %s: %s: Fn::Sub takes a string and a map of variables", ErrStack, path, m.ID)
		}
		for k, v := range vars {
			m.Substitutions[k] = s.resolve(v)
		}
		sptr += "/0"
	default:
		return nil, fmt.Errorf("%w: %s: %s: Fn::Sub takes a string or a list", ErrStack, path, m.ID)
	}
	// Under Fn::Sub, ${Function.Arn} and ${Function} name a function.
	for _, f := range s.Functions {
		if _, set := m.Substitutions[f.LogicalID+".Arn"]; !set {
			m.Substitutions[f.LogicalID+".Arn"] = f.ARN()
		}
		if _, set := m.Substitutions[f.LogicalID]; !set {
			m.Substitutions[f.LogicalID] = f.Name
		}
	}
	return stringDefinition(tmpl, path, sptr, pos)
}

// join reads Fn::Join [separator, [parts]].
func (s *Stack) join(args []any) (string, error) {
	if len(args) != 2 {
		return "", fmt.Errorf("Fn::Join takes a separator and a list")
	}
	sep, ok := args[0].(string)
	parts, ok2 := args[1].([]any)
	if !ok || !ok2 {
		return "", fmt.Errorf("Fn::Join takes a separator and a list")
	}
	strs := make([]string, len(parts))
	for i, p := range parts {
		strs[i] = s.resolve(p)
	}
	return strings.Join(strs, sep), nil
}

// resolve writes a template value as a string: a function's ARN
// (Fn::GetAtt [F, Arn]) or name (Ref F) as the function; a scalar as
// itself; anything else as a placeholder that names it.
func (s *Stack) resolve(x any) string {
	if str, ok := scalar(x); ok {
		return str
	}
	m, _ := x.(map[string]any)
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		id, _ := ga[0].(string)
		if f := s.Function(id); f != nil {
			return f.ARN()
		}
		attr := ""
		if len(ga) > 1 {
			attr, _ = ga[1].(string)
		}
		return "${" + id + "." + attr + "}"
	}
	if id, ok := m["Ref"].(string); ok {
		if f := s.Function(id); f != nil {
			return f.Name
		}
		return "${" + id + "}"
	}
	if sub, ok := m["Fn::Sub"].(string); ok {
		return subVars.ReplaceAllStringFunc(sub, func(v string) string {
			name := v[2 : len(v)-1]
			if f := s.Function(strings.TrimSuffix(name, ".Arn")); f != nil {
				if strings.HasSuffix(name, ".Arn") {
					return f.ARN()
				}
				return f.Name
			}
			return v
		})
	}
	for k := range m {
		return "${" + k + "}"
	}
	return "${?}"
}

var subVars = regexp.MustCompile(`\$\{[^}]+\}`)

// resolveAll replaces, in an inline definition, the intrinsic functions
// (a Resource given as Fn::GetAtt) with the strings resolve gives.
func (s *Stack) resolveAll(x any) any {
	switch t := x.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return s.resolve(t)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[k] = s.resolveAll(v)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			out[i] = s.resolveAll(v)
		}
		return out
	}
	return x
}

// roleOf reads a function's Role: the logical id of the role resource it
// names (Fn::GetAtt [X, Arn], Ref X), and that role's RoleName if it is a
// string. A role given as an ARN string is named by the ARN.
func roleOf(x any, res map[string]any) (id, name string) {
	switch t := x.(type) {
	case string:
		if i := strings.LastIndex(t, ":role/"); i >= 0 {
			name = t[i+len(":role/"):]
			name = name[strings.LastIndex(name, "/")+1:]
		}
		return t, name
	case map[string]any:
		if ga, ok := t["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
			id, _ = ga[0].(string)
		}
		if ga, ok := t["Fn::GetAtt"].(string); ok {
			id, _, _ = strings.Cut(ga, ".")
		}
		if r, ok := t["Ref"].(string); ok {
			id = r
		}
	}
	if r, ok := res[id].(map[string]any); ok {
		name, _ = dig(r, "Properties")["RoleName"].(string)
	}
	return id, name
}

// envSubOf reads the values of Environment.Variables given as Fn::Sub of
// a string.
func envSubOf(props map[string]any) map[string]string {
	out := map[string]string{}
	for k, x := range dig(props, "Environment", "Variables") {
		if m, ok := x.(map[string]any); ok {
			if s, ok := m["Fn::Sub"].(string); ok {
				out[k] = s
			}
		}
	}
	return out
}

// envOf reads Environment.Variables of a function's properties.
func envOf(props map[string]any) map[string]string {
	vars := dig(props, "Environment", "Variables")
	out := make(map[string]string, len(vars))
	for k, x := range vars {
		if s, ok := scalar(x); ok {
			out[k] = s
			continue
		}
		out[k] = "${" + k + "}"
	}
	return out
}
