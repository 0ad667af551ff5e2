// Package timeline writes Step Functions events, after decryption, as a
// readable text timeline: one line per event (id, time, type, state) and its
// details, with JSON data pretty-printed and every token that was not
// decrypted marked with the reason. New returns a Timeline; Timeline.Heading
// starts one execution, Timeline.Execution switches between executions whose
// events interleave, Timeline.Write writes an Event and Timeline.Message a
// log message that is not an event. Escape makes any text safe for a
// terminal line.
package timeline

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"

	"io"
	"slices"
	"strings"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
)

// Timeline writes events as a readable text timeline: per event a line with
// its id, time, type and state name, then its details, with JSON data
// pretty-printed and every token that is still there marked with the reason.
// It is not safe for concurrent use.
type Timeline struct {
	w     *bufio.Writer
	begun bool // a heading was written
	title string
	cur   *execution
	// saved holds the executions that Execution switched away from.
	saved map[string]*execution
}

// execution is what a Timeline knows of one execution's events.
type execution struct {
	states map[int64]eventState // by event id
	open   []openState          // states entered and not exited
}

func newExecution() *execution { return &execution{states: map[int64]eventState{}} }

// maxSaved bounds the executions a Timeline remembers for Execution.
const maxSaved = 4096

type eventState struct {
	name   string
	exited bool
}

type openState struct{ kind, name string }

// New returns a Timeline that writes to w.
func New(w io.Writer) *Timeline {
	return &Timeline{w: bufio.NewWriter(w), cur: newExecution(), saved: map[string]*execution{}}
}

// Heading starts a new execution (or source) with a title line, such as its
// ARN. Event ids are per execution, so it also forgets earlier state names.
func (t *Timeline) Heading(title string) error {
	t.title, t.cur, t.begun = title, newExecution(), true
	clear(t.saved)
	fmt.Fprintf(t.w, "== %s\n", escapeData(title))
	return t.w.Flush()
}

// Execution starts or resumes the events of the execution named title (its
// ARN, say), for sources whose events of several executions interleave, as
// in CloudWatch Logs. If title is not the current execution's, it writes a
// heading line as Heading does and switches to what the Timeline knows of
// that execution's earlier events, so that later events are still given their
// states.
func (t *Timeline) Execution(title string) error {
	if t.begun && title == t.title {
		return nil
	}
	if t.begun {
		if len(t.saved) >= maxSaved {
			clear(t.saved)
		}
		t.saved[t.title] = t.cur
	}
	t.title = title
	if t.cur = t.saved[title]; t.cur == nil {
		t.cur = newExecution()
	}
	delete(t.saved, title)
	t.begun = true
	fmt.Fprintf(t.w, "== %s\n", escapeData(title))
	return t.w.Flush()
}

const (
	detailIndent = "        "
	timeLayout   = "2006-01-02T15:04:05.000Z07:00"
)

// Write writes one event. Events of an execution are expected in id order,
// so that each event can be given the state it belongs to.
func (t *Timeline) Write(e *execdata.Event) error {
	state := t.stateOf(e)
	ts := e.TimeText
	if !e.Time.IsZero() {
		ts = e.Time.UTC().Format(timeLayout)
	}
	line := fmt.Sprintf("%6d  %s  %-28s  %s", e.ID, ts, e.Type, state)
	fmt.Fprintln(t.w, escapeData(strings.TrimRight(line, " ")))
	r := renderer{w: t.w, fails: e.Failures, marked: make([]bool, len(e.Failures))}
	if details := e.Details(); len(details) > 0 {
		r.details(details, state)
	}
	for i, f := range e.Failures {
		if !r.marked[i] {
			fmt.Fprintf(t.w, "%s%s: %s\n", detailIndent, markText, Escape(short(f)))
		}
	}
	return t.w.Flush()
}

// WriteExecution writes the events of one execution after a heading with
// title (Heading).
func (t *Timeline) WriteExecution(title string, events []*execdata.Event) error {
	if err := t.Heading(title); err != nil {
		return err
	}
	for _, e := range events {
		if err := t.Write(e); err != nil {
			return err
		}
	}
	return nil
}

