package check

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

type machine struct {
	startAt string
	order   []string
	states  map[string]*state
}

type state struct {
	name    string
	typ     string
	jsonata bool
	raw     map[string]any
	subs    []*machine // Map: the item processor; Parallel: the branches
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// parseMachine reads the states of a machine. lang is the query language
// inherited from the enclosing machine.
func parseMachine(def map[string]any, lang string, depth int, count *int) (*machine, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%w: more than %d nested machines", ErrDefinition, maxNesting)
	}
	if l, ok := def["QueryLanguage"].(string); ok {
		lang = l
	}
	start, _ := def["StartAt"].(string)
	states, ok := def["States"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: no States object", ErrDefinition)
	}
	if _, ok := states[start]; !ok {
		return nil, fmt.Errorf("%w: StartAt %q is not a state", ErrDefinition, start)
	}
	m := &machine{startAt: start, states: map[string]*state{}, order: sortedKeys(states)}
	for _, name := range m.order {
		*count++
		if *count > maxStates {
			return nil, fmt.Errorf("%w: more than %d states", ErrDefinition, maxStates)
		}
		raw, ok := states[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: state %q is not an object", ErrDefinition, name)
		}
		st := &state{name: name, raw: raw}
		st.typ, _ = raw["Type"].(string)
		if !stateTypes[st.typ] {
			return nil, fmt.Errorf("%w: state %q has type %q, which is not a state type (%s)", ErrDefinition, name, st.typ, strings.Join(sortedKeys(stateTypes), ", "))
		}
		for _, n := range successors(raw) {
			if _, ok := states[n]; !ok {
				return nil, fmt.Errorf("%w: state %q goes to %q, which is not a state of its machine", ErrDefinition, name, n)
			}
		}
		l := lang
		if sl, ok := raw["QueryLanguage"].(string); ok {
			l = sl
		}
		st.jsonata = l == "JSONata"
		var subDefs []map[string]any
		switch st.typ {
		case "Map":
			p, ok := raw["ItemProcessor"].(map[string]any)
			if !ok {
				p, ok = raw["Iterator"].(map[string]any)
			}
			if !ok {
				return nil, fmt.Errorf("%w: Map state %q has no ItemProcessor", ErrDefinition, name)
			}
			subDefs = append(subDefs, p)
		case "Parallel":
			bs, _ := raw["Branches"].([]any)
			for _, b := range bs {
				bm, ok := b.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%w: Parallel state %q: a branch is not an object", ErrDefinition, name)
				}
				subDefs = append(subDefs, bm)
			}
		}
		for _, sd := range subDefs {
			// A nested machine speaks its state's language unless it says
			// otherwise.
			sl := "JSONPath"
			if st.jsonata {
				sl = "JSONata"
			}
			sub, err := parseMachine(sd, sl, depth+1, count)
			if err != nil {
				return nil, err
			}
			st.subs = append(st.subs, sub)
		}
		m.states[name] = st
	}
	return m, nil
}

var stateTypes = map[string]bool{"Task": true, "Pass": true, "Choice": true, "Wait": true, "Succeed": true, "Fail": true, "Map": true, "Parallel": true}

// successors are the states a state names as where to go next.
func successors(raw map[string]any) []string {
	var out []string
	add := func(x any) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	add(raw["Next"])
	add(raw["Default"])
	for _, k := range []string{"Choices", "Catch"} {
		cs, _ := raw[k].([]any)
		for _, c := range cs {
			add(rawMap(c)["Next"])
		}
	}
	return out
}

// ctxv is what the context object ($$, $states.context) may hold that the
// analysis follows: the execution input and the Map item.
type ctxv struct {
	item *val
}

func (a *analyzer) contextValue(c *ctxv) *val {
	v := (&val{}).withField("Execution", (&val{}).withField("Input", a.input))
	if c != nil && c.item != nil {
		v = v.withField("Map", (&val{}).withField("Item", (&val{}).withField("Value", c.item)))
	}
	return v
}

