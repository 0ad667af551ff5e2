package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrTemplate marks a template the checker cannot use.
var ErrTemplate = errors.New("check: invalid template")

// maxFile bounds the size of a definition or template.
const maxFile = 8 << 20

// ParseDefinition decodes an ASL document (JSON or YAML).
func ParseDefinition(data []byte) (map[string]any, error) {
	v, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDefinition, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: not an object", ErrDefinition)
	}
	return m, nil
}

// decode reads JSON, or YAML with CloudFormation's short-form tags
// ("!Sub x" becomes {"Fn::Sub": "x"}, "!Ref x" {"Ref": "x"},
// "!GetAtt a.b" {"Fn::GetAtt": ["a", "b"]}).
func decode(data []byte) (any, error) {
	if len(data) > maxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxFile)
	}
	t := bytes.TrimSpace(data)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		dec := json.NewDecoder(bytes.NewReader(t))
		var v any
		if err := dec.Decode(&v); err == nil {
			if _, err := dec.Token(); err == nil {
				return nil, errors.New("data after the JSON value")
			}
			return v, nil
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return nil, errors.New("empty document")
	}
	return fromYAML(n.Content[0], 0)
}

func fromYAML(n *yaml.Node, depth int) (any, error) {
	if depth > 256 {
		return nil, errors.New("nested too deeply")
	}
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return nil, errors.New("YAML aliases are not supported")
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			x, err := fromYAML(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = x
		}
		v = m
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			x, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, x)
		}
		v = s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			v = nil
		case "!!bool", "!!int", "!!float":
			if err := n.Decode(&v); err != nil {
				return nil, err
			}
		default:
			v = n.Value
		}
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := n.Tag[1:]
		switch name {
		case "Ref", "Condition":
			return map[string]any{name: v}, nil
		case "GetAtt":
			if s, ok := v.(string); ok {
				a, b, _ := strings.Cut(s, ".")
				v = []any{a, b}
			}
		}
		return map[string]any{"Fn::" + name: v}, nil
	}
	return v, nil
}

// Loaded is a definition and what a template says of its functions.
type Loaded struct {
	Definition    map[string]any
	Functions     map[string]Function
	Substitutions map[string]string
}

// LoadTemplate reads a SAM or CloudFormation template (YAML or JSON): its
// one state machine's definition (inline Definition or DefinitionString,
// or DefinitionUri relative to the template), DefinitionSubstitutions,
// and each function's SFNENC_* environment (with SAM's Globals).
func LoadTemplate(path string) (*Loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTemplate, path, err)
	}
	tpl, _ := v.(map[string]any)
	res, _ := tpl["Resources"].(map[string]any)
	if res == nil {
		return nil, fmt.Errorf("%w: %s: no Resources", ErrTemplate, path)
	}
	l := &Loaded{Functions: map[string]Function{}, Substitutions: map[string]string{}}
	globalEnv := envVars(dig(tpl, "Globals", "Function"))
	fnNames := map[string]string{} // logical id -> function name
	var machines []string
	for _, id := range sortedKeys(res) {
		r, _ := res[id].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			env := map[string]any{}
			if r["Type"] == "AWS::Serverless::Function" {
				for k, x := range globalEnv {
					env[k] = x
				}
			}
			for k, x := range envVars(props) {
				env[k] = x
			}
			name := id
			if s, ok := props["FunctionName"].(string); ok {
				name = s
			}
			fnNames[id] = name
			l.Functions[name] = functionFromEnv(env)
		case "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine":
			machines = append(machines, id)
		}
	}
	if len(machines) != 1 {
		return nil, fmt.Errorf("%w: %s: %d state machines (want 1)", ErrTemplate, path, len(machines))
	}
	r, _ := res[machines[0]].(map[string]any)
	props, _ := r["Properties"].(map[string]any)
	subs, _ := props["DefinitionSubstitutions"].(map[string]any)
	for k, x := range subs {
		l.Substitutions[k] = substitution(x, fnNames)
	}
	switch {
	case props["Definition"] != nil:
		def, ok := props["Definition"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: Definition is not an object", ErrDefinition, machines[0])
		}
		l.Definition = def
	case props["DefinitionString"] != nil:
		s, ok := props["DefinitionString"].(string)
		if !ok {
			s, ok = props["DefinitionString"].(map[string]any)["Fn::Sub"].(string)
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s: DefinitionString is neither a string nor Fn::Sub of a string", ErrDefinition, machines[0])
		}
		if l.Definition, err = ParseDefinition([]byte(s)); err != nil {
			return nil, err
		}
	case props["DefinitionUri"] != nil:
		uri, ok := props["DefinitionUri"].(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s: DefinitionUri in S3 is not supported: pass --definition", ErrTemplate, machines[0])
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), uri))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDefinition, err)
		}
		if l.Definition, err = ParseDefinition(b); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %s has no Definition, DefinitionString or DefinitionUri", ErrTemplate, machines[0])
	}
	return l, nil
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func envVars(props map[string]any) map[string]any {
	return dig(props, "Environment", "Variables")
}

func functionFromEnv(env map[string]any) Function {
	var f Function
	for _, k := range []string{"SFNENC_CONFIG", "SFNENC_CONFIG_FILE", "SFNENC_CLASSES"} {
		if _, ok := env[k]; ok {
			f.Middleware = true
		}
	}
	if s, ok := env["SFNENC_CLASSES"].(string); ok {
		f.Classes = ParseClasses(s)
		f.Explicit = true
	}
	f.ErrorClass, _ = env["SFNENC_ERROR_CLASS"].(string)
	return f
}

// ParseClasses reads a list of classes as SFNENC_CLASSES holds it: comma
// separated, "-" for none.
func ParseClasses(s string) []string {
	out := []string{}
	if strings.TrimSpace(s) == "-" {
		return out
	}
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// substitution resolves a DefinitionSubstitutions value: a function's ARN
// (Fn::GetAtt [F, Arn], or Ref F) becomes an ARN with the function's name,
// so that Tasks find the function; anything else stays a placeholder.
func substitution(x any, fns map[string]string) string {
	switch t := x.(type) {
	case string:
		return t
	case map[string]any:
		if ga, ok := t["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
			if id, _ := ga[0].(string); fns[id] != "" {
				return "arn:aws:lambda:region:account:function:" + fns[id]
			}
		}
		if id, ok := t["Ref"].(string); ok && fns[id] != "" {
			return fns[id]
		}
	}
	return "unresolved"
}
