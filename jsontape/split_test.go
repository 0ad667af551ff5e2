package jsontape_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/jsontape"
)

func split(t *testing.T, in string, lim jsontape.Limits) ([]string, jsontape.Framing, error) {
	t.Helper()
	s := jsontape.NewSplitter(strings.NewReader(in), lim)
	var got []string
	for {
		doc, err := s.Next()
		if err == io.EOF {
			return got, s.Framing(), nil
		}
		if err != nil {
			return got, s.Framing(), err
		}
		got = append(got, string(doc.Source()))
		doc.Release()
		if len(got) > 100 {
			t.Fatal("Next does not end")
		}
	}
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		framing jsontape.Framing
	}{
		{"array", `[{"a":1}, "s,]", [1,[2]], {"b":{"c":"]"}}, null]`, []string{`{"a":1}`, `"s,]"`, `[1,[2]]`, `{"b":{"c":"]"}}`, `null`}, jsontape.ArrayFraming},
		{"indented array", "[\n  {\n    \"a\": \"\\\"]\"\n  },\n  2\n]\n", []string{"{\n    \"a\": \"\\\"]\"\n  }", "2"}, jsontape.ArrayFraming},
		{"empty array", " [ ] ", nil, jsontape.ArrayFraming},
		{"lines", "{\"a\":1}\n\n[1,2]\r\n\"x\"", []string{"{\"a\":1}\n", "[1,2]\r\n", `"x"`}, jsontape.LinesFraming},
		{"empty input", "  \n", nil, jsontape.LinesFraming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, framing, err := split(t, tt.in, jsontape.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records mismatch (-want +got):\n%s", diff)
			}
			if framing != tt.framing {
				t.Errorf("Framing() = %v, want %v", framing, tt.framing)
			}
		})
	}
}

// TestSplitterRefuses plays a writer of a result file that tries to pass
// something past the reader: each record is held to the strict scan, and a
// stream that does not end as it began is refused.
func TestSplitterRefuses(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lim     jsontape.Limits
		records int // read before the error
		want    error
		offset  int
	}{
		{"duplicate name in a record", `[{"a":1},{"ssn":"1","ssn":"2"}]`, jsontape.Limits{}, 1, jsontape.ErrDuplicateName, 20},
		{"duplicate name in a line", "{\"a\":1}\n{\"ssn\":\"1\",\"ssn\":\"2\"}\n", jsontape.Limits{}, 1, jsontape.ErrDuplicateName, 19},
		{"invalid UTF-8", "[\"\xff\"]", jsontape.Limits{}, 0, jsontape.ErrInvalidUTF8, 2},
		{"cut off", `[{"a":1},{"b":`, jsontape.Limits{}, 1, jsontape.ErrSyntax, 14},
		{"cut off string", `[{"a":"1`, jsontape.Limits{}, 0, jsontape.ErrSyntax, 8},
		{"trailing comma", `[1,]`, jsontape.Limits{}, 1, jsontape.ErrSyntax, 3},
		{"no value", `[,1]`, jsontape.Limits{}, 0, jsontape.ErrSyntax, 1},
		{"data after the array", `[1] [2]`, jsontape.Limits{}, 0, jsontape.ErrSyntax, 4},
		{"two values in one element", `[1 2]`, jsontape.Limits{}, 0, jsontape.ErrSyntax, 3},
		{"unbalanced", `[1}]`, jsontape.Limits{}, 0, jsontape.ErrSyntax, 2},
		{"record too large", `[{"a":"` + strings.Repeat("x", 100) + `"}]`, jsontape.Limits{MaxSize: 64}, 0, jsontape.ErrTooLarge, 1},
		{"line too large", `{"a":"` + strings.Repeat("x", 100) + "\"}\n", jsontape.Limits{MaxSize: 64}, 0, jsontape.ErrTooLarge, 0},
		{"too deep", `[[[[1]]]]`, jsontape.Limits{MaxDepth: 2}, 0, jsontape.ErrTooDeep, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := split(t, tt.in, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if len(got) != tt.records {
				t.Errorf("%d records before the error, want %d", len(got), tt.records)
			}
			var de *jsontape.DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DocumentError", err)
			}
			if de.Offset != tt.offset {
				t.Errorf("offset %d, want %d", de.Offset, tt.offset)
			}
		})
	}
}

// TestSplitterMessagesHoldNoData checks that a refused record's error says
// where, not what: no value of the record.
func TestSplitterMessagesHoldNoData(t *testing.T) {
	const canary = "CANARY-4242"
	for _, in := range []string{`[{"a":"` + canary + `","a":2}]`, `[{"a":"` + canary + "\xff\"}]", `[{"a":"` + canary + `"`, `{"a":"` + canary + `" x}`} {
		_, _, err := split(t, in, jsontape.Limits{})
		if err == nil || strings.Contains(err.Error(), canary) {
			t.Errorf("error %v (nil, or quotes the data)", err)
		}
	}
}