func (a *analyzer) transfer(st *state, in *val, depth int) []edge {
	if st.jsonata {
		return a.transferJSONata(st, in, depth)
	}
	raw := st.raw
	eff := in
	if p, present := raw["InputPath"]; present {
		eff = a.pathValue(st, p, in, nil)
	}
	var result, errv *val
	switch st.typ {
	case "Pass":
		if p, ok := raw["Parameters"]; ok {
			eff = a.template(st, p, eff, nil)
		}
		result = eff
		if _, ok := raw["Result"]; ok {
			result = nil
		}
	case "Task":
		a.controlPaths(st, eff, "TimeoutSecondsPath", "HeartbeatSecondsPath")
		req := eff
		p, hasParams := raw["Parameters"]
		if hasParams {
			req = a.template(st, p, eff, nil)
		}
		result, errv = a.task(st, req, argsOf(p, hasParams))
		if rs, ok := raw["ResultSelector"]; ok {
			result = a.template(st, rs, result, nil)
		}
	case "Map":
		a.controlPaths(st, eff, "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath")
		items := eff
		if p, ok := raw["ItemsPath"]; ok {
			items = a.pathValue(st, p, eff, nil)
			s, _ := p.(string)
			a.control(st, "ItemsPath", s, items)
		} else {
			a.control(st, "the Map's input", "$", items)
		}
		item := items.element()
		if _, ok := raw["ItemReader"]; ok {
			// A distributed Map reads its items from S3: the analysis
			// does not see them.
			item = nil
		}
		iterIn := item
		for _, k := range []string{"ItemSelector", "Parameters"} {
			if p, ok := raw[k]; ok {
				iterIn = a.template(st, p, eff, &ctxv{item: item})
			}
		}
		if b, ok := raw["ItemBatcher"].(map[string]any); ok {
			// A batch: {"Items": [...], "BatchInput": ...}.
			batch := (&val{}).withField("Items", arrayOf(iterIn))
			if bi, ok := b["BatchInput"]; ok {
				batch = batch.withField("BatchInput", a.template(st, bi, eff, nil))
			}
			iterIn = batch
		}
		result = arrayOf(a.run(st.subs[0], iterIn, depth+1))
		if _, ok := raw["ResultWriter"]; ok {
			result = nil
		}
		if rs, ok := raw["ResultSelector"]; ok {
			result = a.template(st, rs, result, nil)
		}
	case "Parallel":
		if p, ok := raw["Parameters"]; ok {
			eff = a.template(st, p, eff, nil)
		}
		var outs *val
		for _, b := range st.subs {
			outs = join(outs, a.run(b, eff, depth+1))
		}
		result = arrayOf(outs)
		if rs, ok := raw["ResultSelector"]; ok {
			result = a.template(st, rs, result, nil)
		}
	case "Choice":
		var edges []edge
		out := a.outputPath(st, eff)
		cs, _ := raw["Choices"].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			a.choiceRule(st, cm, eff)
			if as, ok := cm["Assign"]; ok {
				a.assignJSONPath(st, as, eff)
			}
			if n, ok := cm["Next"].(string); ok {
				edges = append(edges, edge{next: n, out: out})
			}
		}
		if n, ok := raw["Default"].(string); ok {
			edges = append(edges, edge{next: n, out: out})
		}
		return edges
	case "Wait", "Succeed":
		a.controlPaths(st, eff, "SecondsPath", "TimestampPath")
		if as, ok := raw["Assign"]; ok {
			a.assignJSONPath(st, as, eff)
		}
		return a.next(st, a.outputPath(st, eff))
	case "Fail":
		// ErrorPath and CausePath may hold intrinsic functions.
		for _, k := range []string{"ErrorPath", "CausePath"} {
			if p, ok := raw[k].(string); ok {
				a.expr(st, p, eff, nil)
			}
		}
		return nil
	default:
		return nil
	}
	if as, ok := raw["Assign"]; ok {
		// "$" in Assign is the state's result; the state's input is
		// joined in, so that a reading of either is covered.
		a.assignJSONPath(st, as, join(result, eff))
	}
	out := in
	if p, present := raw["ResultPath"]; present {
		if s, ok := p.(string); ok {
			out = a.putPath(st, in, s, result)
		}
	} else {
		out = result
	}
	edges := a.next(st, a.outputPath(st, out))
	return append(edges, a.catches(st, in, errv)...)
}

// controlPaths reads the fields of a state whose value Step Functions
// itself needs (a number of seconds, a timestamp, a limit).
func (a *analyzer) controlPaths(st *state, in *val, fields ...string) {
	for _, f := range fields {
		if p, ok := st.raw[f].(string); ok {
			a.control(st, f, p, a.expr(st, p, in, nil))
		}
	}
}

