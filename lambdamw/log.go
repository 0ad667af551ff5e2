package lambdamw

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sfnenc/sfnenc/codec"
)

const levelError = slog.LevelError

// invocation collects what one invocation's log record says. It holds
// counts, sizes, names and durations; never a value of the event or result.
type invocation struct {
	requestID   string
	start       time.Time
	outcome     string // "ok", "handler error", "panic", or a middleware error type
	errorType   string
	err         error // the middleware's error, as returned to the runtime
	sealed      bool  // the handler's error message was encrypted
	eventBytes  int
	resultBytes int

	decryptDur, handlerDur, encryptDur time.Duration

	// What the codec did with the event and with the result.
	decrypted, encrypted codec.Report
}

// fail records a middleware failure and returns it as the error for the
// runtime.
func (r *invocation) fail(ire messages.InvokeResponse_Error) error {
	r.outcome, r.errorType, r.err = ire.Type, ire.Type, ire
	return ire
}

func (r *invocation) handlerFailed(outcome string, ire messages.InvokeResponse_Error, sealed bool) {
	r.outcome, r.errorType, r.sealed = outcome, ire.Type, sealed
}

func (m *middleware) log(ctx context.Context, r *invocation) {
	level := slog.LevelInfo
	switch r.outcome {
	case "ok":
	case "handler error", "panic":
		level = slog.LevelWarn
	default:
		level = slog.LevelError
	}
	if !m.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	if r.requestID != "" {
		attrs = append(attrs, slog.String("requestId", r.requestID))
	}
	attrs = append(attrs, slog.String("outcome", r.outcome))
	if r.errorType != "" {
		attrs = append(attrs, slog.String("errorType", r.errorType))
	}
	switch r.outcome {
	case "handler error", "panic":
		// The handler's message may hold anything: only say what became
		// of it.
		if r.sealed {
			attrs = append(attrs, slog.String("errorMessage", "encrypted"))
		} else {
			attrs = append(attrs, slog.String("errorMessage", "redacted"))
		}
	case "ok":
	default:
		if r.err != nil {
			attrs = append(attrs, slog.String("error", r.err.(messages.InvokeResponse_Error).Message))
		}
	}
	attrs = append(attrs, slog.Int("eventBytes", r.eventBytes))
	if r.outcome == "ok" {
		attrs = append(attrs, slog.Int("resultBytes", r.resultBytes))
	}
	if m.codec != nil {
		dr, er := &r.decrypted, &r.encrypted
		attrs = append(attrs,
			countsAttr("decrypted", dr.Count(codec.Decrypted)),
			countsAttr("passedThrough", dr.Count(codec.PassedThrough)),
			countsAttr("encrypted", er.Count(codec.Made)),
			countsAttr("resealed", er.Count(codec.Resealed)),
			countsAttr("givenBack", er.Count(codec.GivenBack)),
			slog.Group("cache",
				slog.Int("decryptHits", dr.KeyHits),
				slog.Int("decryptMisses", dr.KeyMisses),
				slog.Int("encryptHits", er.KeyHits),
				slog.Int("encryptMisses", er.KeyMisses)),
			slog.Group("durationMs",
				msAttr("decrypt", r.decryptDur),
				msAttr("handler", r.handlerDur),
				msAttr("encrypt", r.encryptDur),
				msAttr("total", time.Since(r.start))),
		)
	}
	m.logger.LogAttrs(ctx, level, "lambdamw: invocation", attrs...)
}

// countsAttr logs counts by class, classes in order.
func countsAttr(key string, counts map[string]int) slog.Attr {
	as := make([]any, 0, len(counts))
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		as = append(as, slog.Int(c, counts[c]))
	}
	return slog.Group(key, as...)
}

func msAttr(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, float64(d.Microseconds())/1000)
}

func errAttr(err error) slog.Attr { return slog.String("error", err.Error()) }
