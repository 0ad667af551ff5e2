package check

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// icall is a parsed intrinsic function call, "States.Format('{}', $.a)".
type icall struct {
	name string
	args []iarg
	text string
}

type iarg struct {
	call *icall
	path string // a path, a variable or the context object
	text string
}

var errIntrinsic = errors.New("check: invalid intrinsic function")

const maxIntrinsicDepth = 16

func parseIntrinsic(s string) (*icall, error) {
	c, rest, err := parseCall(s, 0)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(rest) != "" {
		return nil, errIntrinsic
	}
	return c, nil
}

func parseCall(s string, depth int) (*icall, string, error) {
	if depth > maxIntrinsicDepth {
		return nil, "", errIntrinsic
	}
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return nil, "", errIntrinsic
	}
	c := &icall{name: strings.TrimSpace(s[:open])}
	i := open + 1
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return nil, "", errIntrinsic
		}
		if s[i] == ')' && len(c.args) == 0 {
			i++
			break
		}
		start := i
		switch {
		case s[i] == '\'':
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return nil, "", errIntrinsic
			}
			i++
			c.args = append(c.args, iarg{text: s[start:i]})
		case strings.HasPrefix(s[i:], "States."):
			sub, rest, err := parseCall(s[i:], depth+1)
			if err != nil {
				return nil, "", err
			}
			i = len(s) - len(rest)
			sub.text = strings.TrimSpace(s[start:i])
			c.args = append(c.args, iarg{call: sub, text: sub.text})
		default:
			// A path, or a number, boolean or null literal: up to the
			// next comma or parenthesis outside brackets and quotes.
			depthB := 0
			for i < len(s) {
				ch := s[i]
				if ch == '[' {
					depthB++
				} else if ch == ']' {
					depthB--
				} else if ch == '\'' && depthB > 0 {
					i++
					for i < len(s) && s[i] != '\'' {
						if s[i] == '\\' {
							i++
						}
						i++
					}
				} else if depthB == 0 && (ch == ',' || ch == ')') {
					break
				}
				i++
			}
			t := strings.TrimSpace(s[start:min(i, len(s))])
			a := iarg{text: t}
			if strings.HasPrefix(t, "$") {
				a.path = t
			}
			c.args = append(c.args, a)
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return nil, "", errIntrinsic
		}
		if s[i] == ',' {
			i++
			continue
		}
		if s[i] == ')' {
			i++
			break
		}
		return nil, "", errIntrinsic
	}
	c.text = s[:i]
	return c, s[i:], nil
}

// containerArgs lists the arguments that an intrinsic function needs as
// an array or object and moves without reading their members: a token
// there is no array or object, and the call fails; a token inside stays a
// token, unchanged.
var containerArgs = map[string][]int{
	"States.ArrayGetItem":   {0},
	"States.ArrayPartition": {0},
	"States.ArrayLength":    {0},
	"States.JsonMerge":      {0, 1},
}

func isContainerArg(name string, i int) bool {
	return slices.Contains(containerArgs[name], i)
}

// readToken reports the tokens a read of v (written text) uses: those a
// flow shows as errors, those that rest on content the analysis cannot
// see as warnings. selfOnly reads v itself, not what it holds.
func (a *analyzer) readToken(rule string, st *state, text string, v *val, selfOnly bool, msg func(c string, speculative bool) string) {
	if v == nil {
		return
	}
	cs, known := v.read(), v.known()
	if selfOnly {
		cs, known = v.tok.union(v.any), v.tok
	}
	for _, c := range cs.sorted() {
		spec := !known[c]
		a.report(rule, st.name, text, c, spec, msg(c, spec))
	}
}

func (a *analyzer) intrinsic(st *state, c *icall, in *val, cx *ctxv) *val {
	args := make([]*val, len(c.args))
	for i, arg := range c.args {
		switch {
		case arg.call != nil:
			args[i] = a.intrinsic(st, arg.call, in, cx)
		case arg.path != "":
			args[i] = a.expr(st, arg.path, in, cx)
		}
		switch {
		case c.name == "States.Array":
			// Builds an array of its arguments, whatever they are.
		case isContainerArg(c.name, i):
			a.readToken(RuleIntrinsicOnToken, st, arg.text, args[i], true, func(cl string, spec bool) string {
				return fmt.Sprintf("%s needs an array or object at %s, which %s a token of class %s, so the call fails at run time: do this in a function that decrypts %s",
					c.name, arg.text, holds(spec), cl, cl)
			})
		default:
			a.readToken(RuleIntrinsicOnToken, st, arg.text, args[i], false, func(cl string, spec bool) string {
				return fmt.Sprintf("%s reads %s, which %s a token of class %s, so it works on the token's text, not the value (a token inside a string is found by no reader): do this in a function that decrypts %s",
					c.name, arg.text, beOrHold(spec), cl, cl)
			})
		}
	}
	switch c.name {
	case "States.Array":
		var el *val
		for _, x := range args {
			el = join(el, x)
		}
		v := arrayOf(el)
		v.shape, v.from = arrayShape(len(args)), st.name
		return v
	case "States.ArrayGetItem":
		if len(args) > 0 {
			return args[0].element()
		}
	case "States.ArrayPartition":
		if len(args) > 0 {
			v := arrayOf(args[0])
			v.from = st.name
			return v
		}
	case "States.JsonMerge":
		if len(args) > 1 {
			v := join(args[0], args[1])
			if v != nil {
				n := *v
				n.tok, n.plain, n.shape, n.from = nil, plainIs, shapeUnknown, st.name
				return &n
			}
		}
	case "States.StringToJson":
		return &val{plain: plainIs, shape: shapeUnknown, from: st.name, rest: plainIs}
	case "States.ArrayRange", "States.StringSplit", "States.ArrayUnique":
		return built("an array", st.name)
	}
	return built(shapeScalar, st.name)
}