// control reports a token where Step Functions needs the value: it
// cannot iterate, count or wait on a token.
func (a *analyzer) control(st *state, field, path string, v *val) {
	if v == nil {
		return
	}
	for _, c := range v.tok.union(v.any).sorted() {
		spec := !v.tok[c]
		a.report(RuleTokenInControl, st.name, path, c, spec, fmt.Sprintf(
			"%s %s %s a token of class %s, so Step Functions gets the token's text where it needs the value and fails the state: keep this value out of the rules of %s, or compute it in a function that decrypts %s and return it unencrypted",
			field, path, holds(spec), c, c, c))
	}
}

// argsOf is a Parameters or Arguments object: nil if absent. Arguments
// that are one JSONata expression may give any member, Payload included.
func argsOf(x any, present bool) map[string]any {
	if !present {
		return nil
	}
	if m, ok := x.(map[string]any); ok {
		return m
	}
	return map[string]any{"Payload": nil}
}

func rawMap(x any) map[string]any {
	m, _ := x.(map[string]any)
	return m
}

func (a *analyzer) next(st *state, out *val) []edge {
	if n, ok := st.raw["Next"].(string); ok {
		return []edge{{next: n, out: out}}
	}
	if e, _ := st.raw["End"].(bool); e || st.typ == "Succeed" {
		return []edge{{out: out}}
	}
	return nil
}

func (a *analyzer) catches(st *state, in, errv *val) []edge {
	var edges []edge
	cs, _ := st.raw["Catch"].([]any)
	for _, c := range cs {
		cm, _ := c.(map[string]any)
		n, ok := cm["Next"].(string)
		if !ok {
			continue
		}
		if st.jsonata {
			edges = append(edges, edge{next: n, out: a.jsonataCatch(st, cm, in, errv)})
			continue
		}
		if as, ok := cm["Assign"]; ok {
			a.assignJSONPath(st, as, errv)
		}
		out := errv
		if p, present := cm["ResultPath"]; present {
			if s, ok := p.(string); ok {
				out = a.putPath(st, in, s, errv)
			} else {
				out = in
			}
		}
		edges = append(edges, edge{next: n, out: out})
	}
	return edges
}

// pathValue reads an InputPath, ItemsPath or OutputPath (null: {}).
func (a *analyzer) pathValue(st *state, p any, in *val, c *ctxv) *val {
	s, ok := p.(string)
	if !ok {
		return nil
	}
	return a.expr(st, s, in, c)
}

func (a *analyzer) outputPath(st *state, out *val) *val {
	if p, present := st.raw["OutputPath"]; present {
		return a.pathValue(st, p, out, nil)
	}
	return out
}

func (a *analyzer) putPath(st *state, in *val, p string, x *val) *val {
	if p == "$" {
		return x
	}
	r, ok := parseRef(p)
	if !ok {
		return join(in, unknownContent(x.classes()))
	}
	return put(in, r, x, a.depthLimit)
}

// template evaluates Parameters, ItemSelector, ResultSelector: members
// named "x.$" take the value of a path, an intrinsic function, a variable
// or the context object. What it builds is not a token: an object, an
// array or a literal the middleware would take for plaintext.
func (a *analyzer) template(st *state, x any, in *val, c *ctxv) *val {
	switch t := x.(type) {
	case map[string]any:
		// One map, filled in place: time stays linear in the members.
		fields := make(map[string]*val, len(t))
		for k, m := range t {
			var v *val
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				s, _ := m.(string)
				v = a.expr(st, s, in, c)
				k = name
			} else {
				v = a.template(st, m, in, c)
			}
			if v != nil {
				fields[k] = v
			}
		}
		v := built(objectShape(len(t)), st.name)
		v.fields = fields
		return v
	case []any:
		var el *val
		for _, e := range t {
			el = join(el, a.template(st, e, in, c))
		}
		v := arrayOf(el)
		v.shape, v.from = arrayShape(len(t)), st.name
		return v
	}
	return literal(x, st.name)
}

func objectShape(n int) string {
	if n == 1 {
		return "an object with 1 member"
	}
	return fmt.Sprintf("an object with %d members", n)
}

