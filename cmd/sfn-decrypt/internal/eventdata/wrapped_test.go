package eventdata

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/testcodec"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
)

// boundRules has a class bound to a business key and one whose tokens take
// an encryption context entry from the document.
const boundRules = `[{"class":"verification","keyring":"dev","select":["$..verifiedPerson"],"bind":"$.appId"},
	{"class":"identity","keyring":"dev","select":["$..ssn"],"context":{"tenant":"$.tenantId"}},
	{"class":"contact","keyring":"dev","select":["$..email"]}]`

// quoted returns s as a JSON string.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWrappedDocument decrypts the tokens of a lambda:invoke Task's
// Payload, and of a child execution's Input, with their bind and context
// paths evaluated on that member, as the function (or the child) that
// reads it and the function that wrote it do: in a history's event, a log
// event and the fields view shows. An attacker who builds a wrapper that
// holds the business key around a Payload that does not, or who replays a
// token into another application's Payload, gets failures, not plaintext.
func TestWrappedDocument(t *testing.T) {
	ctx := context.Background()
	c := testcodec.NewRules(t, boundRules)
	d := NewDecryptor(c)
	encrypt := func(doc string) string {
		t.Helper()
		out, err := c.Encrypt(ctx, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	const event = `{"appId":"APP-1","tenantId":"t-1","verifiedPerson":{"name":"` + canary + `"},"ssn":"` + canary + `"}`
	payload := encrypt(event)
	if !strings.Contains(payload, `"verifiedPerson":"sfnenc:`) || !strings.Contains(payload, `"ssn":"sfnenc:`) {
		t.Fatalf("the event was not encrypted: %s", payload)
	}
	email := testcodec.Token(t, c, "contact", `"ada@example.com"`)
	var tok struct {
		VerifiedPerson, SSN string
	}
	if err := json.Unmarshal([]byte(payload), &tok); err != nil {
		t.Fatal(err)
	}

	history := func(resourceType, resource, field, text string) string {
		return `{"type":"TaskScheduled","id":5,"taskScheduledEventDetails":{"resourceType":"` + resourceType + `","resource":"` + resource + `","region":"eu-west-2","` + field + `":` + quoted(text) + `}}`
	}
	logEvent := func(resourceType, resource, field, text string) string {
		return `{"id":"5","type":"TaskScheduled","details":{"` + field + `":` + quoted(text) + `,"region":"eu-west-2","resource":"` + resource + `","resourceType":"` + resourceType + `"}}`
	}
	type failure struct {
		Field, Pointer, Class string
		Err                   error
	}
	const field = "/taskScheduledEventDetails/parameters"
	tests := []struct {
		name, in, want string
		fails          []failure
	}{
		{"lambda:invoke parameters", history("lambda", "invoke", "parameters", `{"FunctionName":"f","Payload":`+payload+`}`),
			history("lambda", "invoke", "parameters", `{"FunctionName":"f","Payload":`+event+`}`), nil},
		{"lambda:invoke parameters in a log event", logEvent("lambda", "invoke", "parameters", `{"FunctionName":"f","Payload":`+payload+`}`),
			logEvent("lambda", "invoke", "parameters", `{"FunctionName":"f","Payload":`+event+`}`), nil},
		{"waitForTaskToken parameters", history("lambda", "invoke.waitForTaskToken", "parameters", `{"FunctionName":"f","Payload":`+payload+`}`),
			history("lambda", "invoke.waitForTaskToken", "parameters", `{"FunctionName":"f","Payload":`+event+`}`), nil},
		{"lambda:invoke output, the function's result", history("lambda", "invoke", "output", `{"ExecutedVersion":"$LATEST","Payload":`+payload+`,"StatusCode":200}`),
			history("lambda", "invoke", "output", `{"ExecutedVersion":"$LATEST","Payload":`+event+`,"StatusCode":200}`), nil},
		{"a child execution's input", history("states", "startExecution.sync:2", "parameters", `{"StateMachineArn":"a","Input":`+payload+`}`),
			history("states", "startExecution.sync:2", "parameters", `{"StateMachineArn":"a","Input":`+event+`}`), nil},
		{"a child execution's output, as sync:2 gives it", history("states", "startExecution.sync:2", "output", `{"ExecutionArn":"e","Output":`+payload+`,"Status":"SUCCEEDED"}`),
			history("states", "startExecution.sync:2", "output", `{"ExecutionArn":"e","Output":`+event+`,"Status":"SUCCEEDED"}`), nil},
		{"tokens outside the Payload decrypt in the parameters", history("lambda", "invoke", "parameters", `{"ClientContext":{"email":"`+email+`"},"Payload":`+payload+`}`),
			history("lambda", "invoke", "parameters", `{"ClientContext":{"email":"ada@example.com"},"Payload":`+event+`}`), nil},
		{"no Payload", history("lambda", "invoke", "parameters", `{"FunctionName":"f","email":"`+email+`"}`),
			history("lambda", "invoke", "parameters", `{"FunctionName":"f","email":"ada@example.com"}`), nil},
		// Attacks.
		{"business key on the wrapper, not in the Payload",
			history("lambda", "invoke", "parameters", `{"appId":"APP-1","tenantId":"t-1","Payload":{"verifiedPerson":"`+tok.VerifiedPerson+`","ssn":"`+tok.SSN+`"}}`),
			history("lambda", "invoke", "parameters", `{"appId":"APP-1","tenantId":"t-1","Payload":{"verifiedPerson":"`+tok.VerifiedPerson+`","ssn":"`+tok.SSN+`"}}`),
			[]failure{{field, "/Payload/verifiedPerson", "verification", codec.ErrBinding}, {field, "/Payload/ssn", "identity", codec.ErrContextValue}}},
		{"replayed into another application's Payload",
			history("lambda", "invoke", "parameters", `{"Payload":{"appId":"APP-2","tenantId":"t-2","verifiedPerson":"`+tok.VerifiedPerson+`","ssn":"`+tok.SSN+`"}}`),
			history("lambda", "invoke", "parameters", `{"Payload":{"appId":"APP-2","tenantId":"t-2","verifiedPerson":"`+tok.VerifiedPerson+`","ssn":"`+tok.SSN+`"}}`),
			[]failure{{field, "/Payload/verifiedPerson", "verification", codec.ErrAuthentication}, {field, "/Payload/ssn", "identity", envelope.ErrInvalidKey}}},
		{"another integration's member is no document of its own",
			history("sqs", "sendMessage", "parameters", `{"QueueUrl":"q","MessageBody":`+payload+`}`),
			history("sqs", "sendMessage", "parameters", `{"QueueUrl":"q","MessageBody":`+payload+`}`),
			[]failure{{field, "/MessageBody/verifiedPerson", "verification", codec.ErrBinding}, {field, "/MessageBody/ssn", "identity", codec.ErrContextValue}}},
		{"a Payload that is a token has no document to bind to",
			history("lambda", "invoke", "parameters", `{"appId":"APP-1","Payload":"`+tok.VerifiedPerson+`"}`),
			history("lambda", "invoke", "parameters", `{"appId":"APP-1","Payload":"`+tok.VerifiedPerson+`"}`),
			[]failure{{field, "/Payload", "verification", codec.ErrBinding}}},
		{"assigned variables named like the details are not the details",
			`{"type":"TaskStateExited","id":7,"stateExitedEventDetails":{"assignedVariables":{"parameters":` + quoted(`{"Payload":{"appId":"APP-1","verifiedPerson":"`+tok.VerifiedPerson+`"}}`) + `,"resourceType":"\"lambda\"","resource":"\"invoke\""}}}`,
			`{"type":"TaskStateExited","id":7,"stateExitedEventDetails":{"assignedVariables":{"parameters":` + quoted(`{"Payload":{"appId":"APP-1","verifiedPerson":"`+tok.VerifiedPerson+`"}}`) + `,"resourceType":"\"lambda\"","resource":"\"invoke\""}}}`,
			[]failure{{"/stateExitedEventDetails/assignedVariables/parameters", "/Payload/verifiedPerson", "verification", codec.ErrBinding}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fails, err := d.Value(ctx, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
			var gotF []failure
			for _, f := range fails {
				assertNoCanary(t, f.Describe())
				gotF = append(gotF, failure{f.Field, f.Pointer, f.Class, f.Err})
			}
			if diff := cmp.Diff(tt.fails, gotF, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
				t.Errorf("failures mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// The fields view shows, with the tokens marked where they are.
	ev := &execdata.Event{}
	ev.SetDetails([]byte(`{"resourceType":"lambda","resource":"invoke","parameters":` + quoted(`{"FunctionName":"f","Payload":`+payload+`}`) + `}`))
	d.Fields(ctx, []*execdata.Event{ev})
	var params *execdata.DataField
	for i := range ev.Data {
		if ev.Data[i].Name == "parameters" {
			params = &ev.Data[i]
		}
	}
	if params == nil {
		t.Fatalf("no parameters field: %+v", ev.Data)
	}
	if want := `{"FunctionName":"f","Payload":` + event + `}`; params.Text != want {
		t.Errorf("parameters field = %s, want %s", params.Text, want)
	}
	wantMarks := []execdata.Mark{{Pointer: "/Payload/verifiedPerson", Class: "verification", Decrypted: true}, {Pointer: "/Payload/ssn", Class: "identity", Decrypted: true}}
	if diff := cmp.Diff(wantMarks, params.Marks); diff != "" {
		t.Errorf("marks mismatch (-want +got):\n%s", diff)
	}
}
