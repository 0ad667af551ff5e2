package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// fleetFunction is one Lambda function of the simulated workflow: the
// classes it decrypts from its input, and the classes it writes (encrypts
// in its output, after it decrypted them or, for the first function, from
// plaintext input).
type fleetFunction struct {
	name    string
	decrypt []string
	writes  []string
}

// fleetWorkflow: intake encrypts the applicant's identity and contact data;
// verify reads and rewrites identity; score reads and rewrites contact;
// notify reads contact. Each passes the other class's token on unchanged.
var fleetWorkflow = []fleetFunction{
	{"intake", nil, []string{"identity", "contact"}},
	{"verify", []string{"identity"}, []string{"identity"}},
	{"score", []string{"contact"}, []string{"contact"}},
	{"notify", []string{"contact"}, nil},
}

// fleetRun is one simulation: w warm containers per function, e executions.
// With tenants > 0, the rules take the encryption context entry tenant from
// the document (Rule.Context), and executions cycle through that many
// tenants: envelope mode then needs one data key per tenant.
type fleetRun struct {
	mode    string // "envelope" or "keyset"
	w, e    int
	tenants int
}

// fleetResult is what a simulation counted and what the cache model
// predicts for it.
type fleetResult struct {
	counts       kmsCounts
	reads        int // tokens decrypted, over all invocations
	predicted    int // KMS requests the cache model predicts for this routing
	coldStarts   int // containers that served at least one invocation
	perThousand  float64
	decryptsRead float64 // Decrypt requests per token read
}

// container is one execution environment: its own codec, hence its own
// caches, as a separate process has. It is built at its first invocation.
type container struct {
	c *codec.Codec
	// seen: for each class, the writers (function index, container index)
	// whose tokens this container has read: with data keys that never
	// expire in the run, each new writer costs one Decrypt in envelope mode.
	seen map[string]map[[3]int]bool // writer: function, container, tenant
	// wrote: the classes (and tenants) this container has encrypted.
	wrote map[string]bool
}

