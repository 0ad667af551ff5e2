// Package view serves one execution of AWS Step Functions, decrypted, as a
// local web page: the state graph coloured by what happened to each state,
// the timeline of events, and each event's data with its sfnenc tokens
// decrypted under the reader's own credentials.
//
// Build turns the events of one or more executions (read by the history or
// logs packages, still encrypted) into a Page, decrypting each data field
// with an eventdata.Decryptor; NewServer serves a Page behind a secret path.
// Plaintext lives only in the Page, in memory, and in the served page.
package view

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
)

// Page is what the page shows: one or more executions (a log file may hold
// several).
type Page struct {
	Title      string       `json:"title"`
	Executions []*Execution `json:"executions"`
	// Open is what the page opens on.
	Open Open `json:"open"`
	// Command is the command line that reopens the page, to which the
	// page adds what it shows (--event N or --state NAME); nil if the page
	// cannot be reopened (its events came from standard input).
	Command []string `json:"command"`
}

// Open is what a page opens on, in its first execution: an event, a
// state, or (neither) the execution's input and output.
type Open struct {
	Event int64  `json:"event,omitempty"`
	State string `json:"state,omitempty"`
}

// ErrNoSuchOpen is wrapped by the error of CheckOpen.
var ErrNoSuchOpen = errors.New("view: nothing to open on")

// CheckOpen checks that the page's first execution has the event or state
// the page opens on.
func (p *Page) CheckOpen() error {
	if p.Open.Event == 0 && p.Open.State == "" {
		return nil
	}
	if len(p.Executions) == 0 {
		return fmt.Errorf("%w: no execution", ErrNoSuchOpen)
	}
	x := p.Executions[0]
	for _, e := range x.Events {
		if p.Open.Event != 0 && e.ID == p.Open.Event || p.Open.State != "" && e.State == p.Open.State && e.Scope == "" {
			return nil
		}
	}
	if x.Graph != nil {
		for _, s := range x.Graph.States {
			if p.Open.State != "" && s.Name == p.Open.State {
				return nil
			}
		}
	}
	if p.Open.Event != 0 {
		return fmt.Errorf("%w: the execution has no event %d", ErrNoSuchOpen, p.Open.Event)
	}
	return fmt.Errorf("%w: the execution has no state %q at its top level", ErrNoSuchOpen, p.Open.State)
}

// Execution is one execution: its graph, its events and what happened to
// each state.
type Execution struct {
	Title string `json:"title"`
	// Graph is the state machine's graph, from its definition or, without
	// one, rebuilt from the events.
	Graph *Graph `json:"graph"`
	// Rebuilt says the graph was rebuilt from the events.
	Rebuilt bool     `json:"rebuilt"`
	Events  []*Event `json:"events"`
	// Scopes are the Map iterations and Parallel branches; the scope ""
	// is the execution's top level.
	Scopes []*Scope `json:"scopes"`
	// Outcomes maps a scope id and a state name to what happened to the
	// state there: succeeded, failed, caught, retried or running. A state
	// that has no outcome was not reached.
	Outcomes map[string]map[string]string `json:"outcomes"`
}

// Scope is a Map iteration or a Parallel branch.
type Scope struct {
	ID     string `json:"id"`
	Parent string `json:"parent"`
	// State is the Map or Parallel state it belongs to.
	State string `json:"state"`
	// Label is "iteration N" or "branch N".
	Label string `json:"label"`
	// Branch is the index of the Parallel branch in the definition (-1 if
	// unknown or for a Map iteration).
	Branch int `json:"branch"`
}

// Event is one event with its data decrypted.
type Event struct {
	ID     int64   `json:"id"`
	Prev   int64   `json:"prev"`
	Type   string  `json:"type"`
	Time   string  `json:"time"`
	State  string  `json:"state"`
	Scope  string  `json:"scope"`
	Fields []Field `json:"fields"`
}

// Field is one member of an event's details.
type Field struct {
	Name string `json:"name"`
	// Text is the value: for a string, its content with tokens decrypted;
	// for another value, its JSON text.
	Text string `json:"text"`
	// JSON says Text is JSON text to show as a tree.
	JSON bool `json:"json"`
	// Truncated says Step Functions cut the value off.
	Truncated bool   `json:"truncated"`
	Marks     []Mark `json:"marks"`
}

// Mark is a token that was in a field: decrypted, or left as it is and why.
type Mark struct {
	// Pointer is the JSON Pointer of the value in the field's JSON text,
	// "" for the whole field (or plain text); pointers into JSON text held
	// in a string are joined by '#'.
	Pointer   string `json:"pointer"`
	Class     string `json:"class"`
	Decrypted bool   `json:"decrypted"`
	Reason    string `json:"reason,omitempty"`
}

