package timeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/testcodec"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/jsontape"
)

func TestTimeline(t *testing.T) {
	all := testcodec.New(t)
	d := eventdata.NewDecryptor(testcodec.New(t, codec.WithClasses("contact")))
	ctx := context.Background()
	email := testcodec.Token(t, all, "contact", `"ada@example.com"`)
	badEmail := testcodec.Tampered(email)
	ssn := testcodec.Token(t, all, "identity", `"x"`)

	details := func(members ...string) []byte { return []byte("{" + strings.Join(members, ",") + "}") }
	str := func(s string) string { return string(jsontape.AppendQuoted(nil, []byte(s))) }
	type ev struct {
		execdata.Event
		details []byte
	}
	raw := []ev{
		{execdata.Event{ID: 1, Type: "ExecutionStarted", Time: time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)},
			details(`"input":`+str(`{"email":"`+email+`","ssn":"`+ssn+`"}`), `"inputDetails":{"truncated":false}`, `"roleArn":"arn:aws:iam::1:role/r"`)},
		{execdata.Event{ID: 2, PreviousID: 1, Type: "TaskStateEntered", TimeText: "later"},
			details(`"name":"Charge"`, `"input":`+str(`{"e":"`+badEmail+`"}`), `"inputDetails":{"truncated":true}`)},
		{execdata.Event{ID: 3, PreviousID: 2, Type: "TaskFailed"},
			details(`"resource":"invoke"`, `"error":"Boom"`, `"cause":`+str("line one\nline two"), `"taskCredentials":{"roleArn":"arn:r"}`, `"n":[1, 2]`)},
		{execdata.Event{ID: 4, PreviousID: 3, Type: "TaskStateExited"},
			details(`"name":"Charge"`, `"output":"42"`, `"assignedVariables":{"who":`+str(`"`+email+`"`)+`}`, `"assignedVariablesDetails":{"truncated":false}`)},
		{execdata.Event{ID: 5, PreviousID: 4, Type: "ExecutionSucceeded"}, nil},
	}
	var events []*execdata.Event
	for _, r := range raw {
		e := r.Event
		events = append(events, &e)
		if r.details == nil {
			continue
		}
		out, fails, err := d.Value(ctx, r.details)
		if err != nil {
			t.Fatal(err)
		}
		e.SetDetails(out)
		e.Failures = fails
	}
	// A failure that no line shows (its token is written with an escape).
	events[4].Failures = []execdata.Failure{{Field: "/output", Pointer: "/x", Class: "contact", Err: codec.ErrAuthentication}}

	var b strings.Builder
	tl := New(&b)
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

