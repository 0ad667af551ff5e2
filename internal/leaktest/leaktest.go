// Package leaktest holds the checks that tests use to hunt for values that
// must never leave the codec in plaintext: canary values in errors, logs,
// panics, command output and documents, and tokens by class.
package leaktest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/internal/format"
)

// Check reports an error on tb for each canary that s holds. what names s
// in the message.
func Check(tb testing.TB, what, s string, canaries ...string) {
	tb.Helper()
	for _, c := range canaries {
		if strings.Contains(s, c) {
			tb.Errorf("%s holds the canary %q:\n%s", what, c, s)
		}
	}
}

// TokenClasses counts the well-formed tokens among the string values of a
// JSON document, by class. It fails tb if doc is not JSON.
func TokenClasses(tb testing.TB, doc []byte) map[string]int {
	tb.Helper()
	return tokenClasses(tb, doc, false)
}

// NestedTokenClasses is TokenClasses that also looks inside string values
// that hold JSON documents themselves (as the data fields of Step
// Functions history events do).
func NestedTokenClasses(tb testing.TB, doc []byte) map[string]int {
	tb.Helper()
	return tokenClasses(tb, doc, true)
}

func tokenClasses(tb testing.TB, doc []byte, nested bool) map[string]int {
	tb.Helper()
	out := map[string]int{}
	var tok format.Token
	var buf []byte
	var count func(string)
	count = func(s string) {
		var err error
		if buf, err = tok.Decode([]byte(s), buf); err == nil {
			out[tok.Class]++
			return
		}
		var inner any
		if nested && json.Unmarshal([]byte(s), &inner) == nil {
			eachString(inner, count)
		}
	}
	eachString(parse(tb, doc), count)
	return out
}

// StringValues returns the string values of a JSON document (not its
// object keys), in no particular order. It fails tb if doc is not JSON.
func StringValues(tb testing.TB, doc []byte) []string {
	tb.Helper()
	var out []string
	eachString(parse(tb, doc), func(s string) { out = append(out, s) })
	return out
}

func parse(tb testing.TB, doc []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		tb.Fatalf("not JSON: %v: %s", err, doc)
	}
	return v
}

// eachString calls f with each string value in v, a tree that
// encoding/json decoded into an any.
func eachString(v any, f func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			eachString(e, f)
		}
	case []any:
		for _, e := range v {
			eachString(e, f)
		}
	case string:
		f(v)
	}
}
