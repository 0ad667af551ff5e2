package check

import (
	"maps"
	"slices"
	"strings"
)

// val is the abstract value of a JSON document at one point of the state
// machine: where tokens of which classes may be. A nil *val is a value
// that holds no token (a literal, a value the analysis knows is clean).
// Values are never changed once built, so they can share subtrees.
type val struct {
	// tok: this value may be a token of these classes (placed by a rule
	// of a writer the analysis knows: the execution's starter, a function
	// with the middleware, a task-token sender).
	tok set
	// fields are the known members.
	fields map[string]*val
	// other is every array element, and every member not in fields.
	other *val
	// deep: any descendant member with this name may be a token of these
	// classes (from rules such as "$..email").
	deep map[string]set
	// any: the value, or anything inside it, may be a token of these
	// classes at a place nobody can know (a result of a function without
	// the middleware, or of another service). A finding that rests on
	// any, or on deep below a member the path does not name, is
	// speculation: a warning, never an error.
	any set
	// plain says whether the value itself may be something other than a
	// token (and not null): plainIs where the definition builds it (a
	// literal, an object or array built by Parameters, an intrinsic's
	// output) or the caller is said to send plaintext; plainMay where it
	// comes from content the analysis cannot see. shape names what it is
	// when plain is plainIs, in the words of the middleware's
	// ContractError.
	plain byte
	shape string
	// from is the state that builds a plainIs value ("" for the input).
	from string
	// rest is the plain level of the members and elements that fields and
	// other do not describe (content of the input or of a result).
	rest byte
	// key: the value may be the business key that the tokens of these
	// classes are bound to (a rule's bind or context path), as a writer
	// the analysis knows put it at that path of its document.
	key set
}

// Plaintext levels.
const (
	plainMay byte = 1
	plainIs  byte = 2
)

// Shapes of values the definition builds.
const (
	shapeScalar  = "plaintext"
	shapeUnknown = "a value that is not a token"
)

// restVals are the values of unknown members, one per level.
var restVals = [3]*val{nil, {plain: plainMay, rest: plainMay}, {plain: plainIs, rest: plainIs, shape: shapeUnknown}}

// unknownContent is content nobody can know that may hold tokens of cs
// anywhere (a service's result).
func unknownContent(cs set) *val {
	return &val{any: cs, plain: plainMay, rest: plainMay}
}

// literal is a value written in the definition by state from: null is no
// plaintext to the middleware.
func literal(x any, from string) *val {
	if x == nil {
		return nil
	}
	return &val{plain: plainIs, shape: shapeScalar, from: from}
}

// built is a value state from builds.
func built(shape, from string) *val {
	return &val{plain: plainIs, shape: shape, from: from}
}

// placeAt is a place in a value that may not be a token.
type placeAt struct {
	path []step
	v    *val
}

// plainPlaces lists the places the value describes (not inside a token)
// that may hold something other than a token.
func (v *val) plainPlaces() []placeAt {
	var out []placeAt
	v.walkPlain(nil, &out, 0)
	return out
}

func (v *val) walkPlain(path []step, out *[]placeAt, depth int) {
	if v == nil || depth > maxCollect {
		return
	}
	if v.plain > 0 {
		*out = append(*out, placeAt{path: slices.Clone(path), v: v})
	}
	if len(v.tok) > 0 && v.plain == 0 {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(v.fields)) {
		v.fields[k].walkPlain(append(path, step{name: k, isName: true}), out, depth+1)
	}
	v.other.walkPlain(append(path, step{}), out, depth+1)
}

// tokenMembers counts the direct members of a built object that are
// tokens.
func (v *val) tokenMembers() int {
	n := 0
	for _, f := range v.fields {
		if f != nil && len(f.tok) > 0 && f.plain == 0 {
			n++
		}
	}
	return n
}

// set is a set of class names.
type set map[string]bool

