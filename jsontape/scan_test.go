package jsontape

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanErrors(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"k`)
			b.WriteByte(byte('a' + i%26))
			b.WriteByte(byte('a' + i/26))
			b.WriteString(`":0`)
		}
		return b.String()
	}
	tests := []struct {
		name    string
		in      string
		lim     Limits
		want    error
		offset  int
		pointer string
	}{
		{"empty", ``, Limits{}, ErrSyntax, 0, ""},
		{"only whitespace", " \n\t\r", Limits{}, ErrSyntax, 4, ""},
		{"trailing data", `{"a":1} x`, Limits{}, ErrSyntax, 8, ""},
		{"two values", `1 2`, Limits{}, ErrSyntax, 2, ""},
		{"byte order mark", "\ufeff{}", Limits{}, ErrSyntax, 0, ""},
		{"trailing comma in array", `[1,]`, Limits{}, ErrSyntax, 3, "/1"},
		{"trailing comma in object", `{"a":1,}`, Limits{}, ErrSyntax, 7, ""},
		{"missing value", `{"a":}`, Limits{}, ErrSyntax, 5, "/a"},
		{"missing colon", `{"a" 1}`, Limits{}, ErrSyntax, 5, ""},
		{"missing comma", `{"a":[1 2]}`, Limits{}, ErrSyntax, 8, "/a"},
		{"wrong closer", `[1}`, Limits{}, ErrSyntax, 2, ""},
		{"unclosed", `{"a":[1,2`, Limits{}, ErrSyntax, 9, "/a"},
		{"single quotes", `{'a':1}`, Limits{}, ErrSyntax, 1, ""},
		{"unquoted name", `{a:1}`, Limits{}, ErrSyntax, 1, ""},
		{"leading zero", `[01]`, Limits{}, ErrSyntax, 2, ""},
		{"plus sign", `+1`, Limits{}, ErrSyntax, 0, ""},
		{"lone minus", `-`, Limits{}, ErrSyntax, 1, ""},
		{"no fraction digits", `1.`, Limits{}, ErrSyntax, 2, ""},
		{"no exponent digits", `[1e+]`, Limits{}, ErrSyntax, 4, "/0"},
		{"leading dot", `.5`, Limits{}, ErrSyntax, 0, ""},
		{"hex number", `0x10`, Limits{}, ErrSyntax, 1, ""},
		{"infinity", `[Infinity]`, Limits{}, ErrSyntax, 1, "/0"},
		{"bad literal", `[tru]`, Limits{}, ErrSyntax, 1, "/0"},
		{"capital literal", `True`, Limits{}, ErrSyntax, 0, ""},
		{"unterminated string", `{"a":"abc`, Limits{}, ErrSyntax, 9, "/a"},
		{"control character", "[\"a\x01\"]", Limits{}, ErrSyntax, 3, "/0"},
		{"raw newline in string", "\"a\nb\"", Limits{}, ErrSyntax, 2, ""},
		{"bad escape", `["\x"]`, Limits{}, ErrSyntax, 2, "/0"},
		{"short unicode escape", `["\u12"]`, Limits{}, ErrSyntax, 2, "/0"},
		{"bad hex digit", `["\u12G4"]`, Limits{}, ErrSyntax, 2, "/0"},
		{"bad name", `{"a\q":1}`, Limits{}, ErrSyntax, 3, ""},
		{"control character in name", "{\"a\":{\"\x1f\":1}}", Limits{}, ErrSyntax, 7, "/a"},

		{"lone high surrogate", `{"a":[{"b":"\ud800"}]}`, Limits{}, ErrInvalidUTF8, 12, "/a/0/b"},
		{"lone low surrogate", `"\uDC00"`, Limits{}, ErrInvalidUTF8, 1, ""},
		{"misordered surrogates", `"\udc00\ud800"`, Limits{}, ErrInvalidUTF8, 1, ""},
		{"high surrogate then other escape", `"x\ud800\u0041"`, Limits{}, ErrInvalidUTF8, 2, ""},
		{"high surrogate then text", `"\ud800abcdef"`, Limits{}, ErrInvalidUTF8, 1, ""},
		{"two high surrogates", `"\ud800\ud800"`, Limits{}, ErrInvalidUTF8, 1, ""},
		{"surrogate in name", `{"\udfff":1}`, Limits{}, ErrInvalidUTF8, 2, ""},
		{"invalid byte", "[\"\xff\"]", Limits{}, ErrInvalidUTF8, 2, "/0"},
		{"overlong encoding", "\"\xc0\xaf\"", Limits{}, ErrInvalidUTF8, 1, ""},
		{"encoded surrogate", "\"\xed\xa0\x80\"", Limits{}, ErrInvalidUTF8, 1, ""},
		{"above U+10FFFF", "\"\xf4\x90\x80\x80\"", Limits{}, ErrInvalidUTF8, 1, ""},
		{"truncated sequence", "\"\xe2\x82\"", Limits{}, ErrInvalidUTF8, 1, ""},
		{"invalid byte in name", "{\"a\":{\"\xfe\":1}}", Limits{}, ErrInvalidUTF8, 7, "/a"},
		{"invalid byte outside strings", "[\xff]", Limits{}, ErrSyntax, 1, "/0"},

		{"duplicate name", `{"a":1,"a":2}`, Limits{}, ErrDuplicateName, 7, "/a"},
		{"duplicate after unescaping", `{"a":1,"\u0061":2}`, Limits{}, ErrDuplicateName, 7, "/a"},
		{"duplicate both escaped", `{"\u00e9":1,"\u00E9":2}`, Limits{}, ErrDuplicateName, 12, "/é"},
		{"duplicate escaped first", `{"\/":1,"b":2,"/":3}`, Limits{}, ErrDuplicateName, 14, "/~1"},
		{"duplicate nested", `{"x":[{"a~/":1,"b":0,"a~/":2}]}`, Limits{}, ErrDuplicateName, 21, "/x/0/a~0~1"},
		{"duplicate empty name", `{"":1,"":2}`, Limits{}, ErrDuplicateName, 6, "/"},
		{"duplicate in large object", `{` + many(40) + `,"kab":1}`, Limits{}, ErrDuplicateName, 1 + 40*8, "/kab"},
		{"escaped duplicate in large object", `{` + many(40) + `,"k\u0061\u0062":1}`, Limits{}, ErrDuplicateName, 1 + 40*8, "/kab"},
		{"duplicate at hash threshold", `{` + many(hashMin) + `,"kaa":1}`, Limits{}, ErrDuplicateName, 1 + hashMin*8, "/kaa"},

		{"too deep", `[[1]]`, Limits{MaxDepth: 1}, ErrTooDeep, 2, "/0/0"},
		{"too deep in object", `{"a":{"b":{}}}`, Limits{MaxDepth: 1}, ErrTooDeep, 10, "/a/b"},
		{"too deep by default", strings.Repeat("[", DefaultMaxDepth+2), Limits{}, ErrTooDeep, DefaultMaxDepth + 1, strings.Repeat("/0", DefaultMaxDepth+1)},
		{"too large", `[1,2]`, Limits{MaxSize: 4}, ErrTooLarge, 4, ""},
		{"too large by default", `"` + strings.Repeat("a", DefaultMaxSize) + `"`, Limits{}, ErrTooLarge, DefaultMaxSize, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Scan([]byte(tt.in), tt.lim)
			if err == nil {
				d.Release()
				t.Fatalf("Scan succeeded, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Scan error %v, want %v", err, tt.want)
			}
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("Scan error %T, want *DocumentError", err)
			}
			type loc struct {
				Offset  int
				Pointer string
			}
			if diff := cmp.Diff(loc{tt.offset, tt.pointer}, loc{de.Offset, de.Pointer}); diff != "" {
				t.Errorf("error location mismatch (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestScanAccepts(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string
		in   string
		lim  Limits
	}{
		{"scalar", `1`, Limits{}},
		{"surrounding whitespace", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n", Limits{}},
		{"literals", `[true,false,null]`, Limits{}},
		{"numbers", `[0,-0,0.5,-1.25e-3,1E+2,1e2,123456789012345678901234567890,1e400,-0.0e-0]`, Limits{}},
		{"empty containers", `{"a":{},"b":[],"c":[{}]}`, Limits{}},
		{"escapes", `"\"\\\/\b\f\n\r\t\u0000\u001f\u20AC\ud83d\ude00"`, Limits{}},
		{"non-ASCII", "\"é€😀\u007f\"", Limits{}},
		{"same name in different objects", `{"a":{"a":1},"b":{"a":2},"c":[{"a":1},{"a":2}]}`, Limits{}},
		{"names differing after unescaping", `{"a":1,"\u0062":2,"\\u0061":3,"A":4}`, Limits{}},
		{"names with equal bloom bits", `{"ab":1,"bb":2,"abb":3,"ba":4}`, Limits{}},
		{"replacement characters", "{\"\ufffd\":1,\"\\ufffe\":2}", Limits{}},
		{"max depth", deep(DefaultMaxDepth + 1), Limits{}},
		{"empty at max depth", `[[]]`, Limits{MaxDepth: 1}},
		{"exact max size", `[1,2]`, Limits{MaxSize: 5}},
		{"large object", `{` + largeObject(1000) + `}`, Limits{}},
		{"large objects with the same names", `[{` + largeObject(50) + `},{"x":{` + largeObject(50) + `}}]`, Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Scan([]byte(tt.in), tt.lim)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			d.Release()
		})
	}
}

func largeObject(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"name`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteByte(byte('0' + i%10))
		b.WriteByte(byte('0' + i/10%10))
		b.WriteByte(byte('0' + i/100%10))
		b.WriteString(`":{"a":1}`)
	}
	return b.String()
}

