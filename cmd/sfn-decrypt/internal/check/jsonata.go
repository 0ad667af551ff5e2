package check

import (
	"fmt"
	"strings"

	"github.com/blues/jsonata-go/jparse"
)

// jenv is the scope of a JSONata expression.
type jenv struct {
	st     *state
	states *val            // $states
	locals map[string]*val // variables bound inside the expression
	rule   string          // what a read of a token is: intrinsic-on-token, or choice-on-token in a Condition
	depth  int
}

const maxJSONataDepth = 200

// jexprOf returns the expression of a "{% ... %}" string.
func jexprOf(x any) (string, bool) {
	s, ok := x.(string)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{%") || !strings.HasSuffix(s, "%}") || len(s) < 4 {
		return "", false
	}
	return s[2 : len(s)-2], true
}

// jtext is how a finding names a JSONata field: its expression.
func jtext(x any) string {
	if e, ok := jexprOf(x); ok {
		return strings.TrimSpace(e)
	}
	s, _ := x.(string)
	return s
}

// jtemplate evaluates a JSONata field: a "{% %}" string, or JSON whose
// strings may be such expressions.
func (a *analyzer) jtemplate(x any, env *jenv) *val {
	if src, ok := jexprOf(x); ok {
		n, err := jparse.Parse(src)
		if err != nil {
			// Not an expression the checker can read: whatever it reads
			// may reach the result.
			return unknownContent(env.states.classes())
		}
		return a.jeval(n, nil, env)
	}
	switch t := x.(type) {
	case map[string]any:
		fields := make(map[string]*val, len(t))
		for k, m := range t {
			if v := a.jtemplate(m, env); v != nil {
				fields[k] = v
			}
		}
		v := built(objectShape(len(t)), env.st.name)
		v.fields = fields
		return v
	case []any:
		var el *val
		for _, e := range t {
			el = join(el, a.jtemplate(e, env))
		}
		v := arrayOf(el)
		v.shape, v.from = arrayShape(len(t)), env.st.name
		return v
	}
	return literal(x, env.st.name)
}

// use reports a token that an expression reads (other than to pass it on).
func (a *analyzer) use(n jparse.Node, v *val, env *jenv) {
	a.useValue(n.String(), v, false, env)
}

// useValue reports the tokens an expression (text) reads in v; selfOnly
// reads v itself, not what it holds.
func (a *analyzer) useValue(text string, v *val, selfOnly bool, env *jenv) {
	a.readToken(env.rule, env.st, text, v, selfOnly, func(c string, spec bool) string {
		if env.rule == RuleChoiceOnToken {
			return fmt.Sprintf("a Choice Condition reads %s, which %s a token of class %s, so it never tests the value: test it in a function that decrypts %s, or have that function return an unencrypted decision", text, beOrHold(spec), c, c)
		}
		return fmt.Sprintf("the JSONata expression reads %s, which %s a token of class %s, so it works on the token's text, not the value: do this in a function that decrypts %s", text, beOrHold(spec), c, c)
	})
}

// read evaluates each of operands, in order, and reports those whose value
// may be or hold a token: an expression that reads a token works on its
// text.
func (a *analyzer) read(ctx *val, env *jenv, operands ...jparse.Node) {
	for _, n := range operands {
		a.use(n, a.jeval(n, ctx, env), env)
	}
}

// mapChild is step name of a path (text): JSONata maps a step over the
// elements of an array. A step inside a token finds nothing at run time.
func (a *analyzer) mapChild(v *val, name, text, prefix string, env *jenv) *val {
	if v != nil && len(v.tok) > 0 {
		a.intoToken(env.st, text, prefix, v.tok)
	}
	if v == nil || v.other == nil {
		return v.child(name, true)
	}
	if len(v.other.tok) > 0 {
		a.intoToken(env.st, text, "the elements of "+prefix, v.other.tok)
	}
	return join(v.child(name, true), v.other.child(name, true))
}