func arrayShape(n int) string {
	if n == 1 {
		return "an array with 1 element"
	}
	return fmt.Sprintf("an array with %d elements", n)
}

// expr evaluates the value of a "x.$" member, or a path field.
func (a *analyzer) expr(st *state, s string, in *val, c *ctxv) *val {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "States."):
		call, err := parseIntrinsic(s)
		if err != nil {
			return unknownContent(in.classes())
		}
		return a.intrinsic(st, call, in, c)
	case strings.HasPrefix(s, "$$"):
		return a.refValue(st, a.contextValue(c), "$"+s[2:], s)
	case len(s) > 1 && s[0] == '$' && s[1] != '.' && s[1] != '[':
		name, rest := s[1:], ""
		if i := strings.IndexAny(name, ".["); i >= 0 {
			name, rest = name[:i], name[i:]
		}
		return a.refValue(st, a.vars[name], "$"+rest, s)
	}
	return a.refValue(st, in, s, s)
}

// refValue is the value that path p (written text) selects in v. A path
// that reads inside a token is reported: at run time it selects nothing.
func (a *analyzer) refValue(st *state, v *val, p, text string) *val {
	r, ok := parseRef(p)
	if !ok || r.dynamic {
		return unknownContent(v.classes())
	}
	for i, s := range r.steps {
		if v != nil && len(v.tok) > 0 {
			a.intoToken(st, text, pathString("$", r.steps[:i]), v.tok)
		}
		v = v.child(s.name, s.isName)
	}
	if r.indefinite {
		v = arrayOf(v)
	}
	return v
}

// intoToken reports a path that reads inside a value the rules make one
// token (a whole object or array).
func (a *analyzer) intoToken(st *state, text, at string, tok set) {
	for _, c := range tok.sorted() {
		a.report(RulePathIntoToken, st.name, text, c, false, fmt.Sprintf(
			"%s reads inside %s, which is a token of class %s (a rule encrypts the whole value), so at run time there is no such member or element: read it in a function that decrypts %s, or select the fields the state machine needs inside %s instead of the whole value",
			text, at, c, c, at))
	}
}

func (a *analyzer) assignJSONPath(st *state, x any, result *val) {
	m, _ := x.(map[string]any)
	for _, k := range sortedKeys(m) {
		if name, ok := strings.CutSuffix(k, ".$"); ok {
			s, _ := m[k].(string)
			a.assign(name, a.expr(st, s, result, nil))
		} else {
			a.assign(k, a.template(st, m[k], result, nil))
		}
	}
}

// comparisons that do not read the value's content.
var presenceTests = map[string]bool{"IsPresent": true, "IsNull": true, "IsString": true}

func (a *analyzer) choiceRule(st *state, r map[string]any, in *val) {
	for _, k := range []string{"And", "Or"} {
		if subs, ok := r[k].([]any); ok {
			for _, s := range subs {
				a.choiceRule(st, rawMap(s), in)
			}
		}
	}
	if n, ok := r["Not"].(map[string]any); ok {
		a.choiceRule(st, n, in)
	}
	v, ok := r["Variable"].(string)
	if !ok {
		return
	}
	for _, k := range sortedKeys(r) {
		if k == "Variable" || k == "Next" || k == "And" || k == "Or" || k == "Not" || k == "Assign" || k == "Output" || k == "Comment" {
			continue
		}
		if presenceTests[k] {
			continue
		}
		a.choiceRead(st, v, a.expr(st, v, in, nil))
		if strings.HasSuffix(k, "Path") {
			if p, ok := r[k].(string); ok {
				a.choiceRead(st, p, a.expr(st, p, in, nil))
			}
		}
	}
}

func (a *analyzer) choiceRead(st *state, path string, v *val) {
	if v == nil {
		return
	}
	for _, c := range v.tok.union(v.any).sorted() {
		spec := !v.tok[c]
		a.report(RuleChoiceOnToken, st.name, path, c, spec, fmt.Sprintf(
			"a Choice rule compares %s, which %s a token of class %s, so it never matches the value: compare it in a function that decrypts %s, or have that function return an unencrypted decision",
			path, holds(spec), c, c))
	}
}

func beOrHold(speculative bool) string {
	if speculative {
		return "may be or hold (from content the check cannot see)"
	}
	return "may be or hold"
}

