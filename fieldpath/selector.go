package fieldpath

import (
	"fmt"
	"slices"
	"sync"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"

	"github.com/sfnenc/sfnenc/jsontape"
)

// Selector is one compiled RFC 9535 JSONPath query.
//
// A query without filter selectors runs directly on a jsontape.Document's
// tape. A query with a filter anywhere runs on the document decoded to Go
// values, with numbers as float64 (so filters compare numbers by value,
// 1 == 1.0, and to double precision). A Selector may be used by several
// goroutines at once.
type Selector struct {
	expr string
	path *jsonpath.Path
	segs []segment // nil if the query has a filter
	// filter is set if the query has a filter selector.
	filter bool
	// wide is segs with every filter selector taken as a wildcard (see
	// Widened); set only if filter is.
	wide []segment
}

// segment is a compiled child or descendant segment. A child is selected if
// any of the segment's selectors selects it.
type segment struct {
	descendant bool
	wildcard   bool
	names      []string
	indexes    []int
	slices     []spec.SliceSelector
}

// Parse compiles expr, an RFC 9535 JSONPath query such as "$.records[*].ssn".
// It returns an error wrapping ErrSelector if expr is not a valid query.
func Parse(expr string) (s *Selector, err error) {
	defer func() {
		// The contract is an error, never a panic, for any input; guard
		// against a failure inside the query parser.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: %q: the query parser failed", ErrSelector, expr)
		}
	}()
	p, err := jsonpath.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrSelector, expr, err)
	}
	s = &Selector{expr: expr, path: p}
	for _, seg := range p.Query().Segments() {
		cs := segment{descendant: seg.IsDescendant()}
		for _, sel := range seg.Selectors() {
			switch sel := sel.(type) {
			case spec.Name:
				cs.names = append(cs.names, string(sel))
			case spec.Index:
				cs.indexes = append(cs.indexes, int(sel))
			case spec.SliceSelector:
				cs.slices = append(cs.slices, sel)
			case spec.WildcardSelector:
				cs.wildcard = true
			default: // *spec.FilterSelector: run by the query library
				s.filter = true
				cs.wildcard = true // in the widened query only
			}
		}
		s.segs = append(s.segs, cs)
	}
	if s.filter {
		s.wide, s.segs = s.segs, nil
	}
	return s, nil
}

// HasFilter reports whether the query has a filter selector ("[?...]"),
// which selects by the values in the document.
func (s *Selector) HasFilter() bool { return s.filter }

// Widened returns the query with every filter selector taken as a
// wildcard: it selects every node that the query could select whatever the
// values its filters test, a superset of what s selects on any document.
// For a query without a filter it returns s. The widened query runs on the
// tape and has the same String.
func (s *Selector) Widened() *Selector {
	if !s.filter {
		return s
	}
	return &Selector{expr: s.expr, path: s.path, segs: s.wide}
}

// String returns the expression s was parsed from.
func (s *Selector) String() string { return s.expr }

// Match is a node selected by Select: Node is the node, and Selector the index
// in the selector list of the first selector that selected it.
type Match struct{ Node, Selector int }

// Select returns the nodes of doc selected by any of sels, in document
// order, each once. Only outermost matches are kept: a node whose ancestor
// is also selected is dropped (with "$..*", only the root's children
// remain), since a value that is replaced as a whole has no parts left to
// replace. Select only reads doc: several may run on one document at once.
//
// The error, which wraps ErrEvaluation, is set only if a query with a filter
// could not be evaluated on this document; nothing is selected then.
func Select(doc *jsontape.Document, sels []*Selector) ([]Match, error) {
	e := evalPool.Get().(*evaluator)
	defer e.release()
	e.doc = doc
	// The list so far and the merge's output, from the pool: only the
	// result is allocated.
	all, merged := e.all[:0], e.merged[:0]
	defer func() { e.all, e.merged = all[:0], merged[:0] }()
	for si, s := range sels {
		var nodes []int32
		if s.filter {
			var err error
			if nodes, err = e.selectFiltered(s); err != nil {
				return nil, err
			}
		} else {
			nodes = e.eval(s.segs)
		}
		if len(nodes) == 0 {
			continue
		}
		// Merge two lists in document order; on a tie the earlier
		// selector, already in all, wins.
		merged = slices.Grow(merged[:0], len(all)+len(nodes))
		i := 0
		for _, n := range nodes {
			for i < len(all) && all[i].Node < int(n) {
				merged = append(merged, all[i])
				i++
			}
			if i < len(all) && all[i].Node == int(n) {
				continue
			}
			merged = append(merged, Match{Node: int(n), Selector: si})
		}
		merged = append(merged, all[i:]...)
		all, merged = merged, all
	}
	// In document order, a node's descendants follow it directly: drop the
	// nodes before the end of the last kept node's subtree.
	n, cover := 0, 0
	for _, m := range all {
		if m.Node >= cover {
			n++
			cover = doc.End(m.Node)
		}
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]Match, 0, n)
	cover = 0
	for _, m := range all {
		if m.Node >= cover {
			out = append(out, m)
			cover = doc.End(m.Node)
		}
	}
	return out, nil
}

// evaluator is the scratch space of one Select call. Evaluators are
// recycled through evalPool.
type evaluator struct {
	doc         *jsontape.Document
	setA, setB  []int32 // node sets
	all, merged []Match
	// tree is the document decoded for filter queries, built on first use.
	tree    any
	hasTree bool
}

var evalPool = sync.Pool{New: func() any { return new(evaluator) }}

func (e *evaluator) release() {
	e.doc, e.tree, e.hasTree = nil, nil, false
	evalPool.Put(e)
}

