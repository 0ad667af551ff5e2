package fieldpath

import "strconv"

// decoded returns the document as Go values for the query library (nil,
// bool, float64, string, []any, map[string]any), built on first use.
//
// Numbers become float64 because the library compares every number by its
// float64 value; decoding to json.Number instead would make structured values
// compare by spelling ([1.0] != [1]) and make numbers beyond the float64
// range compare as text. Such numbers become ±Inf here, so they still order
// above or below every finite number.
func (d *Document) decoded() any {
	if !d.hasTree {
		d.tree, d.hasTree = d.value(0), true
	}
	return d.tree
}

func (d *Document) value(n int32) any {
	nodes := d.t.nodes
	nd := &nodes[n]
	switch nd.kind {
	case False:
		return false
	case True:
		return true
	case Number:
		// ParseFloat gives ±Inf, with an error, beyond the float64 range.
		f, _ := strconv.ParseFloat(string(d.src[nd.start:nd.end]), 64)
		return f
	case String:
		return string(d.AppendString(nil, int(n)))
	case Array:
		a := make([]any, 0, nd.count)
		for c := n + 1; c < nd.next; c = nodes[c].next {
			a = append(a, d.value(c))
		}
		return a
	case Object:
		m := make(map[string]any, nd.count)
		for c := n + 1; c < nd.next; c = nodes[c].next {
			m[string(d.t.name(d.src, &nodes[c]))] = d.value(c)
		}
		return m
	}
	return nil
}