// pass-through functions: they move their arguments (or their elements)
// without reading them.
var jsonataPass = map[string]bool{"merge": true, "append": true, "lookup": true, "exists": true, "count": true, "type": true, "single": true, "reverse": true}

// higher-order functions whose first argument's elements become the
// first parameter of the function they are given.
var jsonataHigher = map[string]bool{"map": true, "filter": true, "each": true, "sift": true, "reduce": true, "single": true}

// jeval evaluates n with context value ctx.
func (a *analyzer) jeval(n jparse.Node, ctx *val, env *jenv) *val {
	if env.depth > maxJSONataDepth {
		return &val{any: env.states.classes()}
	}
	env.depth++
	defer func() { env.depth-- }()
	switch t := n.(type) {
	case *jparse.PathNode:
		if len(t.Steps) == 0 {
			return nil
		}
		v := a.jeval(t.Steps[0], ctx, env)
		prefix := t.Steps[0].String()
		for _, s := range t.Steps[1:] {
			switch st := s.(type) {
			case *jparse.NameNode:
				v = a.mapChild(v, st.Value, t.String(), prefix, env)
			case *jparse.WildcardNode:
				v = v.element()
			case *jparse.DescendentNode:
				v = unknownContent(v.classes())
			default:
				v = a.jeval(s, v, env)
			}
			prefix += "." + s.String()
		}
		return v
	case *jparse.NameNode:
		return a.mapChild(ctx, t.Value, t.String(), "the context value", env)
	case *jparse.StringNode, *jparse.NumberNode, *jparse.BooleanNode:
		return literal(true, env.st.name)
	case *jparse.VariableNode:
		switch {
		case t.Name == "":
			return ctx
		case env.locals[t.Name] != nil:
			return env.locals[t.Name]
		case t.Name == "states":
			return env.states
		}
		return a.vars[t.Name]
	case *jparse.WildcardNode:
		return ctx.element()
	case *jparse.DescendentNode:
		return unknownContent(ctx.classes())
	case *jparse.PredicateNode:
		base := a.jeval(t.Expr, ctx, env)
		for _, f := range t.Filters {
			a.jeval(f, base.element(), env)
		}
		return base
	case *jparse.ObjectNode:
		out := built(objectShape(len(t.Pairs)), env.st.name)
		out.fields = make(map[string]*val, len(t.Pairs))
		for _, p := range t.Pairs {
			v := a.jeval(p[1], ctx, env)
			if k, ok := p[0].(*jparse.StringNode); ok {
				if v != nil {
					out.fields[k.Value] = join(out.fields[k.Value], v)
				}
				continue
			}
			a.read(ctx, env, p[0])
			out.other = join(out.other, v)
		}
		return out
	case *jparse.GroupNode:
		base := a.jeval(t.Expr, ctx, env)
		return a.jeval(t.ObjectNode, base.element(), env)
	case *jparse.ArrayNode:
		var el *val
		for _, it := range t.Items {
			el = join(el, a.jeval(it, ctx, env))
		}
		v := arrayOf(el)
		v.shape, v.from = arrayShape(len(t.Items)), env.st.name
		return v
	case *jparse.BlockNode:
		var last *val
		for _, e := range t.Exprs {
			last = a.jeval(e, ctx, env)
		}
		return last
	case *jparse.AssignmentNode:
		v := a.jeval(t.Value, ctx, env)
		if env.locals == nil {
			env.locals = map[string]*val{}
		}
		env.locals[t.Name] = join(env.locals[t.Name], v)
		return v
	case *jparse.ConditionalNode:
		a.read(ctx, env, t.If)
		return join(a.jeval(t.Then, ctx, env), a.jeval(t.Else, ctx, env))
	case *jparse.FunctionCallNode:
		return a.jcall(t, ctx, env)
	// The operators read their operands' values; jparse gives their
	// node types no common interface, hence one case each.
	case *jparse.ComparisonOperatorNode:
		a.read(ctx, env, t.LHS, t.RHS)
		return literal(true, env.st.name)
	case *jparse.NumericOperatorNode:
		a.read(ctx, env, t.LHS, t.RHS)
		return literal(true, env.st.name)
	case *jparse.BooleanOperatorNode:
		a.read(ctx, env, t.LHS, t.RHS)
		return literal(true, env.st.name)
	case *jparse.StringConcatenationNode:
		a.read(ctx, env, t.LHS, t.RHS)
		return literal(true, env.st.name)
	case *jparse.RangeNode:
		a.read(ctx, env, t.LHS, t.RHS)
		return built("an array", env.st.name)
	case *jparse.NegationNode:
		a.read(ctx, env, t.RHS)
		return literal(true, env.st.name)
	case *jparse.LambdaNode, *jparse.TypedLambdaNode:
		// Followed where a higher-order function calls it (jcall).
	case *jparse.ObjectTransformationNode:
		a.use(t, &val{any: ctx.classes()}, env)
	}
	return nil
}

