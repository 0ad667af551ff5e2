package stack

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// LoadServerless reads a Serverless Framework service (serverless.yml)
// with the serverless-step-functions plugin: its functions (each one's
// environment under provider.environment) and the state machines of
// stepFunctions.stateMachines (definitions inline or from
// ${file(...)}; a Resource given as Fn::GetAtt or Ref of a function's key
// or logical id). Variables of the file itself (${self:...},
// ${sls:stage}, ${opt:stage, default}) are resolved; any other stays a
// placeholder that names it.
func LoadServerless(path string) (*Stack, error) {
	data, err := readFile(path, maxFile)
	if err != nil {
		return nil, err
	}
	v, pos, err := decode(data, path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStack, path, err)
	}
	doc, _ := v.(map[string]any)
	if doc == nil {
		return nil, fmt.Errorf("%w: %s: not a serverless.yml", ErrStack, path)
	}
	r := &slsResolver{doc: doc, dir: filepath.Dir(path)}
	s := &Stack{File: path}
	service, _ := scalar(r.vars(doc["service"], 0))
	stage := r.stage()
	provEnv := map[string]string{}
	for k, x := range dig(doc, "provider", "environment") {
		provEnv[k] = r.envValue(k, x)
	}
	fns := dig(doc, "functions")
	for _, key := range sortedKeys(fns) {
		f, _ := fns[key].(map[string]any)
		env := map[string]string{}
		for k, x := range provEnv {
			env[k] = x
		}
		for k, x := range dig(f, "environment") {
			env[k] = r.envValue(k, x)
		}
		name := service + "-" + stage + "-" + key
		if n, ok := scalar(r.vars(f["name"], 0)); ok {
			name = n
		}
		fn := &Function{ID: key, LogicalID: slsLogicalID(key) + "LambdaFunction", Name: name, Env: env, At: pos["/functions/"+escape(key)]}
		// Without a role of its own, a function runs as the service's
		// one role (provider.iam.role, or the role the framework makes).
		fn.Role, _ = scalar(r.vars(f["role"], 0))
		if fn.Role == "" {
			fn.SharedRole = true
			switch pr := dig(doc, "provider", "iam")["role"].(type) {
			case string:
				fn.Role = pr
			}
		}
		if res, ok := dig(doc, "resources", "Resources")[fn.Role].(map[string]any); ok {
			fn.RoleName, _ = dig(res, "Properties")["RoleName"].(string)
		}
		s.Functions = append(s.Functions, fn)
	}
	s.serverlessIAM(doc, dig(doc, "resources", "Resources"), func(id string) Pos { return pos["/resources/Resources/"+escape(id)] })
	machines := dig(doc, "stepFunctions", "stateMachines")
	if machines == nil {
		return nil, fmt.Errorf("%w: %s: no stepFunctions.stateMachines", ErrStack, path)
	}
	for _, id := range sortedKeys(machines) {
		m, _ := machines[id].(map[string]any)
		ptr := "/stepFunctions/stateMachines/" + escape(id) + "/definition"
		sm := &StateMachine{ID: id, Substitutions: map[string]string{}}
		var def *Definition
		switch d := m["definition"].(type) {
		case string:
			file, ok := fileRef(d)
			if !ok {
				def, err = stringDefinition(d, path, ptr, pos)
				break
			}
			def, err = loadDefinitionFile(r.dir, file)
		case map[string]any:
			def, err = inlineDefinition(d, path, ptr, pos)
		default:
			err = fmt.Errorf("%w: %s: state machine %s has no definition", ErrStack, path, id)
		}
		if err != nil {
			s.StateMachines = append(s.StateMachines, &StateMachine{ID: id, err: err})
			continue
		}
		def.Value, _ = s.resolveAll(r.vars(def.Value, 0)).(map[string]any)
		sm.Definition = def
		s.StateMachines = append(s.StateMachines, sm)
	}
	return s, nil
}

// slsLogicalID is the logical id the Serverless Framework gives a
// function's key (without the LambdaFunction suffix): the first letter up,
// "-" as Dash, "_" as Underscore.
func slsLogicalID(key string) string {
	r := strings.NewReplacer("-", "Dash", "_", "Underscore").Replace(key)
	if r == "" {
		return r
	}
	rs := []rune(r)
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

var fileVar = regexp.MustCompile(`^\$\{file\(([^)]+)\)\}$`)

func fileRef(s string) (string, bool) {
	m := fileVar.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	return strings.Trim(strings.TrimSpace(m[1]), `'"`), true
}

type slsResolver struct {
	doc map[string]any
	dir string
}

func (r *slsResolver) stage() string {
	if s, ok := scalar(r.vars(dig(r.doc, "provider")["stage"], 0)); ok && s != "" && !strings.Contains(s, "${") {
		return s
	}
	return "dev"
}

// envValue is an environment variable's value as a string.
func (r *slsResolver) envValue(k string, x any) string {
	if s, ok := scalar(r.vars(x, 0)); ok {
		return s
	}
	return "${" + k + "}"
}

var slsVar = regexp.MustCompile(`\$\{([^{}]+)\}`)

// maxVarDepth bounds variables that refer to variables.
const maxVarDepth = 10

// vars resolves the Serverless variables in the strings of x.
func (r *slsResolver) vars(x any, depth int) any {
	switch t := x.(type) {
	case string:
		if depth > maxVarDepth || !strings.Contains(t, "${") {
			return t
		}
		// A string that is one variable takes the variable's value,
		// whatever its type.
		if m := slsVar.FindStringSubmatch(t); m != nil && m[0] == t {
			if v, ok := r.lookup(m[1], depth); ok {
				return v
			}
			return t
		}
		return slsVar.ReplaceAllStringFunc(t, func(v string) string {
			if x, ok := r.lookup(v[2:len(v)-1], depth); ok {
				if s, ok := scalar(x); ok {
					return s
				}
			}
			return v
		})
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[k] = r.vars(v, depth)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			out[i] = r.vars(v, depth)
		}
		return out
	}
	return x
}

// lookup resolves one variable: self:a.b, sls:stage, opt:stage, with a
// default after a comma.
func (r *slsResolver) lookup(expr string, depth int) (any, bool) {
	ref, def, hasDef := strings.Cut(expr, ",")
	ref = strings.TrimSpace(ref)
	var v any
	found := false
	switch {
	case strings.HasPrefix(ref, "self:"):
		var cur any = r.doc
		found = true
		for _, k := range strings.Split(strings.TrimPrefix(ref, "self:"), ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				found = false
				break
			}
			if cur, ok = m[k]; !ok {
				found = false
				break
			}
		}
		if found {
			v = r.vars(cur, depth+1)
		}
	case ref == "sls:stage" || ref == "opt:stage":
		if s, ok := scalar(r.vars(dig(r.doc, "provider")["stage"], depth+1)); ok && !strings.Contains(s, "${") {
			v, found = s, true
		} else if !hasDef {
			v, found = "dev", true
		}
	}
	if !found && hasDef {
		d := strings.TrimSpace(def)
		if len(d) >= 2 && (d[0] == '\'' || d[0] == '"') && d[len(d)-1] == d[0] {
			return d[1 : len(d)-1], true
		}
		return r.lookup(d, depth+1)
	}
	return v, found
}