// RawExecution is an execution's events as a source gives them, and its
// definition (ASL JSON, or nil).
type RawExecution struct {
	Title      string
	Definition []byte
	// Events are the execution's events, still encrypted.
	Events []*execdata.Event
}

// eventTime is the time of e as the page shows it.
func eventTime(e *execdata.Event) string {
	if e.Time.IsZero() {
		return e.TimeText
	}
	return e.Time.UTC().Format("2006-01-02T15:04:05.000Z")
}

// notSelected is the reason of a token left alone by --class.
const notSelected = "class not selected (--class)"

// Build decrypts the executions' events with d and returns the page.
func Build(ctx context.Context, d *eventdata.Decryptor, title string, execs []RawExecution) (*Page, error) {
	p := &Page{Title: title}
	for _, re := range execs {
		x := &Execution{Title: re.Title, Outcomes: map[string]map[string]string{}}
		for _, e := range re.Events {
			fields, err := decryptDetails(ctx, d, e.Details)
			if err != nil {
				return nil, err
			}
			if fields == nil {
				fields = []Field{}
			}
			x.Events = append(x.Events, &Event{ID: e.ID, Prev: e.PreviousID, Type: e.Type, Time: eventTime(e), Fields: fields})
		}
		x.assignScopes()
		var g *Graph
		if len(re.Definition) > 0 {
			g = ParseDefinition(re.Definition)
		}
		if g == nil {
			g, x.Rebuilt = x.rebuildGraph(""), true
		}
		x.Graph = g
		x.matchBranches()
		x.outcomes()
		p.Executions = append(p.Executions, x)
	}
	return p, nil
}

// NotDecrypted counts the tokens left in place for a reason other than
// --class (denied, wrong key, altered, KMS unavailable).
func (p *Page) NotDecrypted() int {
	n := 0
	for _, x := range p.Executions {
		for _, e := range x.Events {
			for _, f := range e.Fields {
				for _, m := range f.Marks {
					if !m.Decrypted && m.Reason != notSelected {
						n++
					}
				}
			}
		}
	}
	return n
}

// decryptDetails decrypts each member of an event's details.
func decryptDetails(ctx context.Context, d *eventdata.Decryptor, details []byte) ([]Field, error) {
	if len(details) == 0 {
		return nil, nil
	}
	var members []struct {
		name string
		raw  json.RawMessage
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(details, &m); err != nil {
		return nil, nil // not an object: nothing to show
	}
	// Keep the details' own order.
	dec := json.NewDecoder(bytes.NewReader(details))
	dec.Token()
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			break
		}
		members = append(members, struct {
			name string
			raw  json.RawMessage
		}{name, raw})
	}
	truncated := func(name string) bool {
		var td struct {
			Truncated any `json:"truncated"`
		}
		raw, ok := m[name+"Details"]
		return ok && json.Unmarshal(raw, &td) == nil && (td.Truncated == true || td.Truncated == "true")
	}
	var out []Field
	for _, mb := range members {
		switch {
		case len(mb.raw) > 0 && mb.raw[0] == '"':
			var s string
			json.Unmarshal(mb.raw, &s)
			out = append(out, decryptField(ctx, d, mb.name, s, truncated(mb.name)))
		case mb.name == "assignedVariables" && len(mb.raw) > 0 && mb.raw[0] == '{':
			vars, _ := decryptDetails(ctx, d, mb.raw)
			for _, v := range vars {
				v.Name = "assignedVariables." + v.Name
				out = append(out, v)
			}
		case strings.HasSuffix(mb.name, "Details"):
			// inputDetails and the like: shown through Truncated.
		default:
			out = append(out, Field{Name: mb.name, Text: string(mb.raw), JSON: len(mb.raw) > 0 && (mb.raw[0] == '{' || mb.raw[0] == '[')})
		}
	}
	return out, nil
}

// decryptField decrypts one string member and marks its tokens: those that
// failed with the reason, the others as the codec reported them.
func decryptField(ctx context.Context, d *eventdata.Decryptor, name, s string, truncated bool) Field {
	f := Field{Name: name, Truncated: truncated}
	out, fails, marks := d.TextMarks(ctx, []byte(s), truncated)
	f.Text = string(out)
	t := bytes.TrimLeft(out, " \t\r\n")
	f.JSON = !truncated && len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(out)
	seen := map[Mark]bool{}
	add := func(m Mark) {
		if !f.JSON {
			m.Pointer = ""
		}
		if !seen[m] {
			seen[m] = true
			f.Marks = append(f.Marks, m)
		}
	}
	for _, fl := range fails {
		add(Mark{Pointer: fl.Pointer, Class: fl.Class, Reason: fl.Reason()})
	}
	for _, m := range marks {
		if m.Decrypted {
			add(Mark{Pointer: m.Pointer, Class: m.Class, Decrypted: true})
		} else {
			add(Mark{Pointer: m.Pointer, Class: m.Class, Reason: notSelected})
		}
	}
	return f
}
