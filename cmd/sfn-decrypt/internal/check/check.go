// Package check finds, from an AWS Step Functions definition, the places
// where a state machine mishandles sfnenc tokens: a Choice or an intrinsic
// function that reads a token, a path into a value a rule encrypts whole,
// a token where Step Functions or a service needs the value, a token moved
// to a path no rule of its class selects before a function with the
// middleware reads it, plaintext where the middleware expects a token, an
// input of such a function without the business key that a class's
// tokens are bound to (bind, context),
// tokens sent to a service that is not such a function, and a function
// that may decrypt a class it never receives.
//
// Check runs an abstract interpretation over the state graph: for every
// state it computes where tokens of each class may be in the state's
// input, from the execution input (encrypted by the rules), through
// InputPath, Parameters, ResultSelector, ResultPath, OutputPath, Assign,
// Map, Parallel, Catch and JSONata expressions, to a fixed point. Load
// reads a definition and the functions from files (ASL, a SAM or
// CloudFormation template, or serverless.yml, with package stack);
// Suppress applies the suppressions in the states' Comments and a
// baseline; WriteText, WriteJSON and WriteSARIF print the findings.
package check

import (
	"errors"
	"fmt"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/theory/jsonpath"
)

// Rule ids: stable, and part of the output.
const (
	RuleChoiceOnToken     = "choice-on-token"
	RuleIntrinsicOnToken  = "intrinsic-on-token"
	RuleUnselectedPath    = "token-at-unselected-path"
	RuleTokenToService    = "token-to-service"
	RuleClassNeverReaches = "class-never-reaches"
	// Reading inside a whole-object or whole-array token.
	RulePathIntoToken = "path-into-token"
	// A token where Step Functions needs the value (Map items, seconds).
	RuleTokenInControl = "token-in-control-field"
	// A token in a field a service uses as a value (an address, a key).
	RuleTokenToServiceField = "token-to-service-field"
	// A value that is not a token where a rule selects, in the input of a
	// function with the middleware.
	RulePlaintextAtSelected = "plaintext-at-selected-path"
	// The input of a function with the middleware lacks the path that a
	// class's tokens are bound to (bind or context), while it may hold
	// them.
	RuleContextPathDropped = "context-path-dropped"
	// A value nested deeper than the analysis follows.
	RuleTooDeep = "too-deep"
	// A suppression in a Comment that has no reason, or matches nothing.
	RuleBadSuppression = "bad-suppression"
)

// Severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

var severity = map[string]string{
	RuleChoiceOnToken:         SeverityError,
	RuleIntrinsicOnToken:      SeverityError,
	RuleUnselectedPath:        SeverityError,
	RuleTokenToService:        SeverityWarning,
	RuleClassNeverReaches:     SeverityInfo,
	RulePathIntoToken:         SeverityError,
	RuleTokenInControl:        SeverityError,
	RuleTokenToServiceField:   SeverityError,
	RulePlaintextAtSelected:   SeverityError,
	RuleContextPathDropped:    SeverityError,
	RuleTooDeep:               SeverityWarning,
	RuleGrantMissing:          SeverityError,
	RuleGrantTooBroad:         SeverityError,
	RuleBreakGlassEncryptOpen: SeverityError,
	RuleGrantNotChecked:       SeverityInfo,
	RuleGrantSharedRole:       SeverityWarning,
	RuleBadSuppression:        SeverityWarning,
}

// Rules lists the rule ids in the order of the documentation.
var Rules = []string{RuleChoiceOnToken, RuleIntrinsicOnToken, RulePathIntoToken, RuleTokenInControl,
	RuleUnselectedPath, RulePlaintextAtSelected, RuleContextPathDropped, RuleTokenToServiceField, RuleTokenToService,
	RuleClassNeverReaches, RuleTooDeep, RuleGrantMissing, RuleGrantTooBroad, RuleBreakGlassEncryptOpen,
	RuleGrantNotChecked, RuleGrantSharedRole, RuleBadSuppression}