func holds(speculative bool) string {
	if speculative {
		return "may be (from content the check cannot see)"
	}
	return "may be"
}

var (
	lambdaInvoke = regexp.MustCompile(`^arn:[^:]+:states:::lambda:invoke(\.waitForTaskToken)?$`)
	lambdaARN    = regexp.MustCompile(`^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)`)
	serviceARN   = regexp.MustCompile(`^arn:[^:]+:states:[^:]*:[^:]*:([a-zA-Z0-9-]+)`)
	placeholder  = regexp.MustCompile(`^\$\{([^}]+)\}$`)
)

// functionName is a function's name from an ARN, a partial ARN, a name
// with a qualifier, or a "${Name}" the definition leaves unsubstituted.
func functionName(s string) string {
	if inner, ok := strings.CutPrefix(s, "${"); ok {
		return strings.TrimSuffix(inner, "}")
	}
	if i := strings.Index(s, ":function:"); i >= 0 {
		s = s[i+len(":function:"):]
		if j := strings.IndexByte(s, ':'); j >= 0 {
			s = s[:j]
		}
		return s
	}
	if j := strings.IndexByte(s, ':'); j >= 0 {
		return s[:j]
	}
	return s
}

// task models a Task: what reaches the resource, and what comes back (the
// result, and the error output for Catch). args are the raw Parameters or
// Arguments (nil if the state has none), req their value.
func (a *analyzer) task(st *state, req *val, args map[string]any) (result, errv *val) {
	res := a.resource(st)
	wait := strings.HasSuffix(res, ".waitForTaskToken")
	fnName, isLambda := a.taskFunction(st.raw, args)
	payload := req
	if lambdaInvoke.MatchString(res) && args != nil {
		// Without Parameters the effective input is the payload; with
		// them, their Payload member (none: an empty payload).
		payload = nil
		_, p := args["Payload"]
		_, pp := args["Payload.$"]
		if p || pp {
			payload = req.child("Payload", true)
		}
	}
	if isLambda {
		r, e := a.lambda(st, fnName, payload)
		switch {
		case wait:
			// The task token's sender encrypts its output by the rules.
			return a.encrypted, e
		case lambdaInvoke.MatchString(res):
			return (&val{plain: plainMay, rest: plainMay}).withField("Payload", r), e
		}
		return r, e
	}
	service := "an unknown resource"
	if m := serviceARN.FindStringSubmatch(res); m != nil {
		service = m[1]
		if service == "" || strings.Contains(res, ":activity:") {
			service = "activity"
		}
	}
	action := ""
	if _, rest, ok := strings.Cut(res, ":::"); ok {
		rest = strings.TrimPrefix(rest, "aws-sdk:")
		if f := strings.FieldsFunc(rest, func(r rune) bool { return r == ':' || r == '.' }); len(f) > 0 {
			service = f[0]
			if len(f) > 1 {
				action = f[1]
			}
		}
	}
	for _, t := range sentTokens(req) {
		p, spec := tokenPath(t), t.unknown
		if why := serviceNeedsValue(service, action, t.path); why != "" {
			a.report(RuleTokenToServiceField, st.name, p, t.class, spec, fmt.Sprintf(
				"a token of class %s %s %s of %s (%s), where %s: the call cannot do what the state asks; send this field unencrypted from a function that decrypts %s, or keep it out of the rules",
				t.class, reaches(spec), p, service, res, why, t.class))
			continue
		}
		a.report(RuleTokenToService, st.name, p, t.class, true, fmt.Sprintf(
			"a token of class %s %s %s of the request to %s (%s): the receiver gets the token, not the data; make sure it can decrypt it, or send it only unencrypted fields",
			t.class, reaches(spec), p, service, res))
	}
	if wait {
		// The task token's sender encrypts its output by the rules.
		return a.encrypted, nil
	}
	// A service's result is content the analysis cannot see: it may hold,
	// anywhere, the classes sent to it.
	return unknownContent(req.read()), nil
}

// sentTokens are the places where a request to a service may hold tokens,
// each marked unknown where it rests on content the analysis cannot see.
// A "$..name" rule below a value no path names is left out: there is no
// sign that the value holds such a member.
func sentTokens(req *val) []tokenAt {
	known := req.known()
	var out []tokenAt
	for _, t := range req.tokens() {
		if t.deepName != "" {
			continue
		}
		t.unknown = t.unknown || !known[t.class]
		out = append(out, t)
	}
	return out
}

