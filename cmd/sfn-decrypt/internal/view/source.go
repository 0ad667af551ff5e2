package view

import (
	"cmp"
	"slices"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
)

// ByExecution groups events of several executions (still encrypted, as a
// log holds them) by their ExecutionARN, in the order each execution first
// appears, each execution's events in id order.
func ByExecution(events []*execdata.Event) []RawExecution {
	var out []RawExecution
	index := map[string]int{}
	for _, e := range events {
		i, ok := index[e.ExecutionARN]
		if !ok {
			i = len(out)
			index[e.ExecutionARN] = i
			out = append(out, RawExecution{Title: e.ExecutionARN})
		}
		out[i].Events = append(out[i].Events, e)
	}
	for i := range out {
		slices.SortStableFunc(out[i].Events, func(a, b *execdata.Event) int { return cmp.Compare(a.ID, b.ID) })
	}
	return out
}