// TestErrorsHideValues checks that no error message holds text of the
// document's values.
func TestErrorsHideValues(t *testing.T) {
	const canary = "CANARY-5f3a"
	inputs := []string{
		`{"a":"` + canary + "\x01\"}",
		`{"a":"` + canary + `\q"}`,
		`{"a":"` + canary + `\ud800"}`,
		"{\"a\":\"" + canary + "\xff\"}",
		`{"a":"` + canary + `"`,
		`{"a":"` + canary + `" "b":1}`,
		`["` + canary + `", ` + canary + `]`,
		`[1` + canary + `]`,
		`"` + canary + `" "` + canary + `"`,
		`[[["` + canary + `"]]]`,
	}
	for _, in := range inputs {
		_, err := Scan([]byte(in), Limits{MaxDepth: 2})
		if err == nil {
			t.Errorf("Scan(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), canary[:4]) {
			t.Errorf("Scan(%q) error %q holds value text", in, err)
		}
	}
}

func TestTape(t *testing.T) {
	src := ` {"a": [1, {"b/c": "x\u0041"}, true], "d~": null, "e": -2.5e3, "f": false} `
	d, err := Scan([]byte(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	type row struct {
		Kind         Kind
		Raw          string
		Parent       int
		Count, Index int
		Ptr          string
		Path         string
	}
	want := []row{
		{Object, src[1 : len(src)-1], -1, 4, -1, "", "$"},
		{Array, `[1, {"b/c": "x\u0041"}, true]`, 0, 3, -1, "/a", "$['a']"},
		{Number, `1`, 1, 0, 0, "/a/0", "$['a'][0]"},
		{Object, `{"b/c": "x\u0041"}`, 1, 1, 1, "/a/1", "$['a'][1]"},
		{String, `"x\u0041"`, 3, 0, -1, "/a/1/b~1c", "$['a'][1]['b/c']"},
		{True, `true`, 1, 0, 2, "/a/2", "$['a'][2]"},
		{Null, `null`, 0, 0, -1, "/d~0", "$['d~']"},
		{Number, `-2.5e3`, 0, 0, -1, "/e", "$['e']"},
		{False, `false`, 0, 0, -1, "/f", "$['f']"},
	}
	var got []row
	for n := range d.Len() {
		start, end := d.Raw(n)
		got = append(got, row{d.Kind(n), src[start:end], d.Parent(n), d.Count(n), d.Index(n), d.Pointer(n), d.NormalizedPath(n)})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tape mismatch (-want +got):\n%s", diff)
	}
	if string(d.Source()) != src {
		t.Error("Source is not the scanned input")
	}
}

func TestNameIs(t *testing.T) {
	src := `{"plain": 1, "\u0061b\n": 2, "\ud83d\ude00x": 3, "": 4, "a\/": [5]}`
	d, err := Scan([]byte(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	tests := []struct {
		node int
		name string
		want bool
	}{
		{1, "plain", true},
		{1, "plai", false},
		{1, "plainx", false},
		{2, "ab\n", true},
		{2, "ab", false},
		{2, "ab\nx", false},
		{2, "Ab\n", false},
		{3, "\U0001F600x", true},
		{3, "\U0001F600", false},
		{3, "x", false},
		{4, "", true},
		{4, "a", false},
		{5, "a/", true},
		{5, "a\\/", false},
		{6, "", false}, // an array element has no name
		{0, "", false}, // nor has the root
	}
	for _, tt := range tests {
		if got := d.NameIs(tt.node, tt.name); got != tt.want {
			t.Errorf("NameIs(%d, %q) = %v, want %v", tt.node, tt.name, got, tt.want)
		}
		if !tt.want || !d.IsMember(tt.node) {
			continue
		}
		if got := string(d.AppendName(nil, tt.node)); got != tt.name {
			t.Errorf("AppendName(%d) = %q, NameIs says %q", tt.node, got, tt.name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { d.NameIs(3, "\U0001F600x") }); n != 0 {
		t.Errorf("NameIs allocates %v times", n)
	}
}

func TestRawName(t *testing.T) {
	src := `{"plain": 1, "\u0061b\n" : [2, {"": 3}]}`
	d, err := Scan([]byte(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	for n, want := range []string{"", `"plain"`, `"\u0061b\n"`, "", "", `""`} {
		start, end := d.RawName(n)
		got := ""
		if start >= 0 {
			got = src[start:end]
		}
		if got != want || (start < 0) != (want == "") {
			t.Errorf("RawName(%d) = %q (%d, %d), want %q", n, got, start, end, want)
		}
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		name    string
		key     string // JSON text of the member name
		pointer string
		path    string
	}{
		{"plain", `"a"`, "/a", `$['a']`},
		{"slash and tilde", `"a/b~c"`, "/a~1b~0c", `$['a/b~c']`},
		{"tilde one literal", `"~1"`, "/~01", `$['~1']`},
		{"escaped ASCII", `"\u0061\/"`, "/a~1", `$['a/']`},
		{"quotes", `"it's \"q\""`, `/it's "q"`, `$['it\'s "q"']`},
		{"backslash", `"back\\slash"`, `/back\slash`, `$['back\\slash']`},
		{"short escapes", `"\b\f\n\r\t"`, "/\b\f\n\r\t", `$['\b\f\n\r\t']`},
		{"other control characters", `"\u0000\u0001\u000b\u000e\u0010\u001F"`, "/\x00\x01\x0b\x0e\x10\x1f", `$['\u0000\u0001\u000b\u000e\u0010\u001f']`},
		{"delete and non-ASCII stay", "\"\x7fé☺\\ud83d\\ude00\"", "/\x7fé☺😀", "$['\x7fé☺😀']"},
		{"empty", `""`, "/", `$['']`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Scan([]byte(`{"x":[0,{`+tt.key+`:1}]}`), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Release()
			n := d.Len() - 1
			type paths struct{ Pointer, Path string }
			want := paths{"/x/1" + tt.pointer, "$['x'][1]" + tt.path[1:]}
			if diff := cmp.Diff(want, paths{d.Pointer(n), d.NormalizedPath(n)}); diff != "" {
				t.Errorf("paths mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", `"abc"`, "abc"},
		{"empty", `""`, ""},
		{"short escapes", `"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{"unicode escapes", `"\u0000\u0041\u00e9\u20AC\uFFFF"`, "\x00Aé€\uffff"},
		{"surrogate pairs", `"\ud83d\ude00\uD834\uDD1E"`, "😀𝄞"},
		{"highest pair", `"\udbff\udfff"`, "\U0010ffff"},
		{"mixed", `"a\tb\u00e9c\ud83d\ude00d"`, "a\tbéc😀d"},
		{"raw non-ASCII", `"é😀"`, "é😀"},
		{"not a string", `12`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Scan([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Release()
			got := string(d.AppendString([]byte(">"), 0))
			if diff := cmp.Diff(">"+tt.want, got); diff != "" {
				t.Errorf("AppendString mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	var got []string
	for k := range Array + 2 {
		got = append(got, k.String())
	}
	want := []string{"Kind(0)", "null", "false", "true", "number", "string", "object", "array", "Kind(8)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Kind names mismatch (-want +got):\n%s", diff)
	}
}

// TestSpecial checks the eight-byte string scan against the byte table.
func TestSpecial(t *testing.T) {
	first := func(w [8]byte) int {
		for i, c := range w {
			if !plain[c] {
				return i
			}
		}
		return 8
	}
	check := func(w [8]byte) {
		t.Helper()
		got := 8
		if m := special(binary.LittleEndian.Uint64(w[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if want := first(w); got != want {
			t.Fatalf("special(%q): first non-plain byte %d, want %d", w, got, want)
		}
	}
	for pos := range 8 {
		for b := range 256 {
			w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
			w[pos] = byte(b)
			check(w)
			// Bytes after the first special one must not matter.
			for j := pos + 1; j < 8; j++ {
				w[j] = byte(b + j)
			}
			check(w)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		var w [8]byte
		for i := range w {
			// Mostly plain bytes, with specials and edge values mixed in.
			w[i] = []byte{' ', '!', '"', '#', '[', '\\', ']', 0x1f, 0x7f, 0x80, 0xff, 0}[r.IntN(12)]
			if r.IntN(2) == 0 {
				w[i] = byte(r.IntN(256))
			}
		}
		check(w)
	}
}

func TestValidAgreesWithScan(t *testing.T) {
	for _, doc := range []string{`{"a":[1,2,{"b":null}]}`, `{"a":1,"a":2}`, `[1,`, "\"\xff\"", `"ok"`} {
		_, scanErr := Scan([]byte(doc), Limits{})
		validErr := Valid([]byte(doc), Limits{})
		if (scanErr == nil) != (validErr == nil) || (scanErr != nil && scanErr.Error() != validErr.Error()) {
			t.Errorf("%q: Scan error %v, Valid error %v", doc, scanErr, validErr)
		}
	}
	doc := []byte(`{"a":[1,2,{"b":"x"}]}`)
	Valid(doc, Limits{})
	if n := testing.AllocsPerRun(100, func() { Valid(doc, Limits{}) }); n != 0 && !raceEnabled {
		t.Errorf("Valid allocates %.0f times per call", n)
	}
}

func TestMember(t *testing.T) {
	src := `{"a": 1, "\u0062": [2], "": {"c": 3}, "aa": null}`
	d, err := Scan([]byte(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	tests := []struct {
		node int
		name string
		want int
	}{
		{0, "a", 1},
		{0, "b", 2},
		{0, "", 4},
		{0, "aa", 6},
		{0, "c", -1}, // not a member of the root, but of its member ""
		{4, "c", 5},
		{2, "a", -1}, // an array
		{1, "a", -1}, // a number
	}
	for _, tt := range tests {
		if got := d.Member(tt.node, tt.name); got != tt.want {
			t.Errorf("Member(%d, %q) = %d, want %d", tt.node, tt.name, got, tt.want)
		}
	}
}

func TestNextWithPrefix(t *testing.T) {
	src := `["ab", {"ab": "x"}, "abc", "\u0061b", "a\u0062c", "\u00e9t\u00e9", 1, "a", "ab\n"]`
	d, err := Scan([]byte(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	tests := []struct {
		from   int
		prefix string
		want   int
	}{
		{0, "ab", 1},
		{2, "ab", 4}, // the member name "ab" is no String node, its value "x" no match
		{5, "ab", 5},
		{6, "ab", 6},
		{7, "ab", 10},
		{0, "abc", 4},
		{5, "abc", 6},
		{7, "abc", 11},
		{0, "été", 7},
		{0, "é", 7},
		{0, "\u00e9x", 11},
		{0, "ab\n", 10},
		{0, "ab\nx", 11},
		{2, "", 3},
		{11, "", 11},
	}
	for _, tt := range tests {
		if got := d.NextWithPrefix(tt.from, tt.prefix); got != tt.want {
			t.Errorf("NextWithPrefix(%d, %q) = %d, want %d", tt.from, tt.prefix, got, tt.want)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te'`, "line\nbreak\r\ttab\b\f", "\x00\x1f\x7f", "é €\u2028 <&>"} {
		b := AppendEscaped([]byte{'"'}, []byte(s), '"')
		b = append(b, '"')
		var got string
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("AppendEscaped(%q, '\"') = %s, which reads back as %q (%v)", s, b, got, err)
		}
		if bytes.ContainsAny(b[1:len(b)-1], "\x00\x1f\n") {
			t.Errorf("AppendEscaped(%q, '\"') left a control character: %q", s, b)
		}
	}
	if got, want := string(AppendEscaped(nil, []byte("it's a \"\\\n\x01"), '\'')), `it\'s a "\\\n\u0001`; got != want {
		t.Errorf("AppendEscaped with ' = %s, want %s", got, want)
	}
}