func reaches(speculative bool) string {
	if speculative {
		return "may reach (from content the check cannot see)"
	}
	return "may reach"
}

// tokenPath is a token's place as JSONPath.
func tokenPath(t tokenAt) string {
	p := pathString("$", t.path)
	if t.deepName != "" {
		p += ".." + t.deepName
	}
	return p
}

// serviceNeedsValue says why a service cannot work with a token at path
// of its request ("" if it may): an address to send to, a phone number, a
// key to find an item by.
func serviceNeedsValue(service, action string, path []step) string {
	first := func(names ...string) bool {
		return len(path) > 0 && path[0].isName && slices.Contains(names, path[0].name)
	}
	second := func(outer string, names ...string) bool {
		return len(path) > 1 && path[0].isName && path[0].name == outer && path[1].isName && slices.Contains(names, path[1].name)
	}
	switch service {
	case "ses", "sesv2":
		if second("Destination", "ToAddresses", "CcAddresses", "BccAddresses") || first("Source", "FromEmailAddress", "ReplyToAddresses", "ReturnPath", "Destinations") {
			return "SES needs the email address itself to send the message"
		}
	case "sns":
		if first("PhoneNumber") {
			return "SNS needs the phone number itself to send the SMS"
		}
	case "dynamodb":
		if first("Key") && action != "query" && action != "scan" {
			return "DynamoDB finds the item by the key's value, and a token is new at every encryption, so the key never matches a stored item"
		}
	}
	return ""
}

func (a *analyzer) resource(st *state) string {
	res, _ := st.raw["Resource"].(string)
	return a.substitute(res)
}

// taskFunction is the Lambda function a Task invokes ("" if named at run
// time), and whether it invokes one. args are its Parameters or Arguments.
func (a *analyzer) taskFunction(raw, args map[string]any) (name string, isLambda bool) {
	res, _ := raw["Resource"].(string)
	res = a.substitute(res)
	switch {
	case lambdaInvoke.MatchString(res):
		fn, _ := args["FunctionName"].(string)
		return functionName(a.substitute(fn)), true
	case lambdaARN.MatchString(res):
		return lambdaARN.FindStringSubmatch(res)[1], true
	case placeholder.MatchString(res):
		// "${ProcessFunctionArn}" that nothing substitutes: a function
		// known by the placeholder's name.
		return placeholder.FindStringSubmatch(res)[1], true
	}
	return "", false
}

// FunctionRef is a Lambda function a definition's Tasks invoke.
type FunctionRef struct {
	// Name is the function's name as the checker knows it (from the ARN,
	// after substitution).
	Name string
	// Placeholder is the "${Name}" the definition writes, if any.
	Placeholder string
	// State is the first state that invokes it.
	State string
}

// FunctionRefs lists the Lambda functions the Tasks of a definition
// invoke, by name, and the placeholders they are written with.
func FunctionRefs(def map[string]any, subs map[string]string) ([]FunctionRef, error) {
	n := 0
	m, err := parseMachine(def, "", 0, &n)
	if err != nil {
		return nil, err
	}
	a := &analyzer{opt: Options{Substitutions: subs}}
	seen := map[string]int{}
	var out []FunctionRef
	var walk func(m *machine)
	walk = func(m *machine) {
		for _, name := range m.order {
			st := m.states[name]
			for _, sub := range st.subs {
				walk(sub)
			}
			if st.typ != "Task" {
				continue
			}
			args := rawMap(st.raw["Parameters"])
			if st.jsonata {
				args = rawMap(st.raw["Arguments"])
			}
			fn, ok := a.taskFunction(st.raw, args)
			if !ok || fn == "" {
				continue
			}
			ph := ""
			for _, x := range []any{st.raw["Resource"], args["FunctionName"]} {
				if s, _ := x.(string); placeholder.MatchString(s) {
					ph = placeholder.FindStringSubmatch(s)[1]
				}
			}
			if i, ok := seen[fn]; ok {
				if out[i].Placeholder == "" {
					out[i].Placeholder = ph
				}
				continue
			}
			seen[fn] = len(out)
			out = append(out, FunctionRef{Name: fn, Placeholder: ph, State: name})
		}
	}
	walk(m)
	return out, nil
}