func (s set) union(t set) set {
	if len(t) == 0 {
		return s
	}
	if len(s) == 0 || s.has(t) {
		return orSet(s, t)
	}
	out := make(set, len(s)+len(t))
	maps.Copy(out, s)
	maps.Copy(out, t)
	return out
}

// has reports whether t is a subset of s.
func (s set) has(t set) bool {
	for c := range t {
		if !s[c] {
			return false
		}
	}
	return true
}

func orSet(s, t set) set {
	if len(s) == 0 {
		return t
	}
	return s
}

func (s set) sorted() []string { return slices.Sorted(maps.Keys(s)) }

// maxDepth bounds the depth of abstract values, so that loops which nest a
// value in itself reach a fixed point: below it, a value is summarised by
// the classes it may hold anywhere.
const maxDepth = 64

// maxValueDepth bounds the recursion of join and leq, far below any value
// the analysis builds (truncate keeps them within a few hundred levels).
const maxValueDepth = 2048

func (v *val) empty() bool {
	return v == nil || (len(v.tok) == 0 && len(v.fields) == 0 && v.other == nil && len(v.deep) == 0 && len(v.any) == 0 && v.plain == 0 && v.rest == 0 && len(v.key) == 0)
}

// child is the value of member name (or, with name "", of any element).
func (v *val) child(name string, isName bool) *val {
	if v == nil {
		return nil
	}
	var c *val
	if isName {
		if f, ok := v.fields[name]; ok {
			return f
		}
	}
	c = v.other
	if c == nil && len(v.tok) == 0 {
		c = restVals[v.rest]
	}
	// A value that the rules make a token holds nothing: "$..name" rules
	// do not reach inside it.
	deep := v.deep
	if len(v.tok) > 0 {
		deep = nil
	}
	if len(deep) == 0 && len(v.any) == 0 {
		return c
	}
	n := &val{}
	if c != nil {
		*n = *c
	}
	n.any = n.any.union(v.any)
	if len(deep) > 0 {
		d := make(map[string]set, len(deep)+len(n.deep))
		for k, s := range n.deep {
			d[k] = s
		}
		for k, s := range deep {
			d[k] = d[k].union(s)
		}
		n.deep = d
		if isName && len(deep[name]) > 0 {
			// A "$..name" rule makes every member of that name a token.
			n.tok = n.tok.union(deep[name])
			n.plain = 0
		}
	}
	return n
}

// element is the value of any array element or member.
func (v *val) element() *val {
	if v == nil {
		return nil
	}
	out := v.child("", false)
	for name := range v.fields {
		out = join(out, v.child(name, true))
	}
	return out
}

// join is the least upper bound: a token that may be in a or in b may be
// in the result.
func join(a, b *val) *val {
	return joinDepth(a, b, 0)
}

func joinDepth(a, b *val, depth int) *val {
	if a.empty() {
		return b
	}
	if b.empty() || a == b || leq(b, a, 0) {
		return a
	}
	if depth > maxValueDepth {
		return unknownContent(a.classes().union(b.classes()))
	}
	out := &val{tok: a.tok.union(b.tok), any: a.any.union(b.any), plain: max(a.plain, b.plain), rest: max(a.rest, b.rest), key: a.key.union(b.key)}
	out.shape = joinShape(a, b)
	out.from = a.from
	if out.from == "" || (b.from != "" && b.from < out.from) {
		out.from = b.from
	}
	if len(a.deep)+len(b.deep) > 0 {
		out.deep = map[string]set{}
		for k, s := range a.deep {
			out.deep[k] = s
		}
		for k, s := range b.deep {
			out.deep[k] = out.deep[k].union(s)
		}
	}
	if len(a.fields)+len(b.fields) > 0 {
		out.fields = map[string]*val{}
		for k := range a.fields {
			out.fields[k] = joinDepth(a.child(k, true), b.child(k, true), depth+1)
		}
		for k := range b.fields {
			if _, ok := out.fields[k]; !ok {
				out.fields[k] = joinDepth(a.child(k, true), b.child(k, true), depth+1)
			}
		}
	}
	out.other = joinDepth(a.other, b.other, depth+1)
	if equal(out, a) {
		return a
	}
	return out
}