// Finding is one place where the state machine mishandles tokens.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// State is the name of the state.
	State string `json:"state"`
	// Path is where the token is, as JSONPath (in the state's input, its
	// effective input or its payload, as the message says) or, in a
	// JSONata state, the expression that reads it.
	Path  string `json:"path"`
	Class string `json:"class"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
	// Suppressed, if set, says how the finding was accepted
	// (SuppressedInSource, SuppressedBaseline) and Justification why.
	Suppressed    string `json:"suppressed,omitempty"`
	Justification string `json:"justification,omitempty"`
	// At, if set, is where the finding is written (a function or a key
	// of a template), for SARIF; otherwise the state's place.
	At stack.Pos `json:"-"`
}

// Function is what the checker knows of a Lambda function.
type Function struct {
	// Middleware: the function runs the sfnenc middleware. Without it, a
	// function's result is unknown and tokens sent to it are reported.
	Middleware bool
	// Classes the function decrypts; nil means every class of the
	// configuration.
	Classes []string
	// ErrorClass encrypts the messages of its errors ("" if none).
	ErrorClass string
	// Explicit: Classes was configured (SFNENC_CLASSES or --classes), so
	// a class that never reaches the function is worth an info.
	Explicit bool
	// AcceptPlaintext: SFNENC_ACCEPT_PLAINTEXT is true, so the function
	// takes plaintext where its rules select.
	AcceptPlaintext bool
	// Writes are the classes the function may write (SFNENC_WRITES); nil
	// means every class of the configuration.
	Writes []string
}

// Options are the inputs of Check besides the definition.
type Options struct {
	// Config holds the rules.
	Config *codec.Config
	// Functions by name, as the name appears in a Task's Lambda ARN or
	// FunctionName. A function not listed is taken to run the middleware
	// and decrypt every class (which the middleware does by default).
	Functions map[string]Function
	// Substitutions replace "${Name}" in the definition's strings
	// (DefinitionSubstitutions).
	Substitutions map[string]string
	// PlaintextInput: the caller of StartExecution sends plaintext where
	// the rules select (not encrypted by the rules).
	PlaintextInput bool
}

// ErrDefinition marks a definition that is not an ASL document.
var ErrDefinition = errors.New("check: invalid definition")

// Limits keep the analysis bounded on any input.
const (
	maxStates     = 10000
	maxNesting    = 32
	maxIterations = 256
	// maxWork bounds the number of state evaluations of one check:
	// nested machines are solved again in every pass of their parent.
	maxWork = 200000
)

// ErrTooComplex: the definition needs more work than the checker allows
// (its findings would be incomplete).
var ErrTooComplex = errors.New("check: definition too complex to analyse")

// Check analyses a definition (decoded ASL: a JSON object) and returns its
// findings, sorted by state, rule and path. An error is a flow the
// analysis can show; a finding that rests on content it cannot see is at
// most a warning, worded "may".
//
// What the analysis cannot see, and how it errs:
//
//   - The execution input is taken to be encrypted by the rules (or, with
//     PlaintextInput, to hold plaintext where they select): a token is
//     wherever a rule selects, and a "$..name" rule makes a token of every
//     member of that name a path names, but not of members no path names
//     (a value read whole is not assumed to hold one), nor inside a value
//     that a rule makes a token (what it held is inside the token).
//   - A Lambda function not described (by --classes or a template) is
//     taken to run the middleware and decrypt every class; its result, and
//     a task token's output, hold tokens where the rules select. A
//     function without the middleware, and any other service, returns
//     content the analysis cannot see, which may hold, anywhere, the
//     classes sent to it: findings on it are warnings. Items read by a
//     distributed Map's ItemReader are not seen.
//   - Paths are read as Step Functions reads them ("$.detail-type",
//     "$['a b']"). Descendant segments, unions and functions cannot be
//     followed: what they select is content the analysis cannot see. A
//     filter, a slice or a wildcard selects some elements of an array;
//     an index is any element: the analysis does not track array
//     positions, so Parallel branch outputs are joined.
//   - Variables are tracked flow-insensitively: a variable may hold what
//     any assignment of it may put there. In JSONPath, Assign sees the
//     state's result joined with its input.
//   - JSONata: paths, object and array constructors, blocks, conditionals
//     and $merge, $append, $lookup, $exists, $count, $type, $single,
//     $reverse move values; any other function or operator reads its
//     operands. A function given to $map, $filter, $each, $sift or $reduce
//     is followed with its first parameter bound to the elements; other
//     function definitions are not followed.
//   - Whether a rule selects a place is decided by fieldpath on a probe
//     document that holds only that place (an element at indices 0 and 1,
//     a "$..name" place one and two levels down); a filter selector is
//     taken to select whatever its filter might let through.
//   - Plaintext at a selected path is reported where the definition
//     builds the value (a literal, an object or array built by Parameters,
//     ResultSelector or JSONata, an intrinsic's output: errors), where the
//     input is plaintext (errors), or where the value comes from content
//     the analysis cannot see (warnings); not for places of such content
//     that no path names.
//   - Values are followed as deep as the rules select (64 levels at
//     least); a loop that nests a value deeper is reported (too-deep),
//     and what lies below is treated as content the analysis cannot see.
//   - A writer the analysis knows (the execution's starter, a function
//     with the middleware, a task token's sender) has the business key of
//     each class with bind or context at its path in its document (Encrypt
//     refuses a document without it); the key is followed as tokens are.
//     An input lacks it where an object the definition builds has no such
//     member (an error, at the state that builds it), or where the path
//     leads into content that no such writer put there (a warning).
//   - Tokens whose place is unknown are reported by choice-on-token,
//     intrinsic-on-token and token-to-service, but not by
//     token-at-unselected-path.
func Check(def map[string]any, opt Options) ([]Finding, error) {
	if opt.Config == nil {
		return nil, errors.New("check: no configuration")
	}
	a := &analyzer{
		opt:      opt,
		vars:     map[string]*val{},
		found:    map[string]Finding{},
		reached:  map[string]set{},
		invokers: map[string]string{},
	}
	for _, r := range opt.Config.Rules {
		rs := ruleSel{class: r.Class}
		for _, expr := range r.Select {
			q, err := jsonpath.Parse(expr)
			if err != nil {
				return nil, fmt.Errorf("check: rule %s: %w", r.Class, err)
			}
			s, err := fieldpath.Parse(expr)
			if err != nil {
				return nil, fmt.Errorf("check: rule %s: %w", r.Class, err)
			}
			rs.queries = append(rs.queries, q.Query())
			if l := loosen(q.Query()); l != nil {
				rs.loose = append(rs.loose, l)
			}
			rs.sels = append(rs.sels, s)
		}
		if r.Bind != "" {
			rs.keys = append(rs.keys, keyPath{expr: r.Bind, what: "bind"})
		}
		for _, k := range sortedKeys(r.Context) {
			rs.keys = append(rs.keys, keyPath{expr: r.Context[k], what: fmt.Sprintf("context entry %q", k)})
		}
		for i := range rs.keys {
			ref, ok := parseRef(rs.keys[i].expr)
			if !ok || ref.dynamic || ref.indefinite {
				return nil, fmt.Errorf("check: rule %s: %s %q is not a singular path", r.Class, rs.keys[i].what, rs.keys[i].expr)
			}
			rs.keys[i].steps = ref.steps
		}
		a.rules = append(a.rules, rs)
	}
	a.depthLimit = maxDepth
	for _, r := range a.rules {
		for _, q := range r.queries {
			a.depthLimit = max(a.depthLimit, min(len(q.Segments())+maxDepth/4, maxValueDepth/4))
		}
	}
	a.encrypted = ruleValue(a.rules, false)
	m, err := parseMachine(def, "", 0, &a.nstates)
	if err != nil {
		return nil, err
	}
	a.input = a.encrypted
	if opt.PlaintextInput {
		a.input = ruleValue(a.rules, true)
	}
	a.run(m, a.input, 0)
	if a.work > maxWork {
		return nil, ErrTooComplex
	}
	a.neverReaches()
	out := make([]Finding, 0, len(a.found))
	for _, f := range a.found {
		out = append(out, f)
	}
	sortFindings(out)
	return out, nil
}

// HasErrors reports whether a finding that is not suppressed is an error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError && f.Suppressed == "" {
			return true
		}
	}
	return false
}

type analyzer struct {
	opt       Options
	rules     []ruleSel
	encrypted *val // a document encrypted by the rules
	input     *val // the execution input
	vars      map[string]*val
	found     map[string]Finding
	nstates   int
	work      int
	// depthLimit is how deep values are followed: maxDepth, or deeper
	// where a rule selects deeper.
	depthLimit int
	// varsVersion counts the changes of vars.
	varsVersion int
	// reached: classes that reached each function; invokers: the first
	// state that invokes it.
	reached  map[string]set
	invokers map[string]string
}

// report records a finding. A finding that rests on content the analysis
// cannot see (speculative) is at most a warning; of the same finding
// reached by several flows, the one that can be shown wins.
func (a *analyzer) report(rule, state, path, class string, speculative bool, msg string) {
	k := rule + "\x00" + state + "\x00" + path + "\x00" + class
	sev := severity[rule]
	if speculative && sev == SeverityError {
		sev = SeverityWarning
	}
	if old, ok := a.found[k]; ok && (old.Severity == sev || old.Severity == SeverityError) {
		return
	}
	a.found[k] = Finding{Rule: rule, Severity: sev, State: state, Path: path, Class: class, Message: msg}
}

func (a *analyzer) rule(class string) (ruleSel, bool) {
	for _, r := range a.rules {
		if r.class == class {
			return r, true
		}
	}
	return ruleSel{}, false
}

// assign joins x into variable name: variables are tracked flow
// insensitively (a variable holds what any assignment may have put in it).
func (a *analyzer) assign(name string, x *val) {
	old, seen := a.vars[name]
	nv := join(old, x).truncate(0, a.depthLimit, nil)
	if !seen || !equal(nv, old) {
		a.vars[name] = nv
		a.varsVersion++
	}
}

// run computes the fixed point of one machine (the top level, a Map's
// item processor, a Parallel branch) from its input, and returns the join
// of what its terminal states output. A worklist re-evaluates a state only
// when its input (or a variable) has grown.
func (a *analyzer) run(m *machine, in *val, depth int) *val {
	if depth > maxNesting {
		return &val{any: in.classes()}
	}
	inputs := map[string]*val{m.startAt: in}
	ends := map[string]*val{}
	visits := map[string]int{}
	queue := []string{m.startAt}
	queued := map[string]bool{m.startAt: true}
	push := func(name string) {
		if !queued[name] {
			queued[name] = true
			queue = append(queue, name)
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		queued[name] = false
		if visits[name]++; visits[name] > maxIterations {
			// Not a fixed point yet: the findings would be incomplete.
			a.work = maxWork + 1
		}
		if a.work++; a.work > maxWork {
			return &val{any: in.classes()}
		}
		vv := a.varsVersion
		var end *val
		for _, e := range a.transfer(m.states[name], inputs[name], depth) {
			if e.next == "" {
				end = join(end, e.out)
				continue
			}
			if _, ok := m.states[e.next]; !ok {
				continue
			}
			old, seen := inputs[e.next]
			cut := false
			nv := join(old, e.out).truncate(0, a.depthLimit, &cut)
			if cut {
				a.report(RuleTooDeep, e.next, "$", "", false, fmt.Sprintf(
					"the input of %s nests values deeper than %d levels, which the check does not follow: below that depth it cannot say where tokens are, and treats what is there as content it cannot see", e.next, a.depthLimit))
			}
			if !seen || !equal(nv, old) {
				inputs[e.next] = nv
				push(e.next)
			}
		}
		ends[name] = end
		if a.varsVersion != vv {
			for _, n := range sortedKeys(inputs) {
				push(n)
			}
		}
	}
	var out *val
	for _, n := range sortedKeys(ends) {
		out = join(out, ends[n])
	}
	return out
}

// edge is where a state's output goes; next "" ends the machine.
type edge struct {
	next string
	out  *val
}