func (a *analyzer) lambda(st *state, name string, payload *val) (result, errv *val) {
	if name == "" {
		// Named by a path or an expression: not known before it runs.
		name = "(named at run time)"
	}
	fn, known := a.opt.Functions[name]
	if !known {
		fn = Function{Middleware: true}
	}
	if old, ok := a.invokers[name]; !ok || st.name < old {
		a.invokers[name] = st.name
	}
	a.reached[name] = a.reached[name].union(payload.classes())
	if !fn.Middleware {
		for _, t := range sentTokens(payload) {
			p, spec := tokenPath(t), t.unknown
			a.report(RuleTokenToService, st.name, p, t.class, true, fmt.Sprintf(
				"a token of class %s %s %s of the input of Lambda function %s, which does not run the sfnenc middleware: it gets the token, not the data",
				t.class, reaches(spec), p, name))
		}
		return unknownContent(payload.read()), unknownContent(payload.read())
	}
	decrypts := func(c string) bool { return fn.Classes == nil || slices.Contains(fn.Classes, c) }
	for _, t := range payload.tokens() {
		if t.unknown || !decrypts(t.class) {
			continue
		}
		r, ok := a.rule(t.class)
		if !ok || r.selects(t.path, t.deepName) || a.insideSelected(t.path) {
			continue
		}
		p := tokenPath(t)
		fix := fmt.Sprintf("add %q to the select list of class %s, or pass the field under a name a rule selects", p, t.class)
		if wholeInput(t.path) && t.deepName == "" {
			// Selecting "$" would encrypt a whole input as one token.
			fix = fmt.Sprintf(`pass the value as a member of the input under a name a rule of %s selects (for example "Payload": {"field.$": "..."}), never select the whole input`, t.class)
		}
		a.report(RuleUnselectedPath, st.name, p, t.class, t.deepName != "", fmt.Sprintf(
			"a token of class %s may reach function %s at %s of its input, where no rule of %s selects it, so the function gets the token instead of the data: %s",
			t.class, name, p, t.class, fix))
	}
	a.keysDropped(st, name, payload, decrypts)
	if !fn.AcceptPlaintext {
		a.plaintextAtSelected(st, name, payload)
	}
	errv = nil
	if fn.ErrorClass != "" {
		errv = (&val{plain: plainMay, rest: plainMay}).withField("Cause", &val{tok: set{fn.ErrorClass: true}})
	}
	return a.encrypted, errv
}

// keysDropped reports each business key (a rule's bind or context path)
// that a function's input lacks where it may hold tokens of the rule's
// class at places the rule selects: the middleware evaluates the path on
// its input, so it cannot open them (sfnenc.DecryptError). The finding
// names the state that built the object without the path, or the
// function's state if the key's absence rests on content the analysis
// cannot see.
func (a *analyzer) keysDropped(st *state, fn string, payload *val, decrypts func(string) bool) {
	var known set
	var tokens []tokenAt
	for _, r := range a.rules {
		if len(r.keys) == 0 || !decrypts(r.class) {
			continue
		}
		if known == nil {
			known, tokens = payload.known(), payload.tokens()
		}
		opened, spec := false, true
		for _, t := range tokens {
			if t.class == r.class && r.selects(t.path, t.deepName) {
				opened = true
				spec = spec && (t.unknown || t.deepName != "" || !known[r.class])
			}
		}
		if !opened {
			continue
		}
		for _, k := range r.keys {
			present, builder, shown := payload.keyAt(k.steps, r.class)
			if present {
				continue
			}
			sentinel := "codec.ErrBinding"
			if k.what != "bind" {
				sentinel = "codec.ErrContextValue"
			}
			where := st.name
			if shown && builder != "" {
				where = builder
			}
			a.report(RuleContextPathDropped, where, k.expr, r.class, spec || !shown, fmt.Sprintf(
				"the input of function %s (state %s) %s tokens of class %s, whose %s is %s, but %s: the middleware evaluates the path on its input and refuses the tokens (sfnenc.DecryptError, %s); carry %s from the document that holds the tokens into the input, as the writer had it",
				fn, st.name, mayHold(spec), r.class, k.what, k.expr, keyMissing(shown, builder, k.expr), sentinel, k.expr))
		}
	}
}