// leq reports, cheaply and conservatively, whether joining b into a
// leaves a as it is.
func leq(b, a *val, depth int) bool {
	if b.empty() || a == b {
		return true
	}
	if a.empty() || depth > maxValueDepth {
		return false
	}
	if !a.tok.has(b.tok) || !a.any.has(b.any) || !a.key.has(b.key) || b.plain > a.plain || b.rest > a.rest || (b.plain == plainIs && a.plain == plainIs && b.shape != a.shape && a.shape != shapeUnknown) || (b.from != "" && b.from < a.from) {
		return false
	}
	for k, s := range b.deep {
		if !a.deep[k].has(s) {
			return false
		}
	}
	for k, f := range b.fields {
		g, ok := a.fields[k]
		if !ok || !leq(f, g, depth+1) {
			return false
		}
	}
	return leq(b.other, a.other, depth+1)
}

// equal reports whether a and b are the same abstract value. Values
// share subtrees, so most comparisons end at a pointer.
func equal(a, b *val) bool {
	if a == b {
		return true
	}
	if a.empty() || b.empty() {
		return a.empty() && b.empty()
	}
	if a.plain != b.plain || a.rest != b.rest || a.shape != b.shape || a.from != b.from || !sameSet(a.tok, b.tok) || !sameSet(a.any, b.any) || !sameSet(a.key, b.key) || len(a.deep) != len(b.deep) || len(a.fields) != len(b.fields) {
		return false
	}
	for k, s := range a.deep {
		if t, ok := b.deep[k]; !ok || !sameSet(s, t) {
			return false
		}
	}
	for k, f := range a.fields {
		g, ok := b.fields[k]
		if !ok || !equal(f, g) {
			return false
		}
	}
	return equal(a.other, b.other)
}

func sameSet(s, t set) bool {
	if len(s) != len(t) {
		return false
	}
	for c := range s {
		if !t[c] {
			return false
		}
	}
	return true
}

// joinShape is the shape of the join of two values the definition may
// build.
func joinShape(a, b *val) string {
	switch {
	case a.plain != plainIs:
		return b.shape
	case b.plain != plainIs || a.shape == b.shape:
		return a.shape
	}
	return shapeUnknown
}

// known are the classes of the tokens a flow the analysis can show puts in
// the value: at the places the rules name, not anywhere in content it
// cannot see.
func (v *val) known() set {
	out := set{}
	v.collectKnown(out, 0)
	return out
}

func (v *val) collectKnown(out set, depth int) {
	if v == nil || depth > maxCollect {
		return
	}
	maps.Copy(out, v.tok)
	for _, f := range v.fields {
		f.collectKnown(out, depth+1)
	}
	v.other.collectKnown(out, depth+1)
}

// maxCollect bounds the walks over a value; values are at most maxDepth
// deep once truncated, and rule values at most as deep as a selector.
const maxCollect = 2 * maxValueDepth

// classes are the classes of every token the value may hold, anywhere.
func (v *val) classes() set {
	out := set{}
	v.collect(out, 0, true)
	return out
}

// read are the classes a read of the whole value may meet: those of
// classes but the "$..name" rules below members that no path names (the
// definition gives no sign that the value holds such a member).
func (v *val) read() set {
	out := set{}
	v.collect(out, 0, false)
	return out
}

func (v *val) collect(out set, depth int, deep bool) {
	if v == nil || depth > maxCollect {
		return
	}
	maps.Copy(out, v.tok)
	maps.Copy(out, v.any)
	if len(v.tok) > 0 {
		// Below a token, only what is known to be there (child
		// says why "$..name" rules stop here).
		for _, f := range v.fields {
			f.collect(out, depth+1, deep)
		}
		v.other.collect(out, depth+1, deep)
		return
	}
	if deep {
		for _, s := range v.deep {
			maps.Copy(out, s)
		}
	}
	for _, f := range v.fields {
		f.collect(out, depth+1, deep)
	}
	v.other.collect(out, depth+1, deep)
}

