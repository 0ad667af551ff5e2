package view

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/codec"
)

const historyDir = "../../../../testdata/history"

// build reads a golden history and builds its page with a codec of the
// fixtures' configuration, limited to classes if any are given.
func build(t *testing.T, name string, classes ...string) *Execution {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(historyDir, name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	raw := RawExecution{Title: name, Events: h.Events()}
	cfg, err := codec.LoadConfig(filepath.Join(historyDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var opts []codec.Option
	if len(classes) > 0 {
		opts = append(opts, codec.WithClasses(classes...))
	}
	cd, err := codec.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	eventdata.NewDecryptor(cd).Fields(context.Background(), raw.Events)
	return Build(name, []RawExecution{raw}).Executions[0]
}

func fieldOf(t *testing.T, x *Execution, id int64, name string) Field {
	t.Helper()
	for _, e := range x.Events {
		if e.ID != id {
			continue
		}
		for _, f := range e.Fields {
			if f.Name == name {
				return f
			}
		}
	}
	t.Fatalf("event %d has no field %s", id, name)
	return Field{}
}

// TestOutcomesAndScopes checks what the graph shows of the orders history:
// what happened to each state, and the Map iterations and Parallel
// branches, each with its events.
func TestOutcomesAndScopes(t *testing.T) {
	x := build(t, "orders.encrypted.json")
	want := map[string]map[string]string{
		"":   {"Normalize": "succeeded", "Charge": "retried", "IsVip": "succeeded", "Notify": "succeeded", "ShipItems": "succeeded", "Cooldown": "succeeded", "Done": "succeeded"},
		"16": {"FraudCheck": "succeeded"},
		"22": {"Audit": "succeeded"},
		"28": {"Ship": "succeeded"},
		"35": {"Ship": "caught", "Backorder": "succeeded"},
	}
	if diff := cmp.Diff(want, x.Outcomes); diff != "" {
		t.Errorf("outcomes mismatch (-want +got):\n%s", diff)
	}
	var scopes []Scope
	for _, s := range x.Scopes {
		scopes = append(scopes, *s)
	}
	wantScopes := []Scope{
		{ID: "16", State: "Notify", Label: "branch 0", Branch: 0},
		{ID: "22", State: "Notify", Label: "branch 1", Branch: 1},
		{ID: "28", State: "ShipItems", Label: "iteration 0", Branch: 0},
		{ID: "35", State: "ShipItems", Label: "iteration 1", Branch: 1},
	}
	if diff := cmp.Diff(wantScopes, scopes); diff != "" {
		t.Errorf("scopes mismatch (-want +got):\n%s", diff)
	}
	byScope := map[string][]int64{}
	for _, e := range x.Events {
		if e.Scope != "" {
			byScope[e.Scope] = append(byScope[e.Scope], e.ID)
		}
	}
	wantEvents := map[string][]int64{
		"16": {16, 17, 18, 19, 20, 21}, "22": {22, 23},
		"28": {28, 29, 30, 31, 32, 33, 34}, "35": {35, 36, 37, 38, 39, 40, 41, 42, 43},
	}
	if diff := cmp.Diff(wantEvents, byScope); diff != "" {
		t.Errorf("events by scope mismatch (-want +got):\n%s", diff)
	}
}

// TestMarks checks the marks of decrypted tokens and of tokens left in
// place, with and without --class.
func TestMarks(t *testing.T) {
	tests := []struct {
		name    string
		classes []string
		want    []Mark
	}{
		{name: "every class", want: []Mark{
			{Pointer: "/customer/partnerRef", Class: "partner", Reason: "no rule for this class in the configuration"},
			{Pointer: "/customer/vaultRef", Class: "vault", Reason: "no rule for this class in the configuration"},
			{Pointer: "/customer/ssn", Class: "identity", Decrypted: true},
		}},
		{name: "contact only", classes: []string{"contact"}, want: []Mark{
			{Pointer: "/customer/ssn", Class: "identity", Reason: execdata.NotSelected},
			{Pointer: "/customer/partnerRef", Class: "partner", Reason: execdata.NotSelected},
			{Pointer: "/customer/vaultRef", Class: "vault", Reason: execdata.NotSelected},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := build(t, "denied.encrypted.json", tt.classes...)
			f := fieldOf(t, x, 1, "input")
			if diff := cmp.Diff(tt.want, f.Marks); diff != "" {
				t.Errorf("marks mismatch (-want +got):\n%s", diff)
			}
			if !f.JSON {
				t.Errorf("input not JSON")
			}
		})
	}
	// A cause that is a token, not JSON: marked as a whole.
	x := build(t, "denied.encrypted.json")
	f := fieldOf(t, x, 7, "cause")
	if diff := cmp.Diff([]Mark{{Class: "partner", Reason: "no rule for this class in the configuration"}}, f.Marks); diff != "" {
		t.Errorf("cause marks mismatch (-want +got):\n%s", diff)
	}
	// Data cut off by Step Functions.
	if f := fieldOf(t, x, 5, "output"); !f.Truncated || f.JSON {
		t.Errorf("truncated output: truncated %v, json %v", f.Truncated, f.JSON)
	}
}

// TestDefinition checks the graph read from an ASL definition.
func TestDefinition(t *testing.T) {
	g := ParseDefinition([]byte(`{"StartAt":"A","States":{
		"A":{"Type":"Choice","Choices":[{"Next":"B"}],"Default":"C"},
		"B":{"Type":"Task","Next":"P","Catch":[{"Next":"C"}]},
		"C":{"Type":"Fail"},
		"P":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}}]},
		"Z":{"Type":"Pass","End":true}}}`))
	want := &Graph{StartAt: "A",
		States: []*Node{{Name: "A", Type: "Choice"}, {Name: "B", Type: "Task"}, {Name: "C", Type: "Fail"},
			{Name: "P", Type: "Parallel", Branches: []*Graph{{StartAt: "X", States: []*Node{{Name: "X", Type: "Pass"}}}}}, {Name: "Z", Type: "Pass"}},
		Edges: []Edge{{"A", "B", "choice"}, {"A", "C", "default"}, {"B", "P", "next"}, {"B", "C", "catch"}},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("graph mismatch (-want +got):\n%s", diff)
	}
	if ParseDefinition([]byte(`{"States":{}}`)) != nil {
		t.Errorf("a definition without StartAt gives a graph")
	}
}

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:0": true, "127.0.0.2:8080": true, "[::1]:0": true, "localhost:0": true,
		"0.0.0.0:0": false, ":0": false, "[::]:0": false, "192.0.2.1:80": false, "example.com:80": false, "127.0.0.1": false,
	} {
		if err := CheckListen(addr); (err == nil) != ok {
			t.Errorf("CheckListen(%q) = %v, want ok %v", addr, err, ok)
		}
	}
}

// TestNotDecrypted counts the tokens left in place as history reports
// them on stderr (its golden diagnostics), and none that --class left alone.
func TestNotDecrypted(t *testing.T) {
	stderr, err := os.ReadFile(filepath.Join(historyDir, "denied.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	// history says "N tokens, class C: ..." once for failures of one
	// cause, and one line for each other failure.
	want := 0
	for _, line := range strings.Split(string(stderr), "\n") {
		if !strings.Contains(line, "not decrypted:") {
			continue
		}
		n := 1
		fmt.Sscanf(line[strings.Index(line, "not decrypted:")+len("not decrypted:"):], " %d tokens,", &n)
		want += n
	}
	p := &Page{Executions: []*Execution{build(t, "denied.encrypted.json")}}
	if got := p.NotDecrypted(); got != want {
		t.Errorf("NotDecrypted() = %d, want %d as history reports", got, want)
	}
	p = &Page{Executions: []*Execution{build(t, "orders.encrypted.json", "contact")}}
	if got := p.NotDecrypted(); got != 0 {
		t.Errorf("NotDecrypted() with --class = %d, want 0", got)
	}
}
