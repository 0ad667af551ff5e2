package lambdamw

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/format"
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

	// Tokens by class: in the event, left in the decrypted event, in the
	// handler's result, and in the encrypted result.
	eventTokens, keptTokens, rawTokens, resultTokens map[string]int

	before, after codec.Stats
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
		decrypted, kept := map[string]int{}, map[string]int{}
		for class, n := range r.eventTokens {
			k := min(r.keptTokens[class], n)
			if n > k {
				decrypted[class] = n - k
			}
			if k > 0 {
				kept[class] = k
			}
		}
		encrypted := map[string]int{}
		for class, n := range r.resultTokens {
			if d := n - r.rawTokens[class]; d > 0 {
				encrypted[class] = d
			}
		}
		if r.eventTokens != nil {
			attrs = append(attrs, countsAttr("decrypted", decrypted), countsAttr("passedThrough", kept))
		}
		if r.resultTokens != nil {
			attrs = append(attrs, countsAttr("encrypted", encrypted))
		}
		e, d := r.after.Encrypt, r.after.Decrypt
		eb, db := r.before.Encrypt, r.before.Decrypt
		attrs = append(attrs,
			slog.Group("keyring",
				slog.Uint64("generateCalls", e.KeyringCalls-eb.KeyringCalls),
				slog.Uint64("unwrapCalls", d.KeyringCalls-db.KeyringCalls)),
			slog.Group("cache",
				slog.Uint64("encryptHits", e.Hits-eb.Hits),
				slog.Uint64("encryptMisses", e.Misses-eb.Misses),
				slog.Uint64("decryptHits", d.Hits-db.Hits),
				slog.Uint64("decryptMisses", d.Misses-db.Misses)),
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

var tokenStart = []byte(`"` + format.Prefix)

// classPrefixLen is the length of the start of a token's text (after the
// prefix) that determines its class: 88 base64 characters encode the first
// 66 bytes of the body, which hold the version, the mode and the class
// (1 + 1 + 1 + at most 63 bytes, see SECURITY.md).
const classPrefixLen = 4 * (3 + format.MaxClassLen) / 3

// classCache remembers the class of token texts by their start, so that the
// tokens of a data key, which share it, are parsed once for the log.
type classCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *classCache) class(text []byte) (string, bool) {
	body := text[len(format.Prefix):]
	if len(body) < classPrefixLen {
		tok, err := format.Decode(text, nil)
		if err != nil {
			return "", false
		}
		return tok.Class, true
	}
	key := body[:classPrefixLen]
	c.mu.Lock()
	class, ok := c.m[string(key)]
	c.mu.Unlock()
	if ok {
		return class, true
	}
	tok, err := format.Decode(text, nil)
	if err != nil {
		return "", false
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 1024 {
		c.m = map[string]string{}
	}
	c.m[string(key)] = tok.Class
	c.mu.Unlock()
	return tok.Class, true
}

// countTokens counts the tokens in a JSON document by class, for the log.
// It looks for strings that start with the token prefix and are not
// escaped; anything it cannot parse is not counted. It never fails: the
// codec checks documents and tokens properly.
func (c *classCache) countTokens(doc []byte) map[string]int {
	counts := map[string]int{}
	for i := 0; ; {
		j := bytes.Index(doc[i:], tokenStart)
		if j < 0 {
			return counts
		}
		start := i + j + 1
		end := bytes.IndexByte(doc[start:], '"')
		if end < 0 {
			return counts
		}
		end += start
		i = end + 1
		if start > 1 && doc[start-2] == '\\' {
			continue // an escaped quote inside some other string
		}
		if class, ok := c.class(doc[start:end]); ok {
			counts[class]++
		}
	}
}
