package check

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
)

// ParseDefinition decodes an ASL document (JSON or YAML).
func ParseDefinition(data []byte) (map[string]any, error) {
	d, err := stack.ParseDefinition(data, "")
	if err != nil {
		return nil, definitionError(err)
	}
	return d.Value, nil
}

// definitionError wraps ErrDefinition around the stack reader's error.
func definitionError(err error) error {
	if errors.Is(err, stack.ErrDefinition) {
		return fmt.Errorf("%w: %s", ErrDefinition, strings.TrimPrefix(err.Error(), stack.ErrDefinition.Error()+": "))
	}
	return err
}

// ErrTemplate marks a template the checker cannot use.
var ErrTemplate = errors.New("check: invalid template")

// Loaded is a definition and what a template or serverless.yml says of its
// functions.
type Loaded struct {
	Definition    map[string]any
	Functions     map[string]Function
	Substitutions map[string]string
	// Def is the definition with the places of its states.
	Def *stack.Definition
	// Stack is what the template or serverless.yml holds.
	Stack *stack.Stack
}

// Source says where to read a state machine from: a template or a
// serverless.yml (with the state machine's id if it holds several), a
// definition file, or a definition file with a template or serverless.yml
// for the functions.
type Source struct {
	Definition   string
	Template     string
	Serverless   string
	StateMachine string
}

// Load reads a state machine. Errors wrap ErrDefinition (the definition
// cannot be read) or ErrTemplate, or are a *stack.AmbiguousError, or an
// error of os.Open.
func Load(src Source) (*Loaded, error) {
	l := &Loaded{Functions: map[string]Function{}}
	if src.Template != "" || src.Serverless != "" {
		var s *stack.Stack
		var err error
		if src.Template != "" {
			s, err = stack.LoadTemplate(src.Template)
		} else {
			s, err = stack.LoadServerless(src.Serverless)
		}
		if err == nil {
			l, err = FromStack(s, src.StateMachine)
		}
		if err != nil {
			return nil, loadError(err)
		}
	}
	if src.Definition != "" {
		d, err := stack.LoadDefinition(src.Definition)
		if err != nil {
			return nil, definitionError(err)
		}
		l.Def, l.Definition = d, d.Value
	}
	if l.Def == nil {
		return nil, errors.New("check: no definition, template or serverless.yml")
	}
	return l, nil
}

// LoadTemplate reads a SAM or CloudFormation template with one state
// machine (see stack.LoadTemplate).
func LoadTemplate(path string) (*Loaded, error) {
	s, err := stack.LoadTemplate(path)
	if err != nil {
		return nil, loadError(err)
	}
	return FromStack(s, "")
}

func loadError(err error) error {
	var amb *stack.AmbiguousError
	if errors.As(err, &amb) {
		return err
	}
	if errors.Is(err, stack.ErrStack) {
		return fmt.Errorf("%w: %s", ErrTemplate, strings.TrimPrefix(err.Error(), stack.ErrStack.Error()+": "))
	}
	return definitionError(err)
}

// FromStack takes state machine id ("" for the only one) of a stack, and
// what the environment of each function says of it.
func FromStack(s *stack.Stack, id string) (*Loaded, error) {
	m, err := s.StateMachine(id)
	if err != nil {
		return nil, loadError(err)
	}
	l := &Loaded{Definition: m.Definition.Value, Def: m.Definition, Functions: map[string]Function{}, Substitutions: m.Substitutions, Stack: s}
	for _, f := range s.Functions {
		l.Functions[f.Name] = FunctionFromEnv(f.Env)
	}
	return l, nil
}

// FunctionFromEnv is what a function's environment says of it: the
// middleware (in Go, or the Lambda layer for other runtimes) runs where
// SFNENC_CONFIG, SFNENC_CONFIG_FILE or SFNENC_CLASSES is set. A value the
// template leaves unresolved ("${...}") tells nothing.
func FunctionFromEnv(env map[string]string) Function {
	var f Function
	for _, k := range []string{"SFNENC_CONFIG", "SFNENC_CONFIG_FILE", "SFNENC_CLASSES"} {
		if _, ok := env[k]; ok {
			f.Middleware = true
		}
	}
	if s, ok := env["SFNENC_CLASSES"]; ok && !unresolved(s) {
		f.Classes = ParseClasses(s)
		f.Explicit = true
	}
	if s, ok := env["SFNENC_WRITES"]; ok && !unresolved(s) {
		f.Writes = ParseClasses(s)
	}
	if s := env["SFNENC_ERROR_CLASS"]; !unresolved(s) {
		f.ErrorClass = s
	}
	switch strings.ToLower(strings.TrimSpace(env["SFNENC_ACCEPT_PLAINTEXT"])) {
	case "true", "1":
		f.AcceptPlaintext = true
	}
	return f
}

func unresolved(s string) bool { return strings.HasPrefix(s, "${") }

// ParseClasses reads a list of classes as SFNENC_CLASSES and SFNENC_WRITES hold it: comma
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
