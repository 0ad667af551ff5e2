package fieldpath

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sfnenc/sfnenc/jsontape"
)

// benchPayload returns a deterministic payload of about 256 KiB shaped like a
// Step Functions state input: a batch of customer records.
var benchPayload = sync.OnceValue(func() []byte {
	type phone struct {
		Type   string `json:"type"`
		Number string `json:"number"`
	}
	type address struct {
		Street string `json:"street"`
		City   string `json:"city"`
		State  string `json:"state"`
		Zip    string `json:"zip"`
		Geo    struct {
			Lat float64 `json:"lat"`
			Lon float64 `json:"lon"`
		} `json:"geo"`
	}
	type account struct {
		IBAN     string  `json:"iban"`
		Balance  float64 `json:"balance"`
		Currency string  `json:"currency"`
	}
	type record struct {
		ID   int `json:"id"`
		Name struct {
			First string `json:"first"`
			Last  string `json:"last"`
		} `json:"name"`
		SSN      string    `json:"ssn"`
		Email    string    `json:"email"`
		Phone    []phone   `json:"phone"`
		Address  address   `json:"address"`
		Accounts []account `json:"accounts"`
		Tags     []string  `json:"tags"`
		Active   bool      `json:"active"`
		Since    string    `json:"customerSince"`
		Notes    *string   `json:"notes"`
	}
	r := rand.New(rand.NewPCG(1, 2))
	first := []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "José", "Zoë", "Łukasz"}
	last := []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Núñez", "O'Brien"}
	cities := []string{"London", "Dublin", "Paris", "Zürich", "Seattle", "São Paulo"}
	tags := []string{"vip", "new", "kyc-pending", "marketing-opt-out", "b2b"}
	records := make([]record, 500)
	for i := range records {
		rec := &records[i]
		rec.ID = 100000 + i
		rec.Name.First, rec.Name.Last = first[r.IntN(len(first))], last[r.IntN(len(last))]
		rec.SSN = fmt.Sprintf("%03d-%02d-%04d", r.IntN(900)+100, r.IntN(99)+1, r.IntN(9999)+1)
		rec.Email = fmt.Sprintf("%s.%s%d@example.com", rec.Name.First, rec.Name.Last, i)
		for j := range 1 + r.IntN(2) {
			rec.Phone = append(rec.Phone, phone{[]string{"mobile", "home"}[j], fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000))})
		}
		rec.Address = address{
			Street: fmt.Sprintf("%d High Street", r.IntN(300)+1),
			City:   cities[r.IntN(len(cities))],
			State:  "N/A",
			Zip:    fmt.Sprintf("N%d %dGU", r.IntN(20), r.IntN(10)),
		}
		rec.Address.Geo.Lat, rec.Address.Geo.Lon = 51+r.Float64(), -r.Float64()
		rec.Accounts = []account{{fmt.Sprintf("GB%02dBANK%014d", r.IntN(100), r.Int64N(1e14)), float64(r.IntN(10000000)) / 100, "GBP"}}
		rec.Tags = []string{tags[r.IntN(len(tags))], tags[r.IntN(len(tags))]}
		rec.Active = r.IntN(2) == 0
		rec.Since = fmt.Sprintf("20%02d-%02d-%02d", r.IntN(25), r.IntN(12)+1, r.IntN(28)+1)
		if i%5 == 0 {
			note := "called on 2024-05-01: \"prefers email\"\n"
			rec.Notes = &note
		}
	}
	doc := map[string]any{
		"executionId": "arn:aws:states:eu-west-2:111122223333:execution:customer-batch:4f1c",
		"batch":       map[string]any{"id": "batch-0042", "size": len(records), "source": "s3://example-bucket/in/0042.json"},
		"records":     records,
	}
	data, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return data
})

func BenchmarkSelect(b *testing.B) {
	data := benchPayload()
	for _, exprs := range [][]string{
		{"$..ssn"},
		{"$.records[*].phone"},
		{"$.records[*].address"},
		{"$..ssn", "$.records[*].phone", "$.records[*].address", "$..name"},
		{"$.records[?@.active == true].ssn"},
	} {
		var sels []*Selector
		for _, e := range exprs {
			s, err := Parse(e)
			if err != nil {
				b.Fatal(err)
			}
			sels = append(sels, s)
		}
		b.Run(fmt.Sprint(exprs), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			matches := 0
			for b.Loop() {
				d, err := jsontape.Scan(data, jsontape.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				m, err := Select(d, sels)
				if err != nil {
					b.Fatal(err)
				}
				matches = len(m)
				d.Release()
			}
			b.ReportMetric(float64(matches), "matches")
		})
	}
}
