package check

import (
	"errors"
	"fmt"
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

// passWhole lists the arguments that an intrinsic function moves without
// reading them: a token there stays a token, unchanged.
var passWhole = map[string][]int{
	"States.Array":          {-1}, // every argument
	"States.ArrayGetItem":   {0},
	"States.ArrayPartition": {0},
	"States.ArrayLength":    {0},
	"States.JsonMerge":      {0, 1},
}

func passes(name string, i int) bool {
	for _, p := range passWhole[name] {
		if p == -1 || p == i {
			return true
		}
	}
	return false
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
		if passes(c.name, i) {
			continue
		}
		for _, cl := range args[i].classes().sorted() {
			a.report(RuleIntrinsicOnToken, st.name, arg.text, cl, fmt.Sprintf(
				"%s reads %s, which may be or hold a token of class %s, so it works on the token's text, not the value (a token inside a string is found by no reader): do this in a function that decrypts %s",
				c.name, arg.text, cl, cl))
		}
	}
	switch c.name {
	case "States.Array":
		var el *val
		for _, x := range args {
			el = join(el, x)
		}
		return arrayOf(el)
	case "States.ArrayGetItem":
		if len(args) > 0 {
			return args[0].element()
		}
	case "States.ArrayPartition":
		if len(args) > 0 {
			return arrayOf(args[0])
		}
	case "States.JsonMerge":
		if len(args) > 1 {
			return join(args[0], args[1])
		}
	}
	return nil
}
