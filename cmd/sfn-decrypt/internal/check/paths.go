package check

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/jsontape"
	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// refPath is a parsed ASL reference path ("$.a.b[0]"). dynamic paths
// (descendants, filters, slices, several selectors) cannot be followed
// exactly; reading one gives every token the value holds.
type refPath struct {
	steps   []step
	dynamic bool
}

// parseRef parses a JSONPath as ASL uses it, with RFC 9535 syntax (the
// reference parser).
func parseRef(p string) (refPath, bool) {
	q, err := jsonpath.Parse(p)
	if err != nil {
		return refPath{}, false
	}
	var r refPath
	for _, seg := range q.Query().Segments() {
		sels := seg.Selectors()
		if seg.IsDescendant() || len(sels) != 1 {
			r.dynamic = true
			continue
		}
		switch s := sels[0].(type) {
		case spec.Name:
			r.steps = append(r.steps, step{name: string(s), isName: true})
		case spec.Index, spec.WildcardSelector, spec.SliceSelector:
			r.steps = append(r.steps, step{})
		default:
			r.dynamic = true
		}
	}
	return r, true
}

// get is the value a reference path selects in v.
func get(v *val, r refPath) *val {
	if r.dynamic {
		return &val{any: v.classes()}
	}
	for _, s := range r.steps {
		v = v.child(s.name, s.isName)
	}
	return v
}

// put returns root with x at path (ResultPath). A path through an
// element replaces every element: the analysis cannot tell which.
func put(root *val, r refPath, x *val) *val {
	if r.dynamic {
		return join(root, &val{any: x.classes()})
	}
	return putSteps(root, r.steps, x, 0)
}

func putSteps(v *val, steps []step, x *val, depth int) *val {
	if len(steps) == 0 {
		return x.truncate(depth)
	}
	s := steps[0]
	if !s.isName {
		n := &val{}
		if v != nil {
			*n = *v
		}
		n.other = join(v.child("", false), putSteps(v.child("", false), steps[1:], x, depth+1))
		return n
	}
	return v.withField(s.name, putSteps(v.child(s.name, true), steps[1:], x, depth+1))
}

// ruleValue is a document encrypted by the rules: a token of each rule's
// class at each place its selectors name.
func ruleValue(rules []ruleSel) *val {
	var v *val
	for _, r := range rules {
		for _, q := range r.queries {
			v = insertQuery(v, q.Segments(), r.class)
		}
	}
	return v
}

func insertQuery(v *val, segs []*spec.Segment, class string) *val {
	n := &val{}
	if v != nil {
		*n = *v
	}
	if len(segs) == 0 {
		n.tok = n.tok.union(set{class: true})
		return n
	}
	seg, rest := segs[0], segs[1:]
	for _, sel := range seg.Selectors() {
		name, isName := sel.(spec.Name)
		if seg.IsDescendant() {
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
			f[string(name)] = insertQuery(n.child(string(name), true), rest, class)
			n.fields = f
			continue
		}
		n.other = insertQuery(n.other, rest, class)
	}
	return n
}

// pushDeep adds a "$..name" rule to the explicit members below v, which
// child does not derive from v.deep.
func pushDeep(v *val, name, class string, depth int) *val {
	if v == nil || depth > maxDepth || (len(v.fields) == 0 && v.other == nil) {
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