func lambdaOf(n jparse.Node) *jparse.LambdaNode {
	switch l := n.(type) {
	case *jparse.LambdaNode:
		return l
	case *jparse.TypedLambdaNode:
		return l.LambdaNode
	}
	return nil
}

func (a *analyzer) jcall(t *jparse.FunctionCallNode, ctx *val, env *jenv) *val {
	name := ""
	if v, ok := t.Func.(*jparse.VariableNode); ok {
		name = v.Name
	}
	args := make([]*val, len(t.Args))
	for i, arg := range t.Args {
		if lambdaOf(arg) == nil {
			args[i] = a.jeval(arg, ctx, env)
		}
	}
	if jsonataHigher[name] && len(args) > 1 {
		if l := lambdaOf(t.Args[1]); l != nil {
			saved := env.locals
			env.locals = map[string]*val{}
			for k, v := range saved {
				env.locals[k] = v
			}
			for i, p := range l.ParamNames {
				if i == 0 {
					env.locals[p] = args[0].element()
				}
			}
			body := a.jeval(l.Body, ctx, env)
			env.locals = saved
			switch name {
			case "map":
				return arrayOf(body)
			case "filter", "sift", "single":
				return args[0]
			}
			return nil
		}
	}
	if jsonataPass[name] {
		switch name {
		case "merge":
			var out *val
			for _, x := range args {
				out = join(out, x.element())
			}
			if out != nil {
				n := *out
				n.tok, n.plain, n.shape, n.from = nil, plainIs, shapeUnknown, env.st.name
				return &n
			}
			return nil
		case "count":
			// Counts the elements: a token is one string, not the array
			// it encrypts.
			for i, arg := range t.Args {
				a.useValue(arg.String(), args[i], true, env)
			}
			return literal(true, env.st.name)
		case "append":
			var el *val
			for _, x := range args {
				el = join(el, join(x, x.element()))
			}
			return arrayOf(el)
		case "lookup":
			if len(args) > 0 {
				return args[0].element()
			}
		case "single", "reverse":
			if len(args) > 0 {
				return args[0]
			}
		}
		return nil
	}
	if name == "" {
		a.jeval(t.Func, ctx, env)
	}
	for i, arg := range t.Args {
		a.use(arg, args[i], env)
	}
	return built(shapeScalar, env.st.name)
}

// statesValue is $states: input, the context object, and (once known)
// the result and the error output.
func (a *analyzer) statesValue(in, result, errOut *val, c *ctxv) *val {
	v := (&val{}).withField("input", in).withField("context", a.contextValue(c))
	if result != nil {
		v = v.withField("result", result)
	}
	if errOut != nil {
		v = v.withField("errorOutput", errOut)
	}
	return v
}

func (a *analyzer) jassign(st *state, x any, env *jenv) {
	m, _ := x.(map[string]any)
	for _, k := range sortedKeys(m) {
		a.assign(k, a.jtemplate(m[k], env))
	}
}

