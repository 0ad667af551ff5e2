package lambdamw_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/lambdamw"
)

// TestContractDoor: the contract over bytes, as sfnenc-proxy calls it, is
// the middleware's: plaintext in, tokens out, a runtime's error with its
// type kept and its message sealed, the door's own failure reported as
// such, and a broken contract without calling the handler.
func TestContractDoor(t *testing.T) {
	c := localCodec(t)
	logs := new(logBuffer)
	door := lambdamw.NewContract(lambdamw.WithCodec(c), lambdamw.WithErrorClass("diag"),
		lambdamw.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	event := mustEncrypt(t, c, customerEvent("echo"))
	ctx := context.Background()

	t.Run("round trip", func(t *testing.T) {
		var seen string
		out, f := door.Invoke(ctx, "req-1", event, func(_ context.Context, plain []byte) ([]byte, error) {
			seen = string(plain)
			return plain, nil
		})
		if f != nil {
			t.Fatalf("Invoke: %v", f)
		}
		if !strings.Contains(seen, canarySSN) {
			t.Errorf("the handler did not get plaintext: %s", seen)
		}
		assertNoCanary(t, "result", string(out))
	})
	t.Run("the runtime's error", func(t *testing.T) {
		_, f := door.Invoke(ctx, "req-2", event, func(context.Context, []byte) ([]byte, error) {
			return nil, &lambdamw.Failure{Type: "ValueError", Message: "invalid ssn " + canarySSN}
		})
		if f == nil || f.Type != "ValueError" {
			t.Fatalf("failure = %v, want type ValueError", f)
		}
		msg, err := c.Decrypt(ctx, []byte(strconv.Quote(f.Message)))
		if err != nil || string(msg) != strconv.Quote("invalid ssn "+canarySSN) {
			t.Errorf("message %q does not open to the handler's: %s %v", f.Message, msg, err)
		}
	})
	t.Run("the door's failure", func(t *testing.T) {
		_, f := door.Invoke(ctx, "req-3", event, func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("sfnenc-proxy: streamed response refused")
		})
		if f == nil || f.Type != lambdamw.ErrorTypeEncrypt || f.Message != "sfnenc-proxy: streamed response refused" {
			t.Errorf("failure = %v, want the door's message as %s", f, lambdamw.ErrorTypeEncrypt)
		}
	})
	t.Run("broken contract", func(t *testing.T) {
		called := false
		_, f := door.Invoke(ctx, "req-4", []byte(customerEvent("echo")), func(context.Context, []byte) ([]byte, error) {
			called = true
			return nil, nil
		})
		if f == nil || f.Type != lambdamw.ErrorTypeContract || called {
			t.Errorf("failure = %v, handler called %v; want %s before the handler", f, called, lambdamw.ErrorTypeContract)
		}
	})
	assertNoCanary(t, "log", logs.String())
	if n := len(logs.records(t, "lambdamw: invocation")); n != 4 {
		t.Errorf("%d invocation records, want 4", n)
	}
}