// othersTitle is the heading of the messages that are not Step Functions
// events.
const othersTitle = "log messages that are not Step Functions events"

// WriteGrouped writes events of several executions grouped by execution
// (their ExecutionARN): each execution, in the order it first appears,
// under a heading with its ARN and with its events in id order, then the
// messages that are not Step Functions events, as they are, under a heading
// that says so. Headings are written with Execution, so a later call for
// more events of an execution resumes its timeline.
func (t *Timeline) WriteGrouped(events []*execdata.Event, others []execdata.Message) error {
	var order []string
	groups := map[string][]*execdata.Event{}
	for _, e := range events {
		if _, ok := groups[e.ExecutionARN]; !ok {
			order = append(order, e.ExecutionARN)
		}
		groups[e.ExecutionARN] = append(groups[e.ExecutionARN], e)
	}
	for _, a := range order {
		g := groups[a]
		slices.SortStableFunc(g, func(x, y *execdata.Event) int { return cmp.Compare(x.ID, y.ID) })
		if err := t.Execution(a); err != nil {
			return err
		}
		for _, e := range g {
			if err := t.Write(e); err != nil {
				return err
			}
		}
	}
	if len(others) == 0 {
		return nil
	}
	if err := t.Execution(othersTitle); err != nil {
		return err
	}
	for _, m := range others {
		if err := t.Message(m.Time, m.Source, m.Text); err != nil {
			return err
		}
	}
	return nil
}

// Message writes a log message that is not a Step Functions event, as it
// is: a line with "-" for the event id, its time and its source (a log
// stream, say), then its text, indented. It was not decrypted, so tokens in
// it are not marked.
func (t *Timeline) Message(tm time.Time, source, text string) error {
	line := fmt.Sprintf("%6s  %s  %s", "-", tm.UTC().Format(timeLayout), source)
	fmt.Fprintln(t.w, escapeData(strings.TrimRight(line, " ")))
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(t.w, "%s%s\n", detailIndent, escapeData(strings.TrimSuffix(l, "\r")))
	}
	return t.w.Flush()
}

// stateOf finds the state an event belongs to. The entered and exited
// events of a state and Map iteration events name it. Other events of a
// state type (ParallelStateSucceeded, TaskStateAborted, MapRunStarted, ...)
// belong to the innermost state of that type that was entered and has not
// exited; task, activity and Lambda events to the state of the event they
// follow, unless that one exited; execution events to none.
func (t *Timeline) stateOf(e *execdata.Event) string {
	named := func() string {
		var d struct {
			Name *string `json:"name"`
		}
		if json.Unmarshal(e.Details(), &d) == nil && d.Name != nil {
			return *d.Name
		}
		return ""
	}
	innermost := func(kind string) int {
		for i := len(t.cur.open) - 1; i >= 0; i-- {
			if t.cur.open[i].kind == kind {
				return i
			}
		}
		return -1
	}
	kind, verb, isState := strings.Cut(e.Type, "State")
	prev, hasPrev := t.cur.states[e.PreviousID]
	var state string
	exited := false
	switch {
	case strings.HasPrefix(e.Type, "Execution"):
	case strings.HasPrefix(e.Type, "MapRun"):
		// A Map Run follows the events of its Map state.
		if hasPrev && prev.name != "" && !prev.exited {
			state = prev.name
		} else if i := innermost("Map"); i >= 0 {
			state = t.cur.open[i].name
		}
	case strings.HasPrefix(e.Type, "MapIteration"):
		state = named()
	case isState && verb == "Entered":
		state = named()
		t.cur.open = append(t.cur.open, openState{kind, state})
	case isState && verb == "Exited":
		state = named()
		exited = true
		for i := len(t.cur.open) - 1; i >= 0; i-- {
			if t.cur.open[i] == (openState{kind, state}) {
				t.cur.open = slices.Delete(t.cur.open, i, i+1)
				break
			}
		}
	case isState && kind != "":
		if i := innermost(kind); i >= 0 {
			state = t.cur.open[i].name
			if verb == "Aborted" {
				t.cur.open = slices.Delete(t.cur.open, i, i+1) // it will not exit
			}
		}
	default:
		if hasPrev && !prev.exited {
			state = prev.name
		}
	}
	if len(t.cur.states) < 1<<20 {
		t.cur.states[e.ID] = eventState{state, exited}
	}
	return state
}

