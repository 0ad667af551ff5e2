package check

import (
	"fmt"
	"testing"
)

// generated builds a definition of n states: a chain of Pass states with
// Parameters and intrinsic functions, Lambda tasks with ResultSelector and
// Catch, a Choice every tenth state that loops back, and a Map every
// twentieth state, so the analysis iterates to a fixed point; each Choice
// also compares a token, so that there are findings.
func generated(n int) map[string]any {
	states := map[string]any{}
	name := func(i int) string { return fmt.Sprintf("S%03d", i) }
	for i := 0; i < n; i++ {
		next := name(i + 1)
		var st map[string]any
		switch {
		case i == n-1:
			st = map[string]any{"Type": "Succeed"}
		case i%20 == 19:
			st = map[string]any{
				"Type": "Map", "ItemsPath": "$.people", "Next": next, "ResultPath": fmt.Sprintf("$.m%d", i),
				"ItemSelector": map[string]any{"p.$": "$$.Map.Item.Value", "id.$": "$.id"},
				"ItemProcessor": map[string]any{"StartAt": "In", "States": map[string]any{
					"In": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
						"Parameters": map[string]any{"FunctionName": "screen", "Payload.$": "$"}, "End": true},
				}},
			}
		case i%10 == 9:
			st = map[string]any{"Type": "Choice", "Default": next, "Choices": []any{
				map[string]any{"Variable": "$.count", "NumericLessThan": 3, "Next": name(i - 5)},
				map[string]any{"Variable": fmt.Sprintf("$.r%d.status", i-1), "StringEquals": "ok", "Next": next},
				map[string]any{"Variable": "$.applicant", "StringEquals": "x", "Next": next},
			}}
		case i%3 == 0:
			st = map[string]any{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": next,
				"Parameters":     map[string]any{"FunctionName": fmt.Sprintf("f%d", i%7), "Payload": map[string]any{"applicant.$": "$.applicant", "email.$": "$.email", "n": i}},
				"ResultSelector": map[string]any{"status.$": "$.Payload.status", "email.$": "$.Payload.email"},
				"ResultPath":     fmt.Sprintf("$.r%d", i),
				"Catch":          []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "ResultPath": "$.error", "Next": name(n - 1)}},
			}
		default:
			st = map[string]any{"Type": "Pass", "Next": next, "ResultPath": fmt.Sprintf("$.p%d", i),
				"Parameters": map[string]any{"count.$": "States.MathAdd($.count, 1)", "copy.$": "$.applicant", "list.$": "States.Array($.email, $.id)"}}
		}
		states[name(i)] = st
	}
	return map[string]any{"StartAt": name(0), "States": states}
}

// BenchmarkCheck200 checks a generated definition of 200 states.
func BenchmarkCheck200(b *testing.B) {
	cfg := testConfig(b, "testdata/config.json")
	def := generated(200)
	fns := map[string]Function{"f0": {Middleware: true, Classes: []string{"identity"}, Explicit: true}}
	fs, err := Check(def, Options{Config: cfg, Functions: fns})
	if err != nil {
		b.Fatal(err)
	}
	if len(fs) == 0 {
		b.Fatal("no findings on the generated definition")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Check(def, Options{Config: cfg, Functions: fns}); err != nil {
			b.Fatal(err)
		}
	}
}
