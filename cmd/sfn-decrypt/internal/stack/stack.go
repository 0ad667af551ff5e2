// Package stack reads how a state machine is deployed: its definition
// (Amazon States Language, JSON or YAML), and the SAM or CloudFormation
// template or Serverless Framework file (serverless.yml with the
// serverless-step-functions plugin) that holds its state machines and
// Lambda functions, with their logical ids, names, environment (the
// SFNENC_* variables of the sfnenc middleware, or of its Lambda layer) and
// where each is written.
//
// Entry points: ParseDefinition for a definition file, LoadTemplate for a
// SAM or CloudFormation template, LoadServerless for serverless.yml. Each
// resolves what it can offline (a function's ARN in a definition becomes
// arn:aws:lambda:region:account:function:NAME, Serverless variables of
// the file itself) and leaves the rest as a named placeholder "${Name}".
package stack

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrDefinition marks a definition that is not an ASL document.
var ErrDefinition = errors.New("invalid definition")

// ErrStack marks a template or serverless.yml the reader cannot use.
var ErrStack = errors.New("invalid template")

// AmbiguousError: the file has several state machines and none was
// chosen.
type AmbiguousError struct {
	File string
	IDs  []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s has %d state machines (%s)", e.File, len(e.IDs), strings.Join(e.IDs, ", "))
}

// MaxDefinition is the largest definition Step Functions accepts
// (1 MiB): a larger one is refused before it is parsed.
const MaxDefinition = 1 << 20

// maxFile bounds a template or serverless.yml.
const maxFile = 8 << 20

// Definition is a state machine definition and where it is written.
type Definition struct {
	// Value is the decoded ASL document.
	Value map[string]any
	// File is the file the definition is written in (a template, for an
	// inline definition).
	File string
	// At is where the definition starts: its key in a template, or the
	// start of its own file.
	At Pos
	// States are where each state is written, by name (names are unique
	// in a state machine, nested ones included). A state whose place is
	// not known (a definition in a folded string) is not listed.
	States map[string]Pos
}

// StateAt is where state name is written, or the definition's start.
func (d *Definition) StateAt(name string) Pos {
	if p, ok := d.States[name]; ok {
		return p
	}
	return d.At
}

// Function is a Lambda function of a template or serverless.yml.
type Function struct {
	// ID is the logical id in the template, or the key under functions
	// in serverless.yml.
	ID string
	// LogicalID is the CloudFormation logical id (Serverless:
	// HelloLambdaFunction for key hello).
	LogicalID string
	// Name is the function's name: FunctionName, or the name the tool
	// gives it (SAM: the logical id here; Serverless:
	// SERVICE-STAGE-KEY).
	Name string
	// Env is the environment, with the global one (SAM Globals,
	// Serverless provider.environment) under the function's own. Values
	// that are not strings are written as strings; values the reader
	// cannot resolve are "${...}" placeholders.
	Env map[string]string
	// EnvSub holds the environment values given as Fn::Sub of a string
	// (SFNENC_CONFIG with ${Key.Arn}, say), unresolved.
	EnvSub map[string]string
	// At is where the function is written.
	At Pos
	// Role is the logical id of the IAM role resource the function runs
	// as (Role: Fn::GetAtt [X, Arn] or Ref X; Serverless: role: X), or
	// "" when the tool makes one (SAM: the function's logical id +
	// "Role"; Serverless: the service's one role).
	Role string
	// RoleName is the role's RoleName when the template writes it as a
	// string, else "".
	RoleName string
	// SharedRole: the function runs as a role every function of the
	// service shares (the Serverless Framework's default).
	SharedRole bool
	// SAM: an AWS::Serverless::Function, for which SAM makes a role when
	// it names none.
	SAM bool
}

// RoleID is the logical id of the function's role: Role, the one SAM
// makes for an AWS::Serverless::Function ("<LogicalID>Role"), the
// Serverless Framework's shared one, or "" if the file names none.
func (f *Function) RoleID() string {
	switch {
	case f.Role != "":
		return f.Role
	case f.SharedRole:
		return "IamRoleLambdaExecution"
	case f.SAM:
		return f.LogicalID + "Role"
	}
	return ""
}

// ARN is an ARN that names the function, as the reader writes it in a
// definition.
func (f *Function) ARN() string { return "arn:aws:lambda:region:account:function:" + f.Name }

// StateMachine is one state machine of a template or serverless.yml.
type StateMachine struct {
	// ID is the logical id, or the key under stepFunctions.stateMachines.
	ID         string
	Definition *Definition
	// Substitutions are DefinitionSubstitutions (and, for a definition
	// under Fn::Sub, its variables), resolved to strings.
	Substitutions map[string]string
	// err is why the definition could not be read: reported when the
	// state machine is chosen, so that one broken machine does not stop
	// the reading of another.
	err error
}

// Stack is what a template or serverless.yml holds.
type Stack struct {
	File          string
	Functions     []*Function
	StateMachines []*StateMachine
	// Roles and Keys are the IAM roles and KMS keys of the file, by
	// logical id (see Role and Key).
	Roles map[string]*Role
	Keys  map[string]*Key
}

