package view

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/logs"
)

// FromHistory takes the events of a history, still encrypted.
func FromHistory(h *history.History, title string) (RawExecution, error) {
	var buf bytes.Buffer
	if err := h.WriteJSON(&buf, "", ""); err != nil {
		return RawExecution{}, err
	}
	var doc struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		return RawExecution{}, err
	}
	x := RawExecution{Title: title}
	for _, m := range doc.Events {
		var ev RawEvent
		json.Unmarshal(m["id"], &ev.ID)
		json.Unmarshal(m["previousEventId"], &ev.Prev)
		json.Unmarshal(m["type"], &ev.Type)
		ev.Time = timeText(m["timestamp"])
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if strings.HasSuffix(k, "EventDetails") && len(m[k]) > 0 && m[k][0] == '{' {
				ev.Details = m[k]
				break
			}
		}
		x.Events = append(x.Events, ev)
	}
	return x, nil
}

func timeText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		return s
	}
	return string(raw)
}

// FromLog groups the Step Functions events among log records (still
// encrypted) by execution, in the order each execution first appears.
func FromLog(lg *logs.Log) []RawExecution {
	var out []RawExecution
	index := map[string]int{}
	for _, r := range lg.Records {
		var m struct {
			ID        json.RawMessage `json:"id"`
			Prev      json.RawMessage `json:"previous_event_id"`
			Type      string          `json:"type"`
			Timestamp json.RawMessage `json:"event_timestamp"`
			ARN       string          `json:"execution_arn"`
			Details   json.RawMessage `json:"details"`
		}
		if json.Unmarshal(r.Message(), &m) != nil || m.Type == "" || m.ARN == "" {
			continue
		}
		ev := RawEvent{Type: m.Type, ID: intOf(m.ID), Prev: intOf(m.Prev)}
		if ms := intOf(m.Timestamp); ms > 0 {
			ev.Time = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		}
		if len(m.Details) > 0 && m.Details[0] == '{' {
			ev.Details = m.Details
		}
		i, ok := index[m.ARN]
		if !ok {
			i = len(out)
			index[m.ARN] = i
			out = append(out, RawExecution{Title: m.ARN})
		}
		out[i].Events = append(out[i].Events, ev)
	}
	for i := range out {
		slices.SortStableFunc(out[i].Events, func(a, b RawEvent) int { return int(a.ID - b.ID) })
	}
	return out
}

// intOf reads a JSON number or a string holding one (as Step Functions
// writes the numbers of a log event).
func intOf(raw json.RawMessage) int64 {
	s := string(raw)
	var str string
	if json.Unmarshal(raw, &str) == nil {
		s = str
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
