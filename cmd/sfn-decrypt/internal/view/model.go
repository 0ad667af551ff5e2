// Package view serves one execution of AWS Step Functions, decrypted, as a
// local web page: the state graph coloured by what happened to each state,
// the timeline of events, and each event's data with its sfnenc tokens
// decrypted under the reader's own credentials.
//
// Build turns the events of one or more executions (read by the history or
// logs packages into the execdata model, their data fields decrypted by
// eventdata.Decryptor.Fields) into a Page; it only reads them. NewServer
// serves a Page behind a secret path. Plaintext lives only in the events,
// the Page, in memory, and in the served page.
package view

import (
	"errors"
	"fmt"

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

// Build returns the page of the executions, whose events' data fields a
// decryptor has filled in (eventdata.Decryptor.Fields): the page only reads
// them.
func Build(title string, execs []RawExecution) *Page {
	p := &Page{Title: title}
	for _, re := range execs {
		x := &Execution{Title: re.Title, Outcomes: map[string]map[string]string{}}
		for _, e := range re.Events {
			fields := make([]Field, 0, len(e.Data))
			for _, f := range e.Data {
				fl := Field{Name: f.Name, Text: f.Text, JSON: f.JSON, Truncated: f.Truncated}
				for _, m := range f.Marks {
					fl.Marks = append(fl.Marks, Mark{Pointer: m.Pointer, Class: m.Class, Decrypted: m.Decrypted, Reason: m.Reason})
				}
				fields = append(fields, fl)
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
	return p
}

// NotDecrypted counts the tokens left in place for a reason other than
// --class (denied, wrong key, altered, KMS unavailable).
func (p *Page) NotDecrypted() int {
	n := 0
	for _, x := range p.Executions {
		for _, e := range x.Events {
			for _, f := range e.Fields {
				for _, m := range f.Marks {
					if !m.Decrypted && m.Reason != execdata.NotSelected {
						n++
					}
				}
			}
		}
	}
	return n
}
