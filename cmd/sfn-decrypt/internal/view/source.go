package view

import (
	"slices"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/logs"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
)

// FromHistory takes the events of a history, still encrypted.
func FromHistory(h *history.History, title string) (RawExecution, error) {
	x := RawExecution{Title: title}
	for _, e := range h.Events() {
		x.Events = append(x.Events, rawEvent(e))
	}
	return x, nil
}

// rawEvent is the event e of a history or a log as the page shows it.
func rawEvent(e *timeline.Event) RawEvent {
	ev := RawEvent{ID: e.ID, Prev: e.PreviousID, Type: e.Type, Time: e.TimeText, Details: e.Details}
	if !e.Time.IsZero() {
		ev.Time = e.Time.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return ev
}

// FromLog groups the Step Functions events among log records (still
// encrypted) by execution, in the order each execution first appears.
func FromLog(lg *logs.Log) []RawExecution {
	var out []RawExecution
	index := map[string]int{}
	for _, r := range lg.Records {
		e := r.Event()
		if e == nil {
			continue
		}
		arn := r.ExecutionARN()
		i, ok := index[arn]
		if !ok {
			i = len(out)
			index[arn] = i
			out = append(out, RawExecution{Title: arn})
		}
		out[i].Events = append(out[i].Events, rawEvent(e))
	}
	for i := range out {
		slices.SortStableFunc(out[i].Events, func(a, b RawEvent) int { return int(a.ID - b.ID) })
	}
	return out
}
