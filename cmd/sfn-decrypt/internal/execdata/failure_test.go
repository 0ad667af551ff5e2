package execdata_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
)

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&envelope.KeyError{Kind: envelope.ErrDenied}, "KMS denied access to the key"},
		{&envelope.KeyError{Kind: envelope.ErrInvalidKey}, "wrong key or encryption context"},
		{envelope.ErrNoKey, "no configured key can unwrap it"},
		{&envelope.KeyError{Kind: envelope.ErrUnavailable}, "KMS unavailable"},
		{codec.ErrAuthentication, "failed authentication (altered, or another context or class)"},
		{fmt.Errorf("%w: x", codec.ErrMalformedToken), "malformed token"},
		{fmt.Errorf("%w: cut off", execdata.ErrTruncated), "in data truncated by Step Functions"},
		{&keyset.Error{Path: "k/identity.json", Class: "identity", KeyID: 1, Err: keyset.ErrDestroyed}, "made with a destroyed key"},
		{&keyset.Error{Err: keyset.ErrDisabled}, "made with a disabled key"},
		{&keyset.Error{Err: keyset.ErrNoSuchKey}, "its key is not in the class's keyset"},
		{&keyset.Error{Err: keyset.ErrBadFile}, "damaged or foreign keyset file"},
		{errors.New("other"), "cannot decrypt"},
	}
	for _, tt := range tests {
		f := execdata.Failure{Err: tt.err}
		if got := f.Reason(); got != tt.want {
			t.Errorf("Reason for %v = %q, want %q", tt.err, got, tt.want)
		}
		if f.Unavailable() != (tt.want == "KMS unavailable") {
			t.Errorf("Unavailable for %v = %v", tt.err, f.Unavailable())
		}
	}
}

func TestFailureWhere(t *testing.T) {
	tests := []struct {
		f    execdata.Failure
		want string
	}{
		{execdata.Failure{Field: "/output", Pointer: "/ssn"}, "/output at /ssn"},
		{execdata.Failure{}, "(value)"},
		{execdata.Failure{EventID: 7, EventType: "TaskSucceeded", Field: "/output"}, "event 7 (TaskSucceeded) /output"},
		{execdata.Failure{ExecutionARN: "arn:x", EventID: 7, EventType: "TaskSucceeded", Field: "/output"}, "arn:x event 7 (TaskSucceeded) /output"},
	}
	for _, tt := range tests {
		if got := tt.f.Where(); got != tt.want {
			t.Errorf("Where() = %q, want %q", got, tt.want)
		}
	}
	f := execdata.Failure{EventID: 3, EventType: "TaskFailed", Field: "/cause", Class: "pii", Err: &envelope.KeyError{Kind: envelope.ErrDenied}}
	if got, want := f.Describe(), "event 3 (TaskFailed) /cause, class pii: KMS denied access to the key"; len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("Describe() = %q, want it to begin %q", got, want)
	}
	if got := f.Cause(); got[:len("class pii: KMS denied")] != "class pii: KMS denied" {
		t.Errorf("Cause() = %q names the event", got)
	}
}