func mayHold(speculative bool) string {
	if speculative {
		return "may hold (from content the check cannot see)"
	}
	return "may hold"
}

// keyMissing says why a business key is missing from a function's input.
func keyMissing(shown bool, builder, expr string) string {
	if shown {
		return fmt.Sprintf("state %s builds that input without %s, where their writer had the value it bound them to", builder, expr)
	}
	return fmt.Sprintf("%s there may not be the value their writer bound them to: it comes from content the check cannot see, not from a document that held the tokens", expr)
}

// insideSelected reports whether a rule selects a place above path: the
// middleware takes that value whole (a token, or plaintext it refuses,
// which plaintext-at-selected-path reports), not what it holds.
func (a *analyzer) insideSelected(path []step) bool {
	for i := len(path) - 1; i > 0; i-- {
		for _, r := range a.rules {
			if r.selectsAny(path[:i]) {
				return true
			}
		}
	}
	return false
}

// wholeInput: a path that is the input itself, or its elements.
func wholeInput(path []step) bool {
	for _, s := range path {
		if s.isName {
			return false
		}
	}
	return true
}

// plaintextAtSelected reports the values in a function's input that are
// not tokens but sit where a rule selects: the middleware refuses the
// input (sfnenc.ContractError) before the handler runs.
func (a *analyzer) plaintextAtSelected(st *state, fn string, payload *val) {
	for _, pl := range payload.plainPlaces() {
		for _, r := range a.rules {
			if !r.selectsAny(pl.path) {
				continue
			}
			p := pathString("$", pl.path)
			found, why := pl.v.shape, ""
			spec := pl.v.plain != plainIs
			switch {
			case spec:
				found = "a value that may not be a token"
				why = "it may come from content the check cannot see (a service's result, or a field of the input no rule selects)"
			case pl.v.from != "":
				why = "state " + pl.v.from + " builds it"
			default:
				why = "the caller of StartExecution sends plaintext, as --input plaintext says"
			}
			if n := pl.v.tokenMembers(); n > 0 && !spec && found != shapeScalar {
				found += fmt.Sprintf(", %d of them tokens", n)
			}
			a.report(RulePlaintextAtSelected, st.name, p, r.class, spec, fmt.Sprintf(
				"%s at %s, where the rules expect a token of class %s: function %s fails with sfnenc.ContractError before its handler runs (%s); build the value in a function with the middleware, which returns it encrypted, or pass it under a name no rule of %s selects",
				found, pointer(pl.path), r.class, fn, why, r.class))
		}
	}
}

// pointer writes an abstract path as an RFC 6901 JSON pointer, an
// element as its first index.
func pointer(path []step) string {
	if len(path) == 0 {
		return "(root)"
	}
	var b strings.Builder
	for _, s := range path {
		b.WriteByte('/')
		if !s.isName {
			b.WriteByte('0')
			continue
		}
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s.name))
	}
	return b.String()
}

// pseudo parameters of CloudFormation, as they may appear in ARNs of a
// DefinitionString under Fn::Sub (or serverless-pseudo-parameters' #{...}),
// and the Serverless Framework's own ${aws:...} variables.
var pseudo = strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", "region", "${AWS::AccountId}", "account",
	"#{AWS::Partition}", "aws", "#{AWS::Region}", "region", "#{AWS::AccountId}", "account",
	"${aws:partition}", "aws", "${aws:region}", "region", "${aws:accountId}", "account")

func (a *analyzer) substitute(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	s = pseudo.Replace(s)
	for k, v := range a.opt.Substitutions {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
	}
	return s
}

func (a *analyzer) neverReaches() {
	for _, name := range sortedKeys(a.invokers) {
		fn, ok := a.opt.Functions[name]
		if !ok || !fn.Explicit || !fn.Middleware {
			continue
		}
		for _, c := range fn.Classes {
			if a.reached[name][c] {
				continue
			}
			a.report(RuleClassNeverReaches, a.invokers[name], "$", c, false, fmt.Sprintf(
				"function %s may decrypt class %s, but no token of %s reaches it: remove %s from its SFNENC_CLASSES (and its kms:Decrypt grant)", name, c, c, c))
		}
	}
}