func fleetConfig(tb testing.TB, srv *kmstest.Server, mode, dir string, tenants int) *codec.Config {
	tb.Helper()
	keyring := fmt.Sprintf(`{"kms":{"keyArn":%q}}`, srv.KeyARN("primary"))
	if mode == "keyset" {
		keyring = fmt.Sprintf(`{"kmsKeyset":{"keyArn":%q,"dir":%q}}`, srv.KeyARN("primary"), dir)
	}
	context := ""
	if tenants > 0 {
		context = `,"context":{"tenant":"$.tenant"}`
	}
	cfg, err := codec.ParseConfig(fmt.Appendf(nil, `{"encryptionContext":{"app":"bench"},
		"keyrings":{"main":%s},
		"rules":[{"class":"identity","keyring":"main","select":["$.applicant.ssn"]%s},
		         {"class":"contact","keyring":"main","select":["$.applicant.email"]%s}]}`, keyring, context, context))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// simulate runs r.e executions of fleetWorkflow, each function of each
// execution on a container picked at random among r.w, against srv.
func simulate(tb testing.TB, srv *kmstest.Server, r fleetRun) fleetResult {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	cfg := fleetConfig(tb, srv, r.mode, dir, r.tenants)
	clients := envelope.KMSClients(awsConfig(tb, srv))
	if r.mode == "keyset" {
		st, err := keyset.NewStore(dir, clients, srv.KeyARN("primary"))
		if err != nil {
			tb.Fatal(err)
		}
		for _, class := range []string{"identity", "contact"} {
			if err := st.Create(ctx, class, cfg.EncryptionContext); err != nil {
				tb.Fatal(err)
			}
		}
	}
	fleet := make([][]*container, len(fleetWorkflow))
	for i := range fleet {
		fleet[i] = make([]*container, r.w)
	}
	rng := rand.New(rand.NewPCG(1, uint64(r.w)))
	srv.ResetCounts()
	var res fleetResult
	for x := range r.e {
		doc := fmt.Appendf(nil, `{"applicant":{"name":"A%d","ssn":"078-05-%04d","email":"a%d@example.com"},"amount":%d}`, x, x%10000, x, x)
		tenant := 0
		if r.tenants > 0 {
			tenant = x % r.tenants
			doc = fmt.Appendf(nil, `{"tenant":"t%d",%s`, tenant, doc[1:])
		}
		writer := map[string][3]int{} // class -> who wrote its token, and for which tenant
		for fi, fn := range fleetWorkflow {
			ci := rng.IntN(r.w)
			ct := fleet[fi][ci]
			if ct == nil {
				c, err := codec.New(ctx, cfg, codec.WithKMSClients(clients), codec.WithClasses(fn.decrypt...))
				if err != nil {
					tb.Fatal(err)
				}
				ct = &container{c: c, seen: map[string]map[[3]int]bool{}, wrote: map[string]bool{}}
				fleet[fi][ci] = ct
				res.coldStarts++
			}
			var err error
			if len(fn.decrypt) > 0 {
				if doc, err = ct.c.Decrypt(ctx, doc); err != nil {
					tb.Fatalf("%s: %v", fn.name, err)
				}
				for _, class := range fn.decrypt {
					if ct.seen[class] == nil {
						ct.seen[class] = map[[3]int]bool{}
					}
					ct.seen[class][writer[class]] = true
					res.reads++
				}
			}
			if len(fn.writes) > 0 {
				if doc, err = ct.c.Encrypt(ctx, doc); err != nil {
					tb.Fatalf("%s: %v", fn.name, err)
				}
				for _, class := range fn.writes {
					writer[class] = [3]int{fi, ci, tenant}
					ct.wrote[fmt.Sprintf("%s/%d", class, tenant)] = true
				}
			}
		}
	}
	res.counts = countsOf(srv)
	// The cache model: envelope mode makes one GenerateDataKey per writer
	// container and class, and one Decrypt per reader container, class and
	// writer container it has read from; keyset mode makes one Decrypt
	// per container and class it uses, at its first use.
	for _, fc := range fleet {
		for _, ct := range fc {
			if ct == nil {
				continue
			}
			used := map[string]bool{}
			for class, ws := range ct.seen {
				used[class] = true
				if r.mode == "envelope" {
					res.predicted += len(ws)
				}
			}
			for key := range ct.wrote {
				class, _, _ := strings.Cut(key, "/")
				used[class] = true
				if r.mode == "envelope" {
					res.predicted++ // one data key per class and tenant
				}
			}
			if r.mode == "keyset" {
				res.predicted += len(used)
			}
		}
	}
	res.perThousand = float64(res.counts.total) * 1000 / float64(r.e)
	res.decryptsRead = float64(res.counts.decrypt) / float64(res.reads)
	return res
}

// envelopeModelRPS is the cache model's KMS request rate for envelope mode
// at rate executions per second with w warm containers per function and
// data keys that live maxAge seconds (no container turnover): per key
// lifetime, each writer container makes one GenerateDataKey per class it
// writes, and each reader container makes one Decrypt per distinct writer
// container it reads from, of the w (expected w·(1-(1-1/w)^n) after n
// invocations).
func envelopeModelRPS(rate, w, maxAge float64) float64 {
	n := rate * maxAge / w // invocations per container per key lifetime
	var writes, reads float64
	for _, fn := range fleetWorkflow {
		writes += float64(len(fn.writes))
		reads += float64(len(fn.decrypt))
	}
	distinct := w * (1 - math.Pow(1-1/w, n))
	return (writes*w + reads*w*distinct) / maxAge
}

// keysetModelRPS is the rate for keyset mode: one Decrypt per class a
// function uses, per cold start; coldStarts per second over the fleet.
func keysetModelRPS(coldStartsPerFunction float64) float64 {
	var classes float64
	for _, fn := range fleetWorkflow {
		used := map[string]bool{}
		for _, c := range append(append([]string{}, fn.decrypt...), fn.writes...) {
			used[c] = true
		}
		classes += float64(len(used))
	}
	return classes * coldStartsPerFunction
}

// TestFleet simulates a fleet: W warm containers per function (each its
// own codec and caches), executions routed to random containers, and
// counts the KMS requests of envelope mode and keyset mode on local-kms. It
// checks the counts against the cache model exactly, and logs them with
// the model's projection at 1,000 executions per second against the
// default quota of 10,000 requests per second.
func TestFleet(t *testing.T) {
	measurement(t, "tens of thousands of KMS requests")
	srv := kmstest.Start(t)
	runs := []fleetRun{
		{"envelope", 10, 1000, 0}, {"keyset", 10, 1000, 0},
		{"envelope", 100, 1000, 0}, {"keyset", 100, 1000, 0},
		{"envelope", 100, 10000, 0}, {"keyset", 100, 10000, 0},
		{"envelope", 1000, 10000, 0}, {"keyset", 1000, 10000, 0},
		// A per-call encryption context with 10 tenants: envelope mode
		// needs a data key per class and tenant, keyset mode nothing more.
		{"envelope", 100, 10000, 10}, {"keyset", 100, 10000, 10},
	}
	if m := os.Getenv("SFNENC_FLEET_MODE"); m != "" {
		var keep []fleetRun
		for _, r := range runs {
			if r.mode == m {
				keep = append(keep, r)
			}
		}
		runs = keep
	}
	for _, r := range runs {
		name := fmt.Sprintf("%s/W=%d/E=%d", r.mode, r.w, r.e)
		if r.tenants > 0 {
			name += fmt.Sprintf("/tenants=%d", r.tenants)
		}
		t.Run(name, func(t *testing.T) {
			res := simulate(t, srv, r)
			if res.counts.total != res.predicted {
				t.Errorf("%d KMS requests, the cache model predicts %d", res.counts.total, res.predicted)
			}
			if r.mode == "keyset" && (res.counts.generate != 0 || res.counts.encrypt != 0) {
				t.Errorf("keyset mode made %v", res.counts)
			}
			t.Logf("%s W=%d E=%d tenants=%d: %v; %d cold starts; %d token reads; %.0f KMS requests per 1,000 executions; %.3f Decrypt per token read; at 1,000 executions/s this regime is %.0f requests/s (%.1f%% of 10,000)",
				r.mode, r.w, r.e, r.tenants, res.counts, res.coldStarts, res.reads, res.perThousand, res.decryptsRead, res.perThousand, res.perThousand/100)
		})
	}
	for _, w := range []float64{100, 1000} {
		env := envelopeModelRPS(1000, w, codec.DefaultMaxAge.Seconds())
		// Keyset mode: each container's cold start once per key lifetime
		// (a high turnover; Lambda environments usually live longer).
		ks := keysetModelRPS(w / codec.DefaultMaxAge.Seconds())
		t.Logf("model at 1,000 executions/s, W=%.0f, 5-minute data keys: envelope %.0f requests/s (%.1f%% of 10,000); keyset %.1f requests/s with every container replaced every 5 minutes",
			w, env, env/100, ks)
	}
}
