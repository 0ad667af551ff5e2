package fieldpath

import (
	"strconv"

	"github.com/sfnenc/sfnenc/jsontape"
)

// decoded returns the document as Go values for the query library (nil,
// bool, float64, string, []any, map[string]any), built on first use.
//
// Numbers become float64 because the library compares every number by its
// float64 value; decoding to json.Number instead would make structured values
// compare by spelling ([1.0] != [1]) and make numbers beyond the float64
// range compare as text. Such numbers become ±Inf here, so they still order
// above or below every finite number.
func (e *evaluator) decoded() any {
	if !e.hasTree {
		e.tree, e.hasTree = value(e.doc, 0), true
	}
	return e.tree
}

func value(d *jsontape.Document, n int) any {
	switch d.Kind(n) {
	case jsontape.False:
		return false
	case jsontape.True:
		return true
	case jsontape.Number:
		// ParseFloat gives ±Inf, with an error, beyond the float64 range.
		start, end := d.Raw(n)
		f, _ := strconv.ParseFloat(string(d.Source()[start:end]), 64)
		return f
	case jsontape.String:
		return string(d.AppendString(nil, n))
	case jsontape.Array:
		a := make([]any, 0, d.Count(n))
		for c, end := n+1, d.End(n); c < end; c = d.End(c) {
			a = append(a, value(d, c))
		}
		return a
	case jsontape.Object:
		m := make(map[string]any, d.Count(n))
		var name []byte
		for c, end := n+1, d.End(n); c < end; c = d.End(c) {
			name = d.AppendName(name[:0], c)
			m[string(name)] = value(d, c)
		}
		return m
	}
	return nil
}