// StateMachine returns the state machine id, or with id "" the only one.
func (s *Stack) StateMachine(id string) (*StateMachine, error) {
	var ids []string
	for _, m := range s.StateMachines {
		if m.ID == id {
			return m, m.err
		}
		ids = append(ids, m.ID)
	}
	switch {
	case len(ids) == 0:
		return nil, fmt.Errorf("%w: %s has no state machine", ErrStack, s.File)
	case id == "" && len(ids) == 1:
		return s.StateMachines[0], s.StateMachines[0].err
	case id == "":
		return nil, &AmbiguousError{File: s.File, IDs: ids}
	}
	return nil, fmt.Errorf("%w: %s has no state machine %q (it has %s)", ErrStack, s.File, id, strings.Join(ids, ", "))
}

// Function finds a function by its name, ID or logical id.
func (s *Stack) Function(name string) *Function {
	for _, f := range s.Functions {
		if f.Name == name || f.ID == name || f.LogicalID == name {
			return f
		}
	}
	return nil
}

// ParseDefinition decodes an ASL document (JSON or YAML) of file, which
// may not be larger than MaxDefinition.
func ParseDefinition(data []byte, file string) (*Definition, error) {
	if len(data) > MaxDefinition {
		return nil, fmt.Errorf("%w: %s%d bytes, more than the %d bytes Step Functions accepts", ErrDefinition, in(file), len(data), MaxDefinition)
	}
	v, pos, err := decode(data, file)
	if err != nil {
		return nil, fmt.Errorf("%w: %s%v", ErrDefinition, in(file), err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %snot an object", ErrDefinition, in(file))
	}
	d := &Definition{Value: m, File: file, At: Pos{File: file, Line: 1, Column: 1}, States: map[string]Pos{}}
	statePositions(m, "", pos, d.States)
	return d, nil
}

// in prefixes a message with a file name, if there is one.
func in(file string) string {
	if file == "" {
		return ""
	}
	return file + ": "
}

// statePositions records where each state of machine m (at pointer ptr)
// is written, nested machines included.
func statePositions(m map[string]any, ptr string, pos positions, out map[string]Pos) {
	states, _ := m["States"].(map[string]any)
	for name, x := range states {
		p := ptr + "/States/" + escape(name)
		if at, ok := pos[p]; ok {
			if _, dup := out[name]; !dup {
				out[name] = at
			}
		}
		st, _ := x.(map[string]any)
		for _, k := range []string{"ItemProcessor", "Iterator"} {
			if sub, ok := st[k].(map[string]any); ok {
				statePositions(sub, p+"/"+k, pos, out)
			}
		}
		bs, _ := st["Branches"].([]any)
		for i, b := range bs {
			if sub, ok := b.(map[string]any); ok {
				statePositions(sub, p+"/Branches/"+strconv.Itoa(i), pos, out)
			}
		}
	}
}

// readFile reads a file of at most limit bytes.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d (the most Step Functions accepts for a definition is %d)", path, st.Size(), limit, MaxDefinition)
	}
	b := make([]byte, st.Size())
	_, err = io.ReadFull(f, b)
	return b, err
}

// LoadDefinition reads a definition file (see ParseDefinition). A file
// it cannot open is reported as the error of os.Open.
func LoadDefinition(path string) (*Definition, error) {
	data, err := readFile(path, MaxDefinition)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrDefinition, err)
	}
	return ParseDefinition(data, path)
}

// loadDefinitionFile reads a definition from a file relative to dir.
func loadDefinitionFile(dir, rel string) (*Definition, error) {
	d, err := LoadDefinition(filepath.Join(dir, rel))
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%w: %v", ErrDefinition, err)
	}
	return d, err
}

// inlineDefinition is a definition written in a template or
// serverless.yml at pointer ptr.
func inlineDefinition(v any, file, ptr string, pos positions) (*Definition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s%s is not an object", ErrDefinition, file, ptr)
	}
	d := &Definition{Value: m, File: file, At: pos[ptr], States: map[string]Pos{}}
	statePositions(m, ptr, pos, d.States)
	return d, nil
}

// stringDefinition is a definition written as a string (DefinitionString,
// Fn::Sub): its states' lines are known only in a literal block.
func stringDefinition(s, file, ptr string, pos positions) (*Definition, error) {
	d, err := ParseDefinition([]byte(s), file)
	if err != nil {
		return nil, err
	}
	d.At = pos[ptr]
	start, literal := pos[ptr+literalMark]
	for name, p := range d.States {
		if !literal {
			delete(d.States, name)
			continue
		}
		d.States[name] = Pos{File: file, Line: start.Line + p.Line - 1, Column: start.Column + p.Column - 1}
	}
	return d, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

// scalar writes a scalar as a string; ok is false for anything else.
func scalar(x any) (string, bool) {
	switch t := x.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}
