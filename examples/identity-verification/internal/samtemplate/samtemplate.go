// Package samtemplate reads the parts of an AWS SAM template that the
// example's harness and tests use: the functions (code directory,
// environment with the Globals merged in, IAM policy statements), the state
// machine's definition file and substitutions, managed policies, IAM roles
// and key policies. It resolves the long-form intrinsic functions Ref,
// Fn::GetAtt and Fn::Sub against given values; the short forms (!Ref and
// so on) are YAML tags it does not read.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	Parameters map[string]Parameter `yaml:"Parameters"`
	Globals    struct {
		Function FunctionProperties `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]*Resource `yaml:"Resources"`
}

// Parameter is a template parameter.
type Parameter struct {
	Type    string `yaml:"Type"`
	Default string `yaml:"Default"`
}

// Resource is a resource of the template; Properties is decoded by type.
type Resource struct {
	Type       string         `yaml:"Type"`
	Metadata   map[string]any `yaml:"Metadata"`
	Properties yaml.Node      `yaml:"Properties"`
}

// FunctionProperties holds the properties of an AWS::Serverless::Function
// the harness uses.
type FunctionProperties struct {
	CodeURI     string `yaml:"CodeUri"`
	Runtime     string `yaml:"Runtime"`
	Handler     string `yaml:"Handler"`
	Environment struct {
		Variables map[string]any `yaml:"Variables"`
	} `yaml:"Environment"`
	Policies []any `yaml:"Policies"`
	Layers   []any `yaml:"Layers"`
}

// Function is an AWS::Serverless::Function with the Globals applied.
type Function struct {
	LogicalID string
	CodeURI   string
	// Runtime and Handler are the function's, or else the Globals'.
	Runtime, Handler string
	// Layers are the Globals' layers and then the function's own, as SAM
	// adds them up.
	Layers []any
	// Env holds the environment variables, the Globals' merged with the
	// function's own; values are strings or intrinsic functions.
	Env map[string]any
	// Statements are the function's inline IAM policy statements; SAM
	// policy templates (such as LambdaInvokePolicy) are in Templates.
	Statements []Statement
	Templates  []string
}

// Statement is an IAM policy statement.
type Statement struct {
	Sid       string                    `yaml:"Sid"`
	Effect    string                    `yaml:"Effect"`
	Principal any                       `yaml:"Principal"`
	Action    StringList                `yaml:"Action"`
	Resource  any                       `yaml:"Resource"`
	Condition map[string]map[string]any `yaml:"Condition"`
}

// StringList is an IAM value that is a string or a list of strings.
type StringList []string

// UnmarshalYAML reads a string or a sequence of strings.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	return fmt.Errorf("samtemplate: line %d: want a string or a list of strings", n.Line)
}

// StateMachine is an AWS::Serverless::StateMachine.
type StateMachine struct {
	LogicalID               string
	DefinitionURI           string         `yaml:"DefinitionUri"`
	DefinitionSubstitutions map[string]any `yaml:"DefinitionSubstitutions"`
}

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return Parse(data)
}

// Parse parses a template.
func Parse(data []byte) (*Template, error) {
	var t Template
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return &t, nil
}

func (t *Template) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Functions returns the template's functions, by logical id.
func (t *Template) Functions() ([]Function, error) {
	var fns []Function
	for _, id := range t.ofType("AWS::Serverless::Function") {
		r := t.Resources[id]
		var p FunctionProperties
		if err := r.Properties.Decode(&p); err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		f := Function{LogicalID: id, CodeURI: p.CodeURI, Env: map[string]any{},
			Runtime: p.Runtime, Handler: p.Handler,
			Layers: slices.Concat(t.Globals.Function.Layers, p.Layers)}
		if f.Runtime == "" {
			f.Runtime = t.Globals.Function.Runtime
		}
		if f.Handler == "" {
			f.Handler = t.Globals.Function.Handler
		}
		for k, v := range t.Globals.Function.Environment.Variables {
			f.Env[k] = v
		}
		for k, v := range p.Environment.Variables {
			f.Env[k] = v
		}
		for i, pol := range p.Policies {
			switch pol := pol.(type) {
			case string:
				f.Templates = append(f.Templates, pol)
			case map[string]any:
				if _, ok := pol["Statement"]; !ok {
					for name := range pol {
						f.Templates = append(f.Templates, name)
					}
					continue
				}
				sts, err := statements(pol["Statement"])
				if err != nil {
					return nil, fmt.Errorf("samtemplate: %s: Policies[%d]: %w", id, i, err)
				}
				f.Statements = append(f.Statements, sts...)
			default:
				return nil, fmt.Errorf("samtemplate: %s: Policies[%d] is neither a name nor a map", id, i)
			}
		}
		fns = append(fns, f)
	}
	return fns, nil
}

// statements re-reads a decoded Statement list as []Statement.
func statements(v any) ([]Statement, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var sts []Statement
	if err := yaml.Unmarshal(data, &sts); err != nil {
		return nil, err
	}
	return sts, nil
}

// ManagedPolicies returns the statements of each AWS::IAM::ManagedPolicy,
// by logical id.
func (t *Template) ManagedPolicies() (map[string][]Statement, error) {
	out := map[string][]Statement{}
	for _, id := range t.ofType("AWS::IAM::ManagedPolicy") {
		var p struct {
			PolicyDocument struct {
				Statement []Statement `yaml:"Statement"`
			} `yaml:"PolicyDocument"`
		}
		if err := t.Resources[id].Properties.Decode(&p); err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		out[id] = p.PolicyDocument.Statement
	}
	return out, nil
}

// Role is an AWS::IAM::Role: the statements of its assume-role policy and
// of its inline policies.
type Role struct {
	AssumeRole []Statement
	Statements []Statement
}

// Roles returns the template's IAM roles, by logical id.
func (t *Template) Roles() (map[string]Role, error) {
	out := map[string]Role{}
	for _, id := range t.ofType("AWS::IAM::Role") {
		var p struct {
			AssumeRolePolicyDocument struct {
				Statement []Statement `yaml:"Statement"`
			} `yaml:"AssumeRolePolicyDocument"`
			Policies []struct {
				PolicyDocument struct {
					Statement []Statement `yaml:"Statement"`
				} `yaml:"PolicyDocument"`
			} `yaml:"Policies"`
		}
		if err := t.Resources[id].Properties.Decode(&p); err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		r := Role{AssumeRole: p.AssumeRolePolicyDocument.Statement}
		for _, pol := range p.Policies {
			r.Statements = append(r.Statements, pol.PolicyDocument.Statement...)
		}
		out[id] = r
	}
	return out, nil
}

// KeyPolicies returns the key policy statements of each AWS::KMS::Key, by
// logical id.
func (t *Template) KeyPolicies() (map[string][]Statement, error) {
	out := map[string][]Statement{}
	for _, id := range t.ofType("AWS::KMS::Key") {
		var p struct {
			KeyPolicy struct {
				Statement []Statement `yaml:"Statement"`
			} `yaml:"KeyPolicy"`
		}
		if err := t.Resources[id].Properties.Decode(&p); err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		out[id] = p.KeyPolicy.Statement
	}
	return out, nil
}

// StateMachines returns the template's state machines.
func (t *Template) StateMachines() ([]StateMachine, error) {
	var sms []StateMachine
	for _, id := range t.ofType("AWS::Serverless::StateMachine") {
		var sm StateMachine
		if err := t.Resources[id].Properties.Decode(&sm); err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		sm.LogicalID = id
		sms = append(sms, sm)
	}
	return sms, nil
}

// ErrUnresolved reports a reference that Resolve was given no value for.
var ErrUnresolved = errors.New("samtemplate: unresolved reference")

// Resolve evaluates a template value to a string: a string stands for
// itself; {"Ref": N} is values[N]; {"Fn::GetAtt": [R, A]} is values["R.A"];
// {"Fn::Sub": S} replaces each ${N} in S by values[N] (and ${!X} by ${X}).
func Resolve(v any, values map[string]string) (string, error) {
	lookup := func(name string) (string, error) {
		s, ok := values[name]
		if !ok {
			return "", fmt.Errorf("%w: %s", ErrUnresolved, name)
		}
		return s, nil
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		if len(v) != 1 {
			break
		}
		if ref, ok := v["Ref"].(string); ok {
			return lookup(ref)
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			r, _ := ga[0].(string)
			a, _ := ga[1].(string)
			return lookup(r + "." + a)
		}
		if sub, ok := v["Fn::Sub"].(string); ok {
			var b strings.Builder
			for {
				i := strings.Index(sub, "${")
				if i < 0 {
					b.WriteString(sub)
					return b.String(), nil
				}
				j := strings.Index(sub[i:], "}")
				if j < 0 {
					return "", fmt.Errorf("samtemplate: Fn::Sub: unclosed ${")
				}
				b.WriteString(sub[:i])
				name := sub[i+2 : i+j]
				if strings.HasPrefix(name, "!") {
					b.WriteString("${" + name[1:] + "}")
				} else {
					s, err := lookup(name)
					if err != nil {
						return "", err
					}
					b.WriteString(s)
				}
				sub = sub[i+j+1:]
			}
		}
	}
	return "", fmt.Errorf("samtemplate: cannot resolve %v", v)
}

// ResolveList resolves a value that is a string, an intrinsic function or a
// list of them.
func ResolveList(v any, values map[string]string) ([]string, error) {
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, err := Resolve(e, values)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := Resolve(v, values)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// IsGo reports whether the function is a Go binary on an OS-only runtime
// (provided.*), as the example's Go functions are; any other runtime (such
// as nodejs20.x) runs its handler behind the sfnenc layer's proxy.
func (f Function) IsGo() bool { return strings.HasPrefix(f.Runtime, "provided") }