func short(f execdata.Failure) string {
	s := f.Where()
	if f.Class != "" {
		s += " (class " + f.Class + ")"
	}
	return s + ": " + f.Reason()
}

type renderer struct {
	w      *bufio.Writer
	fails  []execdata.Failure
	marked []bool
}

type member struct {
	name string
	raw  json.RawMessage
}

// members returns the members of a JSON object in their order.
func members(obj []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ms
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ms
		}
		ms = append(ms, member{name, raw})
	}
	return ms
}

// details writes the members of a details object. The <field>Details
// objects that only say whether a field was truncated become a note on the
// field.
func (r *renderer) details(obj []byte, state string) {
	ms := members(obj)
	truncated := map[string]bool{}
	skip := map[string]bool{}
	for _, m := range ms {
		if !strings.HasSuffix(m.name, "Details") {
			continue
		}
		var d map[string]any
		if json.Unmarshal(m.raw, &d) != nil || len(d) != 1 {
			continue
		}
		// CloudWatch Logs may give the flag as a string.
		switch v := d["truncated"].(type) {
		case bool:
			skip[m.name] = true
			truncated[strings.TrimSuffix(m.name, "Details")] = v
		case string:
			if v == "true" || v == "false" {
				skip[m.name] = true
				truncated[strings.TrimSuffix(m.name, "Details")] = v == "true"
			}
		}
	}
	for _, m := range ms {
		if skip[m.name] {
			continue
		}
		if m.name == "name" && state != "" && string(m.raw) == string(jsontape.AppendQuoted(nil, []byte(state))) {
			continue // shown on the event's line
		}
		label := m.name
		if truncated[m.name] {
			label += " (truncated by Step Functions)"
		}
		r.member(detailIndent, label, m.raw)
	}
}

// member writes one labelled JSON value.
func (r *renderer) member(indent, label string, raw json.RawMessage) {
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			r.line(indent, label+": "+string(raw))
			return
		}
		r.text(indent, label, s)
	case '{':
		ms := members(raw)
		if len(ms) == 0 {
			r.line(indent, label+": {}")
			return
		}
		r.line(indent, label+":")
		for _, m := range ms {
			r.member(indent+"  ", m.name, m.raw)
		}
	default:
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			raw = b.Bytes()
		}
		r.line(indent, label+": "+string(raw))
	}
}

// text writes a string value: JSON objects and arrays pretty-printed, other
// text as it is.
func (r *renderer) text(indent, label, s string) {
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
		var b bytes.Buffer
		if json.Indent(&b, []byte(t), "", "  ") == nil {
			r.line(indent, label+":")
			for _, l := range strings.Split(b.String(), "\n") {
				r.line(indent+"  ", l)
			}
			return
		}
	}
	if !strings.Contains(s, "\n") {
		r.line(indent, label+": "+s)
		return
	}
	r.line(indent, label+":")
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		r.line(indent+"  ", strings.TrimSuffix(l, "\r")) // a CRLF line end is layout
	}
}

// line writes one line of data, escaped, followed by a mark for every token
// in it.
func (r *renderer) line(indent, s string) {
	s = escapeData(s)
	r.w.WriteString(indent)
	r.w.WriteString(s)
	b := []byte(s)
	for start, end := range execdata.TokenRuns(b) {
		if end == start+len(codec.TokenPrefix) {
			continue
		}
		r.w.WriteString("  " + markText)
		r.w.WriteString(Escape(r.reason(s[start:end])))
	}
	r.w.WriteByte('\n')
}

// reason says why the token tok is still there.
func (r *renderer) reason(tok string) string {
	found := ""
	for i, f := range r.fails {
		if f.Token == tok {
			r.marked[i] = true
			if found == "" {
				if f.Class != "" {
					found = " (class " + f.Class + "): " + f.Reason()
				} else {
					found = ": " + f.Reason()
				}
			}
		}
	}
	if found != "" {
		return found
	}
	t, err := codec.ParseToken(tok)
	if err != nil {
		return ": malformed token"
	}
	return " (class " + t.Class + "): class not requested"
}
