package eventdata

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
)

func TestTimeline(t *testing.T) {
	all := newCodec(t)
	d := NewDecryptor(newCodec(t, codec.WithClasses("contact")))
	ctx := context.Background()
	email := token(t, all, "contact", `"ada@example.com"`)
	badEmail := tampered(email)
	ssn := token(t, all, "identity", `"x"`)

	details := func(members ...string) []byte { return []byte("{" + strings.Join(members, ",") + "}") }
	str := func(s string) string { return string(AppendString(nil, []byte(s))) }
	events := []*Event{
		{ID: 1, Type: "ExecutionStarted", Time: time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC),
			Details: details(`"input":`+str(`{"email":"`+email+`","ssn":"`+ssn+`"}`), `"inputDetails":{"truncated":false}`, `"roleArn":"arn:aws:iam::1:role/r"`)},
		{ID: 2, PreviousID: 1, Type: "TaskStateEntered", TimeText: "later",
			Details: details(`"name":"Charge"`, `"input":`+str(`{"e":"`+badEmail+`"}`), `"inputDetails":{"truncated":true}`)},
		{ID: 3, PreviousID: 2, Type: "TaskFailed",
			Details: details(`"resource":"invoke"`, `"error":"Boom"`, `"cause":`+str("line one\nline two"), `"taskCredentials":{"roleArn":"arn:r"}`, `"n":[1, 2]`)},
		{ID: 4, PreviousID: 3, Type: "TaskStateExited",
			Details: details(`"name":"Charge"`, `"output":"42"`, `"assignedVariables":{"who":`+str(`"`+email+`"`)+`}`, `"assignedVariablesDetails":{"truncated":false}`)},
		{ID: 5, PreviousID: 4, Type: "ExecutionSucceeded"},
	}
	for _, e := range events {
		if e.Details == nil {
			continue
		}
		out, fails, err := d.Value(ctx, e.Details)
		if err != nil {
			t.Fatal(err)
		}
		e.Details, e.Failures = out, fails
	}
	// A failure that no line shows (its token is written with an escape).
	events[4].Failures = []Failure{{Field: "/output", Pointer: "/x", Class: "contact", Err: codec.ErrAuthentication}}

	var b strings.Builder
	tl := NewTimeline(&b)
	if err := tl.Heading("arn:aws:states:eu-west-2:1:execution:m:e"); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := tl.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	want := `== arn:aws:states:eu-west-2:1:execution:m:e
     1  2024-05-01T10:00:00.123Z  ExecutionStarted
        input:
          {
            "email": "ada@example.com",
            "ssn": "` + ssn + `"  # NOT DECRYPTED (class identity): class not requested
          }
        roleArn: arn:aws:iam::1:role/r
     2  later  TaskStateEntered              Charge
        input (truncated by Step Functions):
          {
            "e": "` + badEmail + `"  # NOT DECRYPTED (class contact): failed authentication (altered, or another context or class)
          }
     3    TaskFailed                    Charge
        resource: invoke
        error: Boom
        cause:
          line one
          line two
        taskCredentials:
          roleArn: arn:r
        n: [1,2]
     4    TaskStateExited               Charge
        output: 42
        assignedVariables:
          who: "ada@example.com"
     5    ExecutionSucceeded
        # NOT DECRYPTED: /output at /x (class contact): failed authentication (altered, or another context or class)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("timeline mismatch (-want +got):\n%s", diff)
	}
}
