package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
)

// wideDefinition is a Pass state whose Parameters have n members, each a
// path, and a Task that gets them.
func wideDefinition(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"StartAt":"Wide","States":{"Wide":{"Type":"Pass","Parameters":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d.$":"$.applicant"`, i)
	}
	b.WriteString(`},"Next":"Use"},"Use":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:111122223333:function:use","End":true}}}`)
	return b.Bytes()
}

// deepDefinition is a Choice on a token nested depth levels down, placed
// there by a rule.
func deepDefinition(depth int) ([]byte, string) {
	path := "$" + strings.Repeat(".d", depth) + ".secret"
	return []byte(fmt.Sprintf(`{"StartAt":"Copy","States":{"Copy":{"Type":"Pass","ResultPath":"$.copy","Next":"Deep"},"Deep":{"Type":"Choice","Choices":[{"Variable":%q,"StringEquals":"x","Next":"Done"}],"Default":"Done"},"Done":{"Type":"Succeed"}}}`, path)), path
}

// TestWide: a Parameters object of 40,000 members (over 1 MB with longer
// names) is checked, and finds each member's token; time is measured by
// BenchmarkWide, not here.
func TestWide(t *testing.T) {
	cfg := testConfig(t, "testdata/config.json")
	def, err := ParseDefinition(wideDefinition(40000))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check(def, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 40000 {
		t.Errorf("%d findings, want one token-at-unselected-path per member (40000)", len(fs))
	}
}

// TestTooLarge: a definition over Step Functions' 1 MiB is refused with
// an error that says so.
func TestTooLarge(t *testing.T) {
	data := wideDefinition(60000)
	if len(data) <= stack.MaxDefinition {
		t.Fatalf("test definition of %d bytes is not over the limit", len(data))
	}
	_, err := ParseDefinition(data)
	if !errors.Is(err, ErrDefinition) || !strings.Contains(err.Error(), "more than the 1048576 bytes Step Functions accepts") {
		t.Errorf("err = %v, want ErrDefinition saying the limit", err)
	}
}

// TestDeepToken: a token nested deeper than the analysis follows values
// is not forgotten: a Choice on it is reported, and so is the depth.
func TestDeepToken(t *testing.T) {
	for _, depth := range []int{10, 50, 80, 200} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			data, path := deepDefinition(depth)
			cfg := testConfig(t, "testdata/config.json")
			cfg.Rules[0].Select = append(cfg.Rules[0].Select, path)
			def, err := ParseDefinition(data)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := Check(def, Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range fs {
				if f.Rule == RuleChoiceOnToken && f.Path == path && f.Class == "identity" && f.Severity == SeverityError {
					found = true
				}
			}
			if !found {
				t.Errorf("depth %d: no choice-on-token error at the deep path; findings: %v", depth, got(fs))
			}
		})
	}
}

// TestTooDeep: a loop that nests a value in itself is followed to a
// depth, and what lies below is reported, not forgotten.
func TestTooDeep(t *testing.T) {
	def, err := ParseDefinition([]byte(`{"StartAt":"Nest","States":{
		"Nest":{"Type":"Pass","Parameters":{"inner.$":"$"},"Next":"Again"},
		"Again":{"Type":"Choice","Choices":[{"Variable":"$.inner.inner.applicant","StringEquals":"x","Next":"Nest"}],"Default":"Nest"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check(def, Options{Config: testConfig(t, "testdata/config.json")})
	if err != nil {
		t.Fatal(err)
	}
	var deep, choice bool
	for _, f := range fs {
		deep = deep || f.Rule == RuleTooDeep
		choice = choice || (f.Rule == RuleChoiceOnToken && f.Class == "identity")
	}
	if !deep || !choice {
		t.Errorf("too-deep %v, choice-on-token %v, want both; findings: %v", deep, choice, got(fs))
	}
}

// TestControlCharactersEscaped: a state name with control characters
// (ESC, CR, a C1 control) reaches text output escaped.
func TestControlCharactersEscaped(t *testing.T) {
	name, _ := json.Marshal("Route\x1b[2J\r\u009bX")
	def, err := ParseDefinition([]byte(fmt.Sprintf(`{"StartAt":%s,"States":{%s:{"Type":"Choice","Choices":[{"Variable":"$.applicant","StringEquals":"x","Next":"Done"}],"Default":"Done"},"Done":{"Type":"Succeed"}}}`, name, name)))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check(def, Options{Config: testConfig(t, "testdata/config.json")})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteText(&b, fs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r\u009b") {
		t.Errorf("text output holds raw control characters: %q", out)
	}
	if !strings.Contains(out, `Route\u001b[2J\u000d\u009bX: error: choice-on-token`) {
		t.Errorf("text output does not name the state escaped: %q", out)
	}
}

// BenchmarkWide checks Parameters of 10,000 and 40,000 members: the time
// per member stays flat (linear in the definition's size).
func BenchmarkWide(b *testing.B) {
	cfg := testConfig(b, "testdata/config.json")
	for _, n := range []int{10000, 40000} {
		def, err := ParseDefinition(wideDefinition(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Check(def, Options{Config: cfg}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
