// Package benchdoc generates the documents the benchmarks use: Step
// Functions-like payloads of fixed sizes with a known number of selected
// values, from a fixed seed, so that every run measures the same bytes.
// testdata/bench holds the generated files; TestGenerated checks that they
// match the generator (regenerate with go test ./internal/benchdoc -update).
package benchdoc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// Doc is a generated document and the selectors that pick its sensitive
// values.
type Doc struct {
	Name string
	File string // file name in testdata/bench

	Selectors []string
	Selected  int // values the selectors pick
	JSON      []byte
}

// Seed is the fixed seed of every document.
const Seed = 20261125

// All returns the benchmark documents:
//   - small: about 2 KiB with 5 selected fields;
//   - medium: about 32 KiB with 20 selected fields;
//   - large: about 256 KiB, 500 records, 1,500 selected values;
//   - large-object: the same 256 KiB with one selected object.
func All() []Doc {
	large := records(500, 3, 256<<10)
	return []Doc{
		{Name: "small", File: "small.json", Selectors: []string{"$.records[*].ssn", "$.records[*].phone", "$.applicant"}, Selected: 5, JSON: records(2, 2, 2<<10, withApplicant)},
		{Name: "medium", File: "medium.json", Selectors: []string{"$.records[*].ssn", "$.records[*].phone"}, Selected: 20, JSON: records(10, 2, 32<<10)},
		{Name: "large", File: "large.json", Selectors: []string{"$.records[*].ssn", "$.records[*].phone", "$.records[*].email"}, Selected: 1500, JSON: large},
		{Name: "large-object", File: "large.json", Selectors: []string{"$.records"}, Selected: 1, JSON: large},
	}
}

type option int

const withApplicant option = 1

// records writes {"executionId":..., "records":[n records], "padding":...}
// where each record has `fields` sensitive fields (ssn, phone, email in
// that order) among ordinary ones, then pads with unselected records'
// worth of data (a "history" array) to reach size bytes.
func records(n, fields, size int, opts ...option) []byte {
	r := rand.New(rand.NewPCG(Seed, uint64(n*31+fields)))
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"executionId":"exec-%08x","creditApplicationId":"APP-%06d","status":"IN_REVIEW",`, r.Uint32(), r.IntN(1e6))
	for _, o := range opts {
		if o == withApplicant {
			fmt.Fprintf(&b, `"applicant":{"name":"%s","dateOfBirth":"19%02d-%02d-%02d","address":{"street":"%d %s Street","city":"%s","postcode":"%s"}},`,
				name(r), 50+r.IntN(50), 1+r.IntN(12), 1+r.IntN(28), 1+r.IntN(200), word(r), word(r), word(r))
		}
	}
	b.WriteString(`"records":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"%s","score":%d.%02d,"active":%t,"tags":["%s","%s"],`, i, name(r), r.IntN(1000), r.IntN(100), r.IntN(2) == 0, word(r), word(r))
		sens := []string{
			fmt.Sprintf(`"ssn":"%03d-%02d-%04d"`, r.IntN(900), r.IntN(100), r.IntN(10000)),
			fmt.Sprintf(`"phone":"+44 20 %04d %04d"`, r.IntN(10000), r.IntN(10000)),
			fmt.Sprintf(`"email":"%s.%s@example.com"`, word(r), word(r)),
		}
		for j := 0; j < fields; j++ {
			b.WriteString(sens[j])
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"address":{"line1":"%d %s Road","city":"%s","country":"GB"},"history":[%d,%d,%d]}`,
			1+r.IntN(300), word(r), word(r), r.IntN(100), r.IntN(100), r.IntN(100))
	}
	b.WriteString(`],"audit":[`)
	for i := 0; b.Len() < size-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"step":"%s","ms":%d,"ok":true}`, word(r), r.IntN(5000))
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

var syllables = []string{"ka", "lo", "mi", "ra", "ten", "dor", "vel", "san", "qui", "bro", "ne", "tas"}

func word(r *rand.Rand) string {
	var s string
	for i := 0; i < 2+r.IntN(2); i++ {
		s += syllables[r.IntN(len(syllables))]
	}
	return s
}

func name(r *rand.Rand) string { return word(r) + " " + word(r) }
