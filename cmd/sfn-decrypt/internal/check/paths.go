package check

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/jsontape"
	"github.com/theory/jsonpath/spec"
)

// refPath is a parsed ASL path ("$.a.b[0]", "$.detail-type",
// "$['a b']", "$.items[?(@.x > 1)]"). dynamic paths (descendants, unions,
// functions) cannot be followed: reading one gives content the analysis
// cannot see. indefinite paths (wildcards, slices, filters) give an array
// of what they select.
type refPath struct {
	steps      []step
	dynamic    bool
	indefinite bool
}

// parseRef parses a path as Step Functions reads it (Jayway JsonPath
// syntax, a superset of the reference paths of ASL): dot-notation names
// run to the next "." or "[" and may hold any other character
// ("$.detail-type"), bracket-notation names are quoted with ' or ".
func parseRef(p string) (refPath, bool) {
	p = strings.TrimSpace(p)
	if p == "" || p[0] != '$' {
		return refPath{}, false
	}
	var r refPath
	i := 1
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			if i < len(p) && p[i] == '.' {
				// A descendant segment: any depth.
				r.dynamic = true
				return r, true
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			name := p[i:j]
			switch {
			case name == "":
				return refPath{}, false
			case name == "*":
				r.steps = append(r.steps, step{})
				r.indefinite = true
			case strings.HasSuffix(name, ")"):
				// A function such as length(): not followed.
				r.dynamic = true
				return r, true
			default:
				r.steps = append(r.steps, step{name: name, isName: true})
			}
			i = j
		case '[':
			j, ok := bracketEnd(p, i)
			if !ok {
				return refPath{}, false
			}
			in := strings.TrimSpace(p[i+1 : j])
			i = j + 1
			switch {
			case in == "*":
				r.steps = append(r.steps, step{})
				r.indefinite = true
			case strings.HasPrefix(in, "?"):
				// A filter selects some elements: which ones needs data.
				r.steps = append(r.steps, step{})
				r.indefinite = true
			case in != "" && (in[0] == '\'' || in[0] == '"'):
				name, rest, ok := unquote(in)
				if !ok {
					return refPath{}, false
				}
				if strings.TrimSpace(rest) != "" {
					// A union of names.
					r.dynamic = true
					return r, true
				}
				r.steps = append(r.steps, step{name: name, isName: true})
			case isIndex(in):
				r.steps = append(r.steps, step{})
			case strings.Contains(in, ":"):
				r.steps = append(r.steps, step{})
				r.indefinite = true
			case strings.Contains(in, ","):
				r.dynamic = true
				return r, true
			default:
				return refPath{}, false
			}
		default:
			return refPath{}, false
		}
	}
	return r, true
}

// bracketEnd is the index of the "]" that closes the "[" at i, past
// quoted strings and nested brackets (filters).
func bracketEnd(p string, i int) (int, bool) {
	depth := 0
	for j := i; j < len(p); j++ {
		switch p[j] {
		case '\'', '"':
			q := p[j]
			for j++; j < len(p) && p[j] != q; j++ {
				if p[j] == '\\' {
					j++
				}
			}
		case '[':
			depth++
		case ']':
			if depth--; depth == 0 {
				return j, true
			}
		}
	}
	return 0, false
}

