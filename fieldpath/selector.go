package fieldpath

import (
	"fmt"
	"slices"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// Selector is one compiled RFC 9535 JSONPath query.
//
// A query without filter selectors runs directly on a Document's tape. A query
// with a filter anywhere runs on the document decoded to Go values, with
// numbers as float64 (so filters compare numbers by value, 1 == 1.0, and to
// double precision). A Selector may be used by several goroutines at once.
type Selector struct {
	expr string
	path *jsonpath.Path
	segs []segment // nil if the query has a filter
	// filter is set if the query has a filter selector.
	filter bool
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
			}
		}
		s.segs = append(s.segs, cs)
	}
	if s.filter {
		s.segs = nil
	}
	return s, nil
}

// String returns the expression s was parsed from.
func (s *Selector) String() string { return s.expr }

// Match is a node selected by Select: Node is the node, and Selector the index
// in the selector list of the first selector that selected it.
type Match struct{ Node, Selector int }

// Select returns the nodes selected by any of sels, in document order, each
// once. Only outermost matches are kept: a node whose ancestor is also
// selected is dropped (with "$..*", only the root's children remain), since
// a value that is replaced as a whole has no parts left to replace.
//
// The error, which wraps ErrEvaluation, is set only if a query with a filter
// could not be evaluated on this document; nothing is selected then.
func (d *Document) Select(sels []*Selector) ([]Match, error) {
	var all, merged []Match
	for si, s := range sels {
		var nodes []int32
		if s.filter {
			var err error
			if nodes, err = d.selectFiltered(s); err != nil {
				return nil, err
			}
		} else {
			nodes = d.eval(s.segs)
		}
		if len(nodes) == 0 {
			continue
		}
		if len(all) == 0 {
			all = make([]Match, 0, len(nodes))
			for _, n := range nodes {
				all = append(all, Match{Node: int(n), Selector: si})
			}
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
	nodes := d.t.nodes
	out := all[:0]
	cover := 0
	for _, m := range all {
		if m.Node < cover {
			continue
		}
		out = append(out, m)
		cover = int(nodes[m.Node].next)
	}
	return out, nil
}

// selectFiltered runs a query that has a filter with the query library, on the
// decoded document, and returns the selected nodes in document order without
// repeats.
func (d *Document) selectFiltered(s *Selector) (_ []int32, err error) {
	// The query library can panic on some documents (match() or search()
	// whose pattern argument selects nothing makes it dereference a nil
	// value). Report that as an error: a crash would take a Lambda down,
	// and an empty result would leave values unencrypted.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s", ErrEvaluation, s.expr)
		}
	}()
	t := d.t
	set := t.setA[:0]
	for _, ln := range s.path.SelectLocated(d.decoded()) {
		if n := d.locate(ln.Path); n >= 0 {
			set = append(set, n)
		}
	}
	slices.Sort(set)
	set = slices.Compact(set)
	t.setA = set
	return set, nil
}

// eval runs the segments of a filter-free query on the tape and returns the
// selected nodes in document order without repeats. The result is scratch
// space of d, valid until the next call.
//
// Order and repeats do not change which nodes a query selects, so every
// segment works on a set of nodes: a child segment selects the children of
// each input node that a selector matches, a descendant segment the matching
// proper descendants. Whether a selector matches a node depends only on the
// node and its parent (its name, or its index and the array's length).
func (d *Document) eval(segs []segment) []int32 {
	t := d.t
	nodes := t.nodes
	cur := append(t.setA[:0], 0)
	next := t.setB[:0]
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
				covered = nodes[p].next
				if seg.onlyNames() {
					// The common "$..name": look at object members only.
					for c := p + 1; c < covered; c++ {
						if nd := &nodes[c]; nd.keyEnd != 0 && d.hasName(seg, nd) {
							next = append(next, c)
						}
					}
					continue
				}
				for c := p + 1; c < covered; c++ {
					if d.matches(seg, &nodes[c]) {
						next = append(next, c)
					}
				}
			}
		} else {
			inOrder := true
			for _, p := range cur {
				nd := &nodes[p]
				if nd.count == 0 {
					continue
				}
				for c := p + 1; c < nd.next; c = nodes[c].next {
					if d.matches(seg, &nodes[c]) {
						// Children of nested inputs interleave.
						if len(next) > 0 && c <= next[len(next)-1] {
							inOrder = false
						}
						next = append(next, c)
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
	t.setA, t.setB = cur, next
	return cur
}

func (seg *segment) onlyNames() bool {
	return !seg.wildcard && len(seg.indexes) == 0 && len(seg.slices) == 0
}

// matches reports whether a selector of seg selects node nd (not the root)
// from its parent.
func (d *Document) matches(seg *segment, nd *node) bool {
	if seg.wildcard {
		return true
	}
	if nd.keyEnd != 0 { // an object member
		return d.hasName(seg, nd)
	}
	if len(seg.indexes) == 0 && len(seg.slices) == 0 {
		return false
	}
	pos, length := int(nd.key), int(d.t.nodes[nd.parent].count)
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

// hasName reports whether object member nd has one of the names of seg.
func (d *Document) hasName(seg *segment, nd *node) bool {
	if nd.flags&flagKeyEscaped != 0 {
		for _, name := range seg.names {
			if d.escapedNameIs(nd, name) {
				return true
			}
		}
		return false
	}
	raw := d.src[nd.key:nd.keyEnd]
	for _, name := range seg.names {
		if len(name) == len(raw) && string(raw) == name {
			return true
		}
	}
	return false
}

// nameIs reports whether object member nd is named name.
func (d *Document) nameIs(nd *node, name string) bool {
	if nd.flags&flagKeyEscaped == 0 {
		return string(d.src[nd.key:nd.keyEnd]) == name
	}
	return d.escapedNameIs(nd, name)
}

func (d *Document) escapedNameIs(nd *node, name string) bool {
	raw := d.src[nd.key:nd.keyEnd]
	// An escape is at least as long as the character it stands for.
	if len(raw) < len(name) {
		return false
	}
	d.t.buf1 = appendUnescaped(d.t.buf1[:0], raw)
	return string(d.t.buf1) == name
}

// locate returns the node at normalized path np, or -1.
func (d *Document) locate(np spec.NormalizedPath) int32 {
	nodes := d.t.nodes
	n := int32(0)
	for _, step := range np {
		nd := &nodes[n]
		found := int32(-1)
		for c := n + 1; c < nd.next; c = nodes[c].next {
			switch step := step.(type) {
			case spec.Name:
				if nd.kind == Object && d.nameIs(&nodes[c], string(step)) {
					found = c
				}
			case spec.Index:
				if nd.kind == Array && int(nodes[c].key) == int(step) {
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
	return n
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