// TestTimelineEscapesControls plays a caller of SendTaskFailure, a writer of
// log messages and an end user whose value is decrypted: each tries to
// rewrite the operator's terminal or to fake a mark. Every control character
// must reach the output escaped, and the only marks are the Timeline's own.
func TestTimelineEscapesControls(t *testing.T) {
	c := testcodec.New(t)
	d := eventdata.NewDecryptor(c)
	ctx := context.Background()
	// A decrypted value that clears the screen and rings the bell.
	secret := testcodec.Token(t, c, "contact", `"\u001b[2J\u001b]0;owned\u0007\u009b31m"`)
	str := func(s string) string { return string(jsontape.AppendQuoted(nil, []byte(s))) }
	fake := "\n        # NOT DECRYPTED: /input (class contact): KMS denied access to the key"
	causes := []string{
		"\x1b[1A\x1b[2Kall good\r# NOT DECRYPTED: nothing to see",
		"ok  # NOT DECRYPTED (class contact): KMS denied access to the key",
		"csi \u009b2J and nel \u0085 and del \x7f and bs \b",
		"next" + fake,
	}
	var members []string
	for i, s := range causes {
		members = append(members, fmt.Sprintf(`"cause%d":%s`, i, str(s)))
	}
	members = append(members,
		// C1 as a JSON escape inside a JSON string inside a string.
		`"output":`+str(`{"v":"\u009b2J","w":"`+"\u009b"+`","who":"`+secret+`"}`),
		// A member name is data too.
		`"\u001b[31mname\r":1`,
		`"plain":`+str(secret),
	)
	details := []byte("{" + strings.Join(members, ",") + "}")
	out, fails, err := d.Value(ctx, details)
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 0 {
		t.Fatalf("failures: %v", fails)
	}
	var b strings.Builder
	tl := New(&b)
	if err := tl.Heading("arn:x\x1b]8;;http://evil/\x07"); err != nil {
		t.Fatal(err)
	}
	failed := &execdata.Event{ID: 1, Type: "TaskFailed\r", TimeText: "\x1b[H"}
	failed.SetDetails(out)
	if err := tl.Write(failed); err != nil {
		t.Fatal(err)
	}
	if err := tl.Message(time.Unix(0, 0), "stream\x1b[8m", "line\r\n\x1b[2Kover\rwrite"+fake+"\n\u0090dcs"); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for i, r := range got {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) {
			t.Errorf("control %U at byte %d in output:\n%s", r, i, got)
		}
	}
	if strings.Contains(got, markText) {
		t.Errorf("output holds a mark, and no token was left in place:\n%s", got)
	}
	for _, want := range []string{
		`cause0: \u001b[1A\u001b[2Kall good\u000d\u0023 NOT DECRYPTED: nothing to see`,
		`cause2: csi \u009b2J and nel \u0085 and del \u007f and bs \u0008`,
		`          \u0023 NOT DECRYPTED: /input`,
		`"v": "\u009b2J"`,
		`"w": "\u009b"`,
		`"who": "\u001b[2J\u001b]0;owned\u0007\u009b31m"`,
		`\u001b[31mname\u000d: 1`,
		`plain: \u001b[2J\u001b]0;owned\u0007\u009b31m`,
		`== arn:x\u001b]8;;http://evil/\u0007`,
		`TaskFailed\u000d`,
		`stream\u001b[8m`,
		`        \u001b[2Kover\u000dwrite`,
		`        \u0090dcs`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"plain\ttab é €":     "plain\ttab é €",
		"\x00\x1f\x7f":       `\u0000\u001f\u007f`,
		"\u0080\u009f\u00a0": `\u0080\u009f` + "\u00a0",
		"bad \xff\xc2":       "bad \ufffd\ufffd",
		"a\nb\rc":            `a\u000ab\u000dc`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTimelineExecution switches between interleaved executions: a heading
// at each switch, and each execution's states remembered.
func TestTimelineExecution(t *testing.T) {
	var b strings.Builder
	tl := New(&b)
	withDetails := func(e *execdata.Event, details string) *execdata.Event {
		e.SetDetails([]byte(details))
		return e
	}
	write := func(title string, e *execdata.Event) {
		if err := tl.Execution(title); err != nil {
			t.Fatal(err)
		}
		if err := tl.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	write("A", withDetails(&execdata.Event{ID: 1, Type: "TaskStateEntered", TimeText: "t"}, `{"name":"Charge","inputDetails":{"truncated":"false"}}`))
	write("A", &execdata.Event{ID: 2, PreviousID: 1, Type: "TaskScheduled", TimeText: "t"})
	write("B", withDetails(&execdata.Event{ID: 1, Type: "TaskStateEntered", TimeText: "t"}, `{"name":"Ship","input":"{}","inputDetails":{"truncated":"true"}}`))
	write("A", &execdata.Event{ID: 3, PreviousID: 2, Type: "TaskStarted", TimeText: "t"})
	write("B", &execdata.Event{ID: 2, PreviousID: 1, Type: "TaskStarted", TimeText: "t"})
	if err := tl.Execution("other"); err != nil {
		t.Fatal(err)
	}
	if err := tl.Message(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), "stream", "line one\r\nline two\n"); err != nil {
		t.Fatal(err)
	}
	want := `== A
     1  t  TaskStateEntered              Charge
     2  t  TaskScheduled                 Charge
== B
     1  t  TaskStateEntered              Ship
        input (truncated by Step Functions):
          {}
== A
     3  t  TaskStarted                   Charge
== B
     2  t  TaskStarted                   Ship
== other
     -  2024-05-01T00:00:00.000Z  stream
        line one
        line two
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