// withField returns v with member name set to x.
func (v *val) withField(name string, x *val) *val {
	n := &val{}
	if v != nil {
		*n = *v
		n.tok = nil // an object is not a token
		if n.plain == 0 {
			n.plain = plainMay
		}
	}
	f := make(map[string]*val, len(n.fields)+1)
	maps.Copy(f, n.fields)
	// Members that v only had by rule ("$..name") must stay visible as
	// explicit members next to the new one.
	f[name] = x
	n.fields = f
	return n
}

// arrayOf is an array (built by the machine) whose elements are x.
func arrayOf(x *val) *val {
	return &val{other: x, plain: plainIs, shape: "an array"}
}

// truncate bounds the depth of v to limit; *cut is set if it summarised
// anything.
func (v *val) truncate(depth, limit int, cut *bool) *val {
	if v.empty() {
		return v
	}
	if depth >= limit {
		if cut != nil {
			*cut = true
		}
		return unknownContent(v.classes())
	}
	if len(v.fields) == 0 && v.other == nil {
		return v
	}
	changed := false
	var fields map[string]*val
	for k, f := range v.fields {
		if t := f.truncate(depth+1, limit, cut); t != f {
			if fields == nil {
				fields = make(map[string]*val, len(v.fields))
				maps.Copy(fields, v.fields)
			}
			fields[k] = t
			changed = true
		}
	}
	other := v.other.truncate(depth+1, limit, cut)
	if !changed && other == v.other {
		return v
	}
	n := *v
	if fields != nil {
		n.fields = fields
	}
	n.other = other
	return &n
}

// tokenAt is one place where a token may be, for reports.
type tokenAt struct {
	path  []step // from the value's root
	class string
	// deepName, if set, means "any descendant member named deepName
	// below path".
	deepName string
	unknown  bool
}

// step is one step of an abstract path: a member name, or any element.
type step struct {
	name   string
	isName bool
}

// tokens lists where v may hold tokens.
//
// Below a value that may be a token of class C, tokens of C are left out:
// if the value is such a token, what it holds was encrypted with it, and
// only its own place matters to a reader.
func (v *val) tokens() []tokenAt {
	var out []tokenAt
	v.walk(nil, &out, nil, 0)
	return out
}

func (v *val) walk(path []step, out *[]tokenAt, covered set, depth int) {
	if v == nil || depth > maxCollect {
		return
	}
	p := slices.Clone(path)
	for _, c := range v.tok.sorted() {
		if !covered[c] {
			*out = append(*out, tokenAt{path: p, class: c})
		}
	}
	covered = covered.union(v.tok)
	for _, c := range v.any.sorted() {
		if !covered[c] {
			*out = append(*out, tokenAt{path: p, class: c, unknown: true})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(v.deep)) {
		for _, c := range v.deep[k].sorted() {
			if !covered[c] && len(v.tok) == 0 {
				*out = append(*out, tokenAt{path: p, class: c, deepName: k})
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(v.fields)) {
		v.fields[k].walk(append(path, step{name: k, isName: true}), out, covered, depth+1)
	}
	v.other.walk(append(path, step{}), out, covered, depth+1)
}

// pathString writes an abstract path as JSONPath: "$.a.b", "$['a b']",
// "$.a[*]".
func pathString(base string, path []step) string {
	var b strings.Builder
	b.WriteString(base)
	for _, s := range path {
		switch {
		case !s.isName:
			b.WriteString("[*]")
		case isIdent(s.name):
			b.WriteString("." + s.name)
		default:
			b.WriteString("['" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s.name) + "']")
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
