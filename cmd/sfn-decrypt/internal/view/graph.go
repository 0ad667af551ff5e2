package view

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Graph is a state machine's states and transitions, or one Parallel
// branch's or Map iteration's.
type Graph struct {
	StartAt string  `json:"startAt"`
	States  []*Node `json:"states"`
	Edges   []Edge  `json:"edges"`
}

// Node is a state. Map and Parallel states have the graphs of their
// iterations (one) or branches.
type Node struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Branches []*Graph `json:"branches,omitempty"`
}

// Edge is a transition; Kind is next, choice, default or catch.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
}

// asl is the part of an ASL definition the graph needs.
type asl struct {
	StartAt string               `json:"StartAt"`
	States  map[string]*aslState `json:"States"`
}

type aslState struct {
	Type    string `json:"Type"`
	Next    string `json:"Next"`
	Default string `json:"Default"`
	Choices []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Catch []struct {
		Next string `json:"Next"`
	} `json:"Catch"`
	Branches      []*asl `json:"Branches"`
	Iterator      *asl   `json:"Iterator"`
	ItemProcessor *asl   `json:"ItemProcessor"`
}

// maxGraphDepth bounds the nesting of Map and Parallel states followed.
const maxGraphDepth = 16

// ParseDefinition reads the graph of an ASL definition, or returns nil if
// def is not one.
func ParseDefinition(def []byte) *Graph {
	var a asl
	if json.Unmarshal(def, &a) != nil || a.StartAt == "" || len(a.States) == 0 {
		return nil
	}
	return a.graph(0)
}

func (a *asl) graph(depth int) *Graph {
	g := &Graph{StartAt: a.StartAt}
	if depth > maxGraphDepth {
		return g
	}
	// States in the order they are reached from StartAt, then the others.
	seen := map[string]bool{}
	order := []string{}
	queue := []string{a.StartAt}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		s, ok := a.States[n]
		if !ok || seen[n] {
			continue
		}
		seen[n] = true
		order = append(order, n)
		queue = append(queue, s.targets()...)
	}
	var rest []string
	for n := range a.States {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	order = append(order, rest...)
	for _, n := range order {
		s := a.States[n]
		if s == nil {
			continue
		}
		node := &Node{Name: n, Type: s.Type}
		switch {
		case s.Type == "Parallel":
			for _, b := range s.Branches {
				if b != nil {
					node.Branches = append(node.Branches, b.graph(depth+1))
				}
			}
		case s.ItemProcessor != nil:
			node.Branches = []*Graph{s.ItemProcessor.graph(depth + 1)}
		case s.Iterator != nil:
			node.Branches = []*Graph{s.Iterator.graph(depth + 1)}
		}
		g.States = append(g.States, node)
		add := func(to, kind string) {
			if _, ok := a.States[to]; ok {
				g.Edges = append(g.Edges, Edge{n, to, kind})
			}
		}
		add(s.Next, "next")
		for _, c := range s.Choices {
			add(c.Next, "choice")
		}
		add(s.Default, "default")
		for _, c := range s.Catch {
			add(c.Next, "catch")
		}
	}
	return g
}

func (s *aslState) targets() []string {
	t := []string{s.Next}
	for _, c := range s.Choices {
		t = append(t, c.Next)
	}
	t = append(t, s.Default)
	for _, c := range s.Catch {
		t = append(t, c.Next)
	}
	return t
}

// field returns the text of the event's field name ("" if it has none),
// such as the "name" of its state, Map iteration or Parallel branch.
func (e *Event) field(name string) string {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Text
		}
	}
	return ""
}

// stateType is the state type of a ...StateEntered event type.
func stateType(eventType string) (string, bool) {
	return strings.CutSuffix(eventType, "StateEntered")
}

// container is an open Map or Parallel state in a scope.
type container struct {
	kind, state string
	branches    int
}

