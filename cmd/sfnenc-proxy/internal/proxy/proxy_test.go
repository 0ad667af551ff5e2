package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/internal/leaktest"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// The tests of this file play the Runtime API with stand-in, a double
// for fault injection and for what the emulator cannot do (headers it
// never sends, a Python runtime's error report, a restore from a
// snapshot). The tests under the real emulator, with real runtime clients,
// are in package main.

const canary = "CANARY-SSN-5e1d07"

const rules = `[
	{"class":"pii","keyring":"dev","select":["$.customer.ssn"]},
	{"class":"diag","keyring":"dev","select":["$.diagnostics"]}
]`

func localConfig(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../../../../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	return `{"encryptionContext":{"app":"proxy-test"},"keyrings":{"dev":{"insecureLocalKeyset":"` + p + `"}},"rules":` + rules + `}`
}

func localCodec(t testing.TB) *codec.Codec {
	t.Helper()
	cfg, err := codec.ParseConfig([]byte(localConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// posted is a request the stand-in received.
type posted struct {
	path   string
	header http.Header
	body   []byte
}

// standIn is a Runtime API double: it hands out queued events and records
// what is posted to it.
type standIn struct {
	srv    *httptest.Server
	events chan event
	mu     sync.Mutex
	posts  []posted
	got    chan posted
	// restored is closed to answer GET .../restore/next.
	restored chan struct{}
}

type event struct {
	header http.Header
	body   []byte
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{events: make(chan event, 16), got: make(chan posted, 16), restored: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			select {
			case ev := <-s.events:
				for k, vs := range ev.header {
					w.Header()[k] = vs
				}
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(ev.body)
			case <-r.Context().Done():
			}
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/restore/next":
			select {
			case <-s.restored:
				w.WriteHeader(http.StatusOK)
			case <-r.Context().Done():
			}
		case r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			p := posted{path: r.URL.Path, header: r.Header.Clone(), body: b}
			s.mu.Lock()
			s.posts = append(s.posts, p)
			s.mu.Unlock()
			s.got <- p
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"OK"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) addr() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// push queues an event with the request id id and extra headers.
func (s *standIn) push(id string, body []byte, hdr ...string) http.Header {
	h := http.Header{}
	h.Set("Lambda-Runtime-Aws-Request-Id", id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
	h.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	s.events <- event{header: h, body: body}
	return h
}

// next waits for what the proxy posted.
func (s *standIn) next(t *testing.T) posted {
	t.Helper()
	select {
	case p := <-s.got:
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("nothing was posted to the Runtime API")
		return posted{}
	}
}

// all returns everything posted so far.
func (s *standIn) all() []posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// proxied starts a proxy to s with the local codec, error class diag and
// its log records in logs, and returns its URL.
func proxied(t *testing.T, s *standIn, logs *launch.Buffer) (string, *Server) {
	t.Helper()
	c := localCodec(t)
	p := New(s.addr(), func() *lambdamw.Contract {
		return lambdamw.NewContract(lambdamw.WithCodec(c), lambdamw.WithErrorClass("diag"),
			lambdamw.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return srv.URL, p
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func post(t *testing.T, url string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func encrypted(t *testing.T) []byte {
	t.Helper()
	out, err := localCodec(t).Encrypt(context.Background(), []byte(`{"customer":{"name":"Ann","ssn":"`+canary+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNextPassesEveryHeader: the runtime's next gets every header of the
// real one unchanged, those of today and any added later, with the
// decrypted event.
func TestNextPassesEveryHeader(t *testing.T) {
	s := newStandIn(t)
	logs := new(launch.Buffer)
	url, _ := proxied(t, s, logs)
	want := s.push("req-1", encrypted(t),
		"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-2:111122223333:function:f",
		"Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Lambda-Runtime-Client-Context", `{"custom":{"a":"b"}}`,
		"Lambda-Runtime-Cognito-Identity", `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
		"Lambda-Runtime-Aws-Tenant-Id", "tenant-7",
		"Lambda-Runtime-Added-Later", "one",
		"Lambda-Runtime-Added-Later", "two")
	resp, body := get(t, url+"/2018-06-01/runtime/invocation/next")
	got := resp.Header.Clone()
	for _, h := range []string{"Date", "Content-Length"} {
		got.Del(h)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers of next (-real +proxied):\n%s", diff)
	}
	if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %s for %d bytes", resp.Header.Get("Content-Length"), len(body))
	}
	if !strings.Contains(string(body), canary) {
		t.Errorf("the runtime did not get the plaintext: %s", body)
	}
	// Answer, so that the invocation ends.
	post(t, url+"/2018-06-01/runtime/invocation/req-1/response", body)
	p := s.next(t)
	leaktest.Check(t, "response", string(p.body), canary)
	leaktest.Check(t, "log", logs.String(), canary)
}

// TestErrorReports plays the error reports of the Node.js and Python
// runtime clients: only errorType and the sealed message go on; the trace,
// the stack trace and the X-Ray error cause do not.
func TestErrorReports(t *testing.T) {
	c := localCodec(t)
	cases := []struct {
		name, body, wantType, wantMessage string
		hdr                               []string
	}{
		{
			name:        "Node.js",
			body:        `{"errorType":"PaymentDeclined","errorMessage":"payment declined for ` + canary + `","trace":["PaymentDeclined: payment declined for ` + canary + `","    at Runtime.handler (file:///var/task/index.mjs:12:11)"]}`,
			wantType:    "PaymentDeclined",
			wantMessage: "payment declined for " + canary,
			hdr: []string{"Lambda-Runtime-Function-Error-Type", "PaymentDeclined",
				"Lambda-Runtime-Function-XRay-Error-Cause", `{"working_directory":"/var/task","exceptions":[{"type":"PaymentDeclined","message":"payment declined for ` + canary + `"}],"paths":[]}`},
		},
		{
			name:        "Python",
			body:        `{"errorMessage": "invalid ssn ` + canary + `", "errorType": "ValueError", "requestId": "req-1", "stackTrace": ["  File \"/var/task/app.py\", line 7, in handler\n    raise ValueError(\"invalid ssn \" + ssn)\n"]}`,
			wantType:    "ValueError",
			wantMessage: "invalid ssn " + canary,
			hdr:         []string{"Lambda-Runtime-Function-Error-Type", "Runtime.Unknown", "Content-Type", "application/json"},
		},
		{
			name:        "not JSON",
			body:        `it broke on ` + canary,
			wantType:    "Custom.Failure",
			wantMessage: `it broke on ` + canary,
			hdr:         []string{"Lambda-Runtime-Function-Error-Type", "Custom.Failure"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStandIn(t)
			logs := new(launch.Buffer)
			url, _ := proxied(t, s, logs)
			s.push("req-1", encrypted(t))
			get(t, url+"/2018-06-01/runtime/invocation/next")
			resp, _ := post(t, url+"/2018-06-01/runtime/invocation/req-1/error", []byte(tc.body), tc.hdr...)
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("the runtime got HTTP %d, want the Runtime API's 202", resp.StatusCode)
			}
			p := s.next(t)
			if p.path != "/2018-06-01/runtime/invocation/req-1/error" {
				t.Fatalf("posted to %s", p.path)
			}
			var got map[string]string
			if err := json.Unmarshal(p.body, &got); err != nil {
				t.Fatalf("error report %s: %v", p.body, err)
			}
			if diff := cmp.Diff([]string{"errorMessage", "errorType"}, slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			})); diff != "" {
				t.Errorf("members of the error report (-want +got):\n%s", diff)
			}
			if got["errorType"] != tc.wantType {
				t.Errorf("errorType = %q, want %q", got["errorType"], tc.wantType)
			}
			msg, err := c.Decrypt(context.Background(), []byte(strconv.Quote(got["errorMessage"])))
			if err != nil {
				t.Fatalf("the message is not a token: %v", err)
			}
			if want := strconv.Quote(tc.wantMessage); string(msg) != want {
				t.Errorf("sealed message = %s, want %s", msg, want)
			}
			if v := p.header.Get("Lambda-Runtime-Function-XRay-Error-Cause"); v != "" {
				t.Errorf("the X-Ray error cause went on: %s", v)
			}
			if v := p.header.Get("Lambda-Runtime-Function-Error-Type"); v != tc.wantType {
				t.Errorf("error type header = %q, want %q", v, tc.wantType)
			}
			leaktest.Check(t, "error report", string(p.body)+fmtHeader(p.header), canary)
			leaktest.Check(t, "log", logs.String(), canary)
		})
	}
}

func fmtHeader(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b)
	return b.String()
}

// TestStreamingRefused: a streamed response cannot be sealed; the proxy
// reports an error instead, and nothing of the stream goes on.
func TestStreamingRefused(t *testing.T) {
	s := newStandIn(t)
	logs := new(launch.Buffer)
	url, _ := proxied(t, s, logs)
	s.push("req-1", encrypted(t))
	_, plain := get(t, url+"/2018-06-01/runtime/invocation/next")
	post(t, url+"/2018-06-01/runtime/invocation/req-1/response", plain,
		"Lambda-Runtime-Function-Response-Mode", "streaming", "Content-Type", "application/vnd.awslambda.http-integration-response")
	p := s.next(t)
	if p.path != "/2018-06-01/runtime/invocation/req-1/error" {
		t.Fatalf("posted to %s, want the error", p.path)
	}
	var got map[string]string
	if err := json.Unmarshal(p.body, &got); err != nil {
		t.Fatal(err)
	}
	if got["errorType"] != lambdamw.ErrorTypeEncrypt || !strings.Contains(got["errorMessage"], "streaming is not supported") {
		t.Errorf("error report = %s", p.body)
	}
	leaktest.Check(t, "everything posted", string(p.body), canary)
	leaktest.Check(t, "log", logs.String(), canary)
}

// TestAnswerForUnknownInvocation: an answer for a request id the proxy did
// not hand out (or answered already) does not go on.
func TestAnswerForUnknownInvocation(t *testing.T) {
	s := newStandIn(t)
	url, _ := proxied(t, s, new(launch.Buffer))
	for _, kind := range []string{"response", "error"} {
		resp, _ := post(t, url+"/2018-06-01/runtime/invocation/forged/"+kind, []byte(`{"ssn":"`+canary+`"}`))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", kind, resp.StatusCode)
		}
	}
	// A second answer for one invocation.
	s.push("req-1", encrypted(t))
	_, plain := get(t, url+"/2018-06-01/runtime/invocation/next")
	post(t, url+"/2018-06-01/runtime/invocation/req-1/response", plain)
	s.next(t)
	if resp, _ := post(t, url+"/2018-06-01/runtime/invocation/req-1/response", plain); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second answer: HTTP %d, want 400", resp.StatusCode)
	}
	// Paths the Runtime API might read as an answer, spelled otherwise.
	s.push("req-2", encrypted(t))
	_, plain = get(t, url+"/2018-06-01/runtime/invocation/next")
	for _, p := range []string{
		"/2018-06-01/runtime/invocation/req-2/response/",
		"/2018-06-01/runtime/invocation/req-2/response/x",
		"/2018-06-01/runtime/invocation/req-2//response",
		"/2018-06-01/runtime/invocation/req-2/./response",
		"/2018-06-01/runtime/invocation/x/../req-2/response",
		"/2018-06-01/runtime/invocation/req-2%2Fresponse",
		"/2018-06-01//runtime/invocation/req-2/response",
		"/2018-06-01/runtime/invocation/req-2/Response",
	} {
		if resp, _ := post(t, url+p, plain); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", p, resp.StatusCode)
		}
	}
	if n := len(s.all()); n != 1 {
		t.Errorf("%d requests went on, want 1", n)
	}
	for _, p := range s.all() {
		leaktest.Check(t, "what went on", string(p.body), canary)
	}
}

// TestInitErrorPassesThrough: an init error goes on as it came.
func TestInitErrorPassesThrough(t *testing.T) {
	s := newStandIn(t)
	url, _ := proxied(t, s, new(launch.Buffer))
	body := `{"errorMessage":"Cannot find module 'index'","errorType":"Runtime.ImportModuleError","stackTrace":["Error: Cannot find module 'index'"]}`
	resp, _ := post(t, url+"/2018-06-01/runtime/init/error", []byte(body), "Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError")
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("HTTP %d, want 202", resp.StatusCode)
	}
	p := s.next(t)
	if p.path != "/2018-06-01/runtime/init/error" || string(p.body) != body || p.header.Get("Lambda-Runtime-Function-Error-Type") != "Runtime.ImportModuleError" {
		t.Errorf("init error went on as %s %s %v", p.path, p.body, p.header)
	}
}

// TestConcurrentInvocations: several runtimes' next at once (Lambda
// Managed Instances), answered out of order, each with its own result.
func TestConcurrentInvocations(t *testing.T) {
	s := newStandIn(t)
	url, _ := proxied(t, s, new(launch.Buffer))
	c := localCodec(t)
	const n = 8
	for i := range n {
		doc, err := c.Encrypt(context.Background(), []byte(`{"customer":{"name":"N`+strconv.Itoa(i)+`","ssn":"`+canary+strconv.Itoa(i)+`"}}`))
		if err != nil {
			t.Fatal(err)
		}
		s.push("req-"+strconv.Itoa(i), doc)
	}
	type got struct {
		id    string
		plain []byte
	}
	ch := make(chan got, n)
	for range n {
		go func() {
			resp, err := http.Get(url + "/2018-06-01/runtime/invocation/next")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ch <- got{resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), b}
		}()
	}
	var all []got
	for range n {
		all = append(all, <-ch)
	}
	// Answer in reverse order of arrival.
	var wg sync.WaitGroup
	for _, g := range slices.Backward(all) {
		wg.Go(func() { post(t, url+"/2018-06-01/runtime/invocation/"+g.id+"/response", g.plain) })
	}
	wg.Wait()
	posts := s.all()
	if len(posts) != n {
		t.Fatalf("%d results went on, want %d", len(posts), n)
	}
	for _, p := range posts {
		id := strings.TrimSuffix(strings.TrimPrefix(p.path, "/2018-06-01/runtime/invocation/req-"), "/response")
		plain, err := c.Decrypt(context.Background(), p.body)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(plain), `"ssn":"`+canary+id+`"`) {
			t.Errorf("invocation %s got %s", id, plain)
		}
		leaktest.Check(t, "result", string(p.body), canary)
	}
}
