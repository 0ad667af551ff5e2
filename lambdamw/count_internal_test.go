package lambdamw

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCountTokens(t *testing.T) {
	// Tokens of this test are made up: countTokens reads their class
	// through internal/format, which needs a well-formed body.
	tests := []struct {
		name string
		doc  string
		want map[string]int
	}{
		{"none", `{"a":"b","c":[1,2]}`, map[string]int{}},
		{"prefix only", `{"a":"sfnenc:"}`, map[string]int{}},
		{"malformed", `{"a":"sfnenc:AAAA"}`, map[string]int{}},
		{"escaped quote", `{"a":"x \"sfnenc:AAAA\" y"}`, map[string]int{}},
		{"unterminated", `{"a":"sfnenc:AAAA`, map[string]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c classCache
			if diff := cmp.Diff(tc.want, c.countTokens([]byte(tc.doc))); diff != "" {
				t.Errorf("countTokens mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