// unquote reads a quoted name at the start of s and returns it and what
// follows.
func unquote(s string) (name, rest string, ok bool) {
	q := s[0]
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\\' && j+1 < len(s):
			j++
			b.WriteByte(s[j])
		case c == q:
			return b.String(), s[j+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

func isIndex(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// put returns root with x at path (ResultPath). A path through an
// element replaces every element: the analysis cannot tell which.
func put(root *val, r refPath, x *val, limit int) *val {
	if r.dynamic || r.indefinite {
		return join(root, unknownContent(x.classes()))
	}
	return putSteps(root, r.steps, x, 0, limit, nil)
}

func putSteps(v *val, steps []step, x *val, depth, limit int, cut *bool) *val {
	if len(steps) == 0 {
		return x.truncate(depth, limit, cut)
	}
	s := steps[0]
	if !s.isName {
		n := &val{}
		if v != nil {
			*n = *v
		}
		n.other = join(v.child("", false), putSteps(v.child("", false), steps[1:], x, depth+1, limit, cut))
		return n
	}
	return v.withField(s.name, putSteps(v.child(s.name, true), steps[1:], x, depth+1, limit, cut))
}

// ruleValue is a document encrypted by the rules: a token of each rule's
// class at each place its selectors name.
// With plaintext, the places hold plaintext instead (the caller of
// StartExecution does not encrypt).
func ruleValue(rules []ruleSel, plaintext bool) *val {
	v := &val{plain: plainMay, rest: plainMay}
	for _, r := range rules {
		for _, q := range r.queries {
			v = insertQuery(v, q.Segments(), r.class, plaintext)
		}
	}
	// A writer that makes tokens of a bound class has the business key
	// at its path: Encrypt refuses a document without it.
	for _, r := range rules {
		for _, k := range r.keys {
			key := &val{plain: plainMay, rest: plainMay, key: set{r.class: true}}
			v = putSteps(v, k.steps, join(v.at(k.steps), key), 0, maxDepth, nil)
		}
	}
	return v
}

// at is the value at steps in v.
func (v *val) at(steps []step) *val {
	for _, s := range steps {
		v = v.child(s.name, s.isName)
	}
	return v
}

// keyAt looks for the business key of class c at steps in v: present if a
// writer's key may be there. If not, builder names the state whose object
// lacks the member, or whose value stands there, and shown says that the
// analysis can show the key is not there (else it rests on content the
// analysis cannot see).
func (v *val) keyAt(steps []step, c string) (present bool, builder string, shown bool) {
	for _, s := range steps {
		if v == nil {
			return false, "", false
		}
		if s.isName {
			if _, ok := v.fields[s.name]; !ok && v.plain == plainIs && v.from != "" && v.rest == 0 && v.other == nil && len(v.any) == 0 && len(v.tok) == 0 {
				return false, v.from, true
			}
		}
		v = v.child(s.name, s.isName)
	}
	switch {
	case v != nil && v.key[c]:
		return true, "", false
	case v != nil && v.plain == plainIs && v.from != "" && len(v.any) == 0:
		return false, v.from, true
	}
	return false, "", false
}

func insertQuery(v *val, segs []*spec.Segment, class string, plaintext bool) *val {
	n := &val{plain: plainMay, rest: plainMay}
	if v != nil {
		*n = *v
	}
	if len(segs) == 0 {
		if plaintext {
			n.plain, n.shape = plainIs, shapeUnknown
		} else {
			n.tok = n.tok.union(set{class: true})
			n.plain = 0
		}
		return n
	}
	seg, rest := segs[0], segs[1:]
	for _, sel := range seg.Selectors() {
		name, isName := sel.(spec.Name)
		if seg.IsDescendant() {
			if plaintext {
				continue
			}
			if isName && len(rest) == 0 {
				d := map[string]set{}
				for k, s := range n.deep {
					d[k] = s
				}
				d[string(name)] = d[string(name)].union(set{class: true})
				n.deep = d
				n = pushDeep(n, string(name), class, 0)
			} else {
				n.any = n.any.union(set{class: true})
			}
			continue
		}
		if isName {
			f := map[string]*val{}
			for k, x := range n.fields {
				f[k] = x
			}
			f[string(name)] = insertQuery(n.child(string(name), true), rest, class, plaintext)
			n.fields = f
			continue
		}
		n.other = insertQuery(n.other, rest, class, plaintext)
	}
	return n
}

// pushDeep adds a "$..name" rule to the explicit members below v, which
// child does not derive from v.deep.
func pushDeep(v *val, name, class string, depth int) *val {
	if v == nil || depth > maxValueDepth || (len(v.fields) == 0 && v.other == nil) {
		return v
	}
	n := *v
	if len(v.fields) > 0 {
		n.fields = map[string]*val{}
		for k, f := range v.fields {
			if f == nil {
				f = &val{}
			}
			g := *f
			if k == name {
				g.tok = g.tok.union(set{class: true})
			}
			d := map[string]set{}
			for dk, s := range g.deep {
				d[dk] = s
			}
			d[name] = d[name].union(set{class: true})
			g.deep = d
			n.fields[k] = pushDeep(&g, name, class, depth+1)
		}
	}
	return &n
}

// ruleSel is a rule's class and its selectors, parsed twice: by the
// reference parser (to place tokens) and by fieldpath (to decide whether
// a rule selects a path, exactly as the middleware does).
type ruleSel struct {
	class   string
	queries []*spec.PathQuery
	sels    []*fieldpath.Selector
	// loose are the queries with filters, each filter replaced by a
	// wildcard: a filter can only be decided on data.
	loose []*spec.PathQuery
	// keys are the paths of the rule's business key (bind) and
	// encryption context entries (context).
	keys []keyPath
}

// keyPath is a singular path whose value a rule binds its tokens to.
type keyPath struct {
	expr  string // as the configuration writes it
	what  string // "bind", or "context entry \"tenant\""
	steps []step
}

// loosen returns q with every filter selector replaced by a wildcard, or
// nil if q has no filter.
func loosen(q *spec.PathQuery) *spec.PathQuery {
	changed := false
	var segs []*spec.Segment
	for _, seg := range q.Segments() {
		var sels []spec.Selector
		for _, sel := range seg.Selectors() {
			if _, ok := sel.(*spec.FilterSelector); ok {
				sel = spec.Wildcard()
				changed = true
			}
			sels = append(sels, sel)
		}
		if seg.IsDescendant() {
			segs = append(segs, spec.Descendant(sels...))
		} else {
			segs = append(segs, spec.Child(sels...))
		}
	}
	if !changed {
		return nil
	}
	return spec.Query(true, segs...)
}

// leafMark is the value of the one leaf of a probe document.
const leafMark = `"sfnenc-check-leaf"`

// selects reports whether the rule selects every place an abstract path
// can stand for. Each element step is tried at index 0 and at index 1 (so
// that "[0]" does not pass for "every element"), and a "$..name" place at
// one and at two levels below path; the rule must select all of them. A
// filter selector is taken to select every member or element it may (the
// filter needs data the probe does not have).
func (r ruleSel) selects(path []step, deepName string) bool {
	variants := [][]step{path}
	if deepName != "" {
		a := append(append([]step{}, path...), step{name: deepName, isName: true})
		b := append(append([]step{}, path...), step{name: "x", isName: true}, step{name: deepName, isName: true})
		variants = [][]step{a, b}
	}
	for _, p := range variants {
		for _, idx := range []int{0, 1} {
			if !r.selectsDoc(probe(p, idx)) {
				return false
			}
		}
	}
	return true
}

// selectsAny reports whether the rule selects some place an abstract path
// can stand for (an element at index 0 or 1).
func (r ruleSel) selectsAny(path []step) bool {
	for _, idx := range []int{0, 1} {
		if r.selectsDoc(probe(path, idx)) {
			return true
		}
	}
	return false
}

func (r ruleSel) selectsDoc(doc []byte) bool {
	if len(r.loose) > 0 {
		var v any
		if json.Unmarshal(doc, &v) == nil {
			for _, q := range r.loose {
				for _, x := range q.Select(v, v) {
					if x == leafMark[1:len(leafMark)-1] {
						return true
					}
				}
			}
		}
	}
	d, err := jsontape.Scan(doc, jsontape.Limits{})
	if err != nil {
		return false
	}
	defer d.Release()
	ms, err := fieldpath.Select(d, r.sels)
	if err != nil {
		return false
	}
	for _, m := range ms {
		s, e := d.Raw(m.Node)
		if string(doc[s:e]) == leafMark {
			return true
		}
	}
	return false
}

// probe builds a JSON document that holds path with leafMark at its end;
// element steps are arrays whose element idx is the path.
func probe(path []step, idx int) []byte {
	var b bytes.Buffer
	for _, s := range path {
		if s.isName {
			k, _ := json.Marshal(s.name)
			b.WriteString("{" + string(k) + ":")
			continue
		}
		b.WriteString("[" + strings.Repeat("null,", idx))
	}
	b.WriteString(leafMark)
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].isName {
			b.WriteByte('}')
		} else {
			b.WriteByte(']')
		}
	}
	return b.Bytes()
}