// selectFiltered runs a query that has a filter with the query library, on the
// decoded document, and returns the selected nodes in document order without
// repeats.
func (e *evaluator) selectFiltered(s *Selector) (_ []int32, err error) {
	// The query library can panic on some documents (match() or search()
	// whose pattern argument selects nothing makes it dereference a nil
	// value). Report that as an error: a crash would take a Lambda down,
	// and an empty result would leave values unencrypted.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s", ErrEvaluation, s.expr)
		}
	}()
	set := e.setA[:0]
	for _, ln := range s.path.SelectLocated(e.decoded()) {
		if n := e.locate(ln.Path); n >= 0 {
			set = append(set, n)
		}
	}
	slices.Sort(set)
	set = slices.Compact(set)
	e.setA = set
	return set, nil
}

// eval runs the segments of a filter-free query on the tape and returns the
// selected nodes in document order without repeats. The result is scratch
// space of e, valid until the next call.
//
// Order and repeats do not change which nodes a query selects, so every
// segment works on a set of nodes: a child segment selects the children of
// each input node that a selector matches, a descendant segment the matching
// proper descendants. Whether a selector matches a node depends only on the
// node and its parent (its name, or its index and the array's length).
func (e *evaluator) eval(segs []segment) []int32 {
	d := e.doc
	cur := append(e.setA[:0], 0)
	next := e.setB[:0]
	for k := range segs {
		seg := &segs[k]
		next = next[:0]
		if seg.descendant {
			// Inputs nested in an earlier input's subtree add nothing new.
			covered := int32(0)
			for _, p := range cur {
				if p < covered {
					continue
				}
				covered = int32(d.End(int(p)))
				if seg.onlyNames() {
					// The common "$..name": look at object members only.
					for c := p + 1; c < covered; c++ {
						if d.IsMember(int(c)) && seg.hasName(d, int(c)) {
							next = append(next, c)
						}
					}
					continue
				}
				for c := p + 1; c < covered; c++ {
					if seg.matches(d, int(c)) {
						next = append(next, c)
					}
				}
			}
		} else {
			inOrder := true
			for _, p := range cur {
				if d.Count(int(p)) == 0 {
					continue
				}
				if seg.onlyNames() {
					// Names are unique in an object: look each up.
					for _, name := range seg.names {
						if c := d.Member(int(p), name); c >= 0 {
							if len(next) > 0 && int32(c) <= next[len(next)-1] {
								inOrder = false
							}
							next = append(next, int32(c))
						}
					}
					continue
				}
				for c, end := int(p)+1, d.End(int(p)); c < end; c = d.End(c) {
					if seg.matches(d, c) {
						// Children of nested inputs interleave.
						if len(next) > 0 && int32(c) <= next[len(next)-1] {
							inOrder = false
						}
						next = append(next, int32(c))
					}
				}
			}
			if !inOrder {
				slices.Sort(next)
				next = slices.Compact(next)
			}
		}
		cur, next = next, cur
		if len(cur) == 0 {
			break
		}
	}
	e.setA, e.setB = cur, next
	return cur
}

func (seg *segment) onlyNames() bool {
	return !seg.wildcard && len(seg.indexes) == 0 && len(seg.slices) == 0
}

// matches reports whether a selector of seg selects node n (not the root)
// from its parent.
func (seg *segment) matches(d *jsontape.Document, n int) bool {
	if seg.wildcard {
		return true
	}
	if d.IsMember(n) {
		return seg.hasName(d, n)
	}
	if len(seg.indexes) == 0 && len(seg.slices) == 0 {
		return false
	}
	pos, length := d.Index(n), d.Count(d.Parent(n))
	for _, i := range seg.indexes {
		if i < 0 {
			i += length
		}
		if i == pos {
			return true
		}
	}
	for _, sl := range seg.slices {
		lower, upper := sl.Bounds(length)
		switch step := sl.Step(); {
		case step > 0:
			if pos >= lower && pos < upper && (pos-lower)%step == 0 {
				return true
			}
		case step < 0:
			// Selected from upper down to, but excluding, lower.
			if pos > lower && pos <= upper && (upper-pos)%(-step) == 0 {
				return true
			}
		}
	}
	return false
}

// hasName reports whether object member n has one of the names of seg.
func (seg *segment) hasName(d *jsontape.Document, n int) bool {
	for _, name := range seg.names {
		if d.NameIs(n, name) {
			return true
		}
	}
	return false
}

// locate returns the node at normalized path np, or -1.
func (e *evaluator) locate(np spec.NormalizedPath) int32 {
	d := e.doc
	n := 0
	for _, step := range np {
		found := -1
		kind := d.Kind(n)
		for c, end := n+1, d.End(n); c < end; c = d.End(c) {
			switch step := step.(type) {
			case spec.Name:
				if kind == jsontape.Object && d.NameIs(c, string(step)) {
					found = c
				}
			case spec.Index:
				if kind == jsontape.Array && d.Index(c) == int(step) {
					found = c
				}
			}
			if found >= 0 {
				break
			}
		}
		if found < 0 {
			return -1
		}
		n = found
	}
	return int32(n)
}

// Names returns the member names that s selects by name (in name selectors
// of its child and descendant segments), each once. A query with a filter
// returns the names outside its filters that the query library reports.
func (s *Selector) Names() []string {
	var out []string
	for _, seg := range s.path.Query().Segments() {
		for _, sel := range seg.Selectors() {
			if n, ok := sel.(spec.Name); ok && !slices.Contains(out, string(n)) {
				out = append(out, string(n))
			}
		}
	}
	return out
}

// Singular reports whether s is a singular query (RFC 9535 section 2.3.5.1):
// names and indexes only, no descendants, wildcards, slices or filters, so
// that it selects at most one node.
func (s *Selector) Singular() bool { return s.path.Query().Singular() != nil }