func (a *analyzer) transferJSONata(st *state, in *val, depth int) []edge {
	raw := st.raw
	env := &jenv{st: st, states: a.statesValue(in, nil, nil, nil), rule: RuleIntrinsicOnToken}
	var result, errv *val
	switch st.typ {
	case "Fail":
		for _, k := range []string{"Error", "Cause"} {
			if x, ok := raw[k]; ok {
				a.jtemplate(x, env)
			}
		}
		return nil
	case "Pass", "Wait", "Succeed":
		for _, k := range []string{"Seconds", "Timestamp"} {
			if x, ok := raw[k].(string); ok {
				a.control(st, k, jtext(x), a.jtemplate(x, env))
			}
		}
		if as, ok := raw["Assign"]; ok {
			a.jassign(st, as, env)
		}
		out := in
		if o, ok := raw["Output"]; ok {
			out = a.jtemplate(o, env)
		}
		return a.next(st, out)
	case "Task":
		for _, k := range []string{"TimeoutSeconds", "HeartbeatSeconds"} {
			if x, ok := raw[k].(string); ok {
				a.control(st, k, jtext(x), a.jtemplate(x, env))
			}
		}
		req := in
		args, hasArgs := raw["Arguments"]
		if hasArgs {
			req = a.jtemplate(args, env)
		}
		result, errv = a.task(st, req, argsOf(args, hasArgs))
	case "Map":
		items := in
		if it, ok := raw["Items"]; ok {
			items = a.jtemplate(it, env)
			a.control(st, "Items", jtext(it), items)
		} else {
			a.control(st, "the Map's input", "$states.input", items)
		}
		item := items.element()
		if _, ok := raw["ItemReader"]; ok {
			item = nil
		}
		iterIn := item
		if is, ok := raw["ItemSelector"]; ok {
			ienv := &jenv{st: st, states: a.statesValue(in, nil, nil, &ctxv{item: item}), rule: RuleIntrinsicOnToken}
			iterIn = a.jtemplate(is, ienv)
		}
		result = arrayOf(a.run(st.subs[0], iterIn, depth+1))
		if _, ok := raw["ResultWriter"]; ok {
			result = nil
		}
	case "Parallel":
		bin := in
		if args, ok := raw["Arguments"]; ok {
			bin = a.jtemplate(args, env)
		}
		var outs *val
		for _, b := range st.subs {
			outs = join(outs, a.run(b, bin, depth+1))
		}
		result = arrayOf(outs)
	case "Choice":
		var edges []edge
		cs, _ := raw["Choices"].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			cenv := &jenv{st: st, states: env.states, rule: RuleChoiceOnToken}
			a.jtemplate(cm["Condition"], cenv)
			if as, ok := cm["Assign"]; ok {
				a.jassign(st, as, env)
			}
			out := in
			if o, ok := cm["Output"]; ok {
				out = a.jtemplate(o, env)
			}
			if n, ok := cm["Next"].(string); ok {
				edges = append(edges, edge{next: n, out: out})
			}
		}
		if n, ok := raw["Default"].(string); ok {
			out := in
			if o, ok := raw["Output"]; ok {
				out = a.jtemplate(o, env)
			}
			edges = append(edges, edge{next: n, out: out})
		}
		return edges
	default:
		return nil
	}
	renv := &jenv{st: st, states: a.statesValue(in, orEmpty(result), nil, nil), rule: RuleIntrinsicOnToken}
	if as, ok := raw["Assign"]; ok {
		a.jassign(st, as, renv)
	}
	out := result
	if o, ok := raw["Output"]; ok {
		out = a.jtemplate(o, renv)
	}
	return append(a.next(st, out), a.catches(st, in, errv)...)
}

func orEmpty(v *val) *val {
	if v == nil {
		return &val{}
	}
	return v
}

func (a *analyzer) jsonataCatch(st *state, cm map[string]any, in, errv *val) *val {
	env := &jenv{st: st, states: a.statesValue(in, nil, orEmpty(errv), nil), rule: RuleIntrinsicOnToken}
	if as, ok := cm["Assign"]; ok {
		a.jassign(st, as, env)
	}
	if o, ok := cm["Output"]; ok {
		return a.jtemplate(o, env)
	}
	return errv
}