// assignScopes gives each event its scope and state: events follow the
// scope of the event before them (previousEventId); a Map iteration's
// events, and each Parallel branch's, have a scope of their own.
func (x *Execution) assignScopes() {
	byID := map[int64]*Event{}
	open := map[string][]*container{} // by scope
	current := map[string]string{}    // the state entered last, by scope
	scopes := map[string]*Scope{}
	// containerScope walks up from scope to the scope where a Map or
	// Parallel state (kind) is open.
	containerScope := func(scope, kind string) (string, *container) {
		for s := scope; ; {
			if cs := open[s]; len(cs) > 0 && cs[len(cs)-1].kind == kind {
				return s, cs[len(cs)-1]
			}
			sc := scopes[s]
			if sc == nil {
				return scope, nil
			}
			s = sc.Parent
		}
	}
	for _, e := range x.Events {
		scope := ""
		prev := byID[e.Prev]
		if prev != nil {
			scope = prev.Scope
		}
		switch {
		case e.Type == "MapIterationStarted":
			parent, _ := containerScope(scope, "Map")
			id := fmt.Sprint(e.ID)
			sc := &Scope{ID: id, Parent: parent, State: e.field("name"), Label: "iteration " + e.field("index"), Branch: -1}
			scopes[id] = sc
			x.Scopes = append(x.Scopes, sc)
			scope = id
		case strings.HasPrefix(e.Type, "MapIteration"):
			parent, _ := containerScope(scope, "Map")
			for _, sc := range x.Scopes {
				if sc.Parent == parent && sc.State == e.field("name") && sc.Label == "iteration "+e.field("index") {
					scope = sc.ID
				}
			}
		case prev != nil && prev.Type == "ParallelStateStarted":
			parent, c := containerScope(prev.Scope, "Parallel")
			id := fmt.Sprint(e.ID)
			sc := &Scope{ID: id, Parent: parent, Branch: -1}
			if c != nil {
				sc.State = c.state
				sc.Label = fmt.Sprintf("branch %d", c.branches)
				c.branches++
			}
			scopes[id] = sc
			x.Scopes = append(x.Scopes, sc)
			scope = id
		case isContainerEnd(e.Type):
			kind := strings.SplitN(e.Type, "State", 2)[0]
			s, c := containerScope(scope, kind)
			if c != nil {
				open[s] = open[s][:len(open[s])-1]
			}
			scope = s
		case e.Type == "MapStateStarted" || e.Type == "ParallelStateStarted":
			open[scope] = append(open[scope], &container{kind: strings.TrimSuffix(e.Type, "StateStarted"), state: current[scope]})
		}
		e.Scope = scope
		if _, ok := stateType(e.Type); ok {
			current[scope] = e.field("name")
		}
		e.State = current[scope]
		switch {
		case strings.HasPrefix(e.Type, "Execution"):
			e.State = ""
		case strings.HasPrefix(e.Type, "MapIteration"):
			e.State = ""
			if sc := scopes[scope]; sc != nil {
				e.State = sc.State
			}
		}
		if strings.HasSuffix(e.Type, "StateExited") {
			current[scope] = ""
		}
		byID[e.ID] = e
	}
}

func isContainerEnd(t string) bool {
	switch t {
	case "MapStateSucceeded", "MapStateFailed", "MapStateAborted",
		"ParallelStateSucceeded", "ParallelStateFailed", "ParallelStateAborted":
		return true
	}
	return false
}

// isFailure reports whether an event type says a step of a state failed.
func isFailure(t string) bool {
	for _, s := range []string{"Failed", "TimedOut", "Aborted"} {
		if strings.HasSuffix(t, s) {
			return !strings.HasPrefix(t, "Execution") && !strings.HasPrefix(t, "MapIteration")
		}
	}
	return false
}

// outcomes works out what happened to each state of each scope.
func (x *Execution) outcomes() {
	type span struct {
		failed, failedLast, exited bool
		fail                       bool // a Fail state
	}
	spans := map[string]map[string]*span{}
	get := func(scope, state string) *span {
		m := spans[scope]
		if m == nil {
			m = map[string]*span{}
			spans[scope] = m
		}
		s := m[state]
		if s == nil {
			s = &span{}
			m[state] = s
		}
		return s
	}
	for _, e := range x.Events {
		if e.State == "" || strings.HasPrefix(e.Type, "MapIteration") {
			continue
		}
		s := get(e.Scope, e.State)
		switch {
		case e.Type == "FailStateEntered":
			s.fail = true
		case strings.HasSuffix(e.Type, "StateEntered"):
			s.exited = false
		case strings.HasSuffix(e.Type, "StateExited"):
			s.exited = true
		case isFailure(e.Type):
			s.failed, s.failedLast = true, true
		case strings.HasSuffix(e.Type, "Succeeded"), strings.HasSuffix(e.Type, "Scheduled"), strings.HasSuffix(e.Type, "Started"):
			s.failedLast = false
		}
	}
	for scope, m := range spans {
		out := map[string]string{}
		for state, s := range m {
			switch {
			case s.fail || !s.exited:
				out[state] = "failed"
			case s.failedLast:
				out[state] = "caught"
			case s.failed:
				out[state] = "retried"
			default:
				out[state] = "succeeded"
			}
		}
		x.Outcomes[scope] = out
	}
}

// rebuildGraph makes the graph of a scope from its events: the states in
// the order they were entered, an edge between each two in a row.
func (x *Execution) rebuildGraph(scope string) *Graph {
	g := &Graph{}
	seen := map[string]*Node{}
	edges := map[Edge]bool{}
	last := ""
	for _, e := range x.Events {
		if e.Scope != scope {
			continue
		}
		typ, ok := stateType(e.Type)
		if !ok {
			continue
		}
		name := e.field("name")
		n := seen[name]
		if n == nil {
			n = &Node{Name: name, Type: typ}
			seen[name] = n
			g.States = append(g.States, n)
			if g.StartAt == "" {
				g.StartAt = name
			}
		}
		if last != "" && last != name {
			ed := Edge{last, name, "next"}
			if !edges[ed] {
				edges[ed] = true
				g.Edges = append(g.Edges, ed)
			}
		}
		last = name
	}
	// Map and Parallel states: their iterations' or branches' graphs.
	for _, n := range g.States {
		if n.Type != "Map" && n.Type != "Parallel" {
			continue
		}
		for _, sc := range x.Scopes {
			if sc.Parent == scope && sc.State == n.Name {
				sc.Branch = len(n.Branches)
				n.Branches = append(n.Branches, x.rebuildGraph(sc.ID))
			}
		}
	}
	return g
}

// matchBranches finds, for each Parallel branch scope, the branch of the
// definition it ran: the one whose StartAt its first state is. Map
// iterations all run the one processor, branch 0.
func (x *Execution) matchBranches() {
	if x.Rebuilt {
		return
	}
	for _, sc := range x.Scopes {
		if strings.HasPrefix(sc.Label, "iteration") {
			sc.Branch = 0
			continue
		}
		first := ""
		for _, e := range x.Events {
			if _, ok := stateType(e.Type); ok && e.Scope == sc.ID {
				first = e.field("name")
				break
			}
		}
		node := x.findNode(sc)
		if node == nil {
			continue
		}
		for i, b := range node.Branches {
			if b.StartAt == first {
				sc.Branch = i
			}
		}
	}
}

// findNode finds the node of the Map or Parallel state a scope belongs to.
func (x *Execution) findNode(sc *Scope) *Node {
	g := x.Graph
	if sc.Parent != "" {
		parent := x.scope(sc.Parent)
		if parent == nil {
			return nil
		}
		pn := x.findNode(parent)
		if pn == nil || parent.Branch < 0 || parent.Branch >= len(pn.Branches) {
			return nil
		}
		g = pn.Branches[parent.Branch]
	}
	for _, n := range g.States {
		if n.Name == sc.State {
			return n
		}
	}
	return nil
}

func (x *Execution) scope(id string) *Scope {
	for _, sc := range x.Scopes {
		if sc.ID == id {
			return sc
		}
	}
	return nil
}
