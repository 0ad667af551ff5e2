package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sfnenc/sfnenc/codec"
)

// lockedBuffer is a buffer the command writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var viewURL = regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/[A-Za-z0-9_-]{22,}/(\?launch=[A-Za-z0-9_-]{22})?\n$`)

// startView runs "sfn-decrypt view" in-process until the test ends and
// returns the URL it printed. At the end it checks that stdout held the URL
// alone and that stderr holds no canary.
func startView(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	return startViewWith(t, "", getenv, args...)
}

// startViewWith is startView with stdin.
func startViewWith(t *testing.T, stdin string, getenv func(string) string, args ...string) string {
	t.Helper()
	url, _ := startViewStderr(t, stdin, getenv, args...)
	return url
}

// startViewStderr is startViewWith that also returns the command's stderr.
func startViewStderr(t *testing.T, stdin string, getenv func(string) string, args ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	if getenv == nil {
		getenv = os.Getenv
	}
	e := &env{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, getenv: getenv, ctx: ctx}
	done := make(chan int, 1)
	go func() { done <- cmdView(e, append([]string{"--reason", "TEST-17 view"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("view exited %d; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("view did not stop when its context ended")
		}
		if !viewURL.MatchString(stdout.String()) {
			t.Errorf("stdout holds more than the URL:\n%q", stdout.String())
		}
		assertNoCanary(t, "stderr", stderr.String())
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("view exited %d before serving; stderr:\n%s", code, stderr.String())
		default:
		}
		if s := stdout.String(); strings.HasSuffix(s, "\n") {
			if !viewURL.MatchString(s) {
				t.Fatalf("stdout is not the URL: %q", s)
			}
			return strings.TrimSpace(s), &stderr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no URL on stdout; stderr:\n%s", stderr.String())
	return "", nil
}

// chromium is the browser the tests drive.
const chromium = "/usr/bin/chromium"

// newBrowser starts a headless Chromium for the test. Without one the test
// is skipped, except in CI (CI=true), where it fails.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests start Chromium: not with -short")
	}
	path := chromium
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s: CI must install it (apt-get install chromium)", chromium)
		} else {
			t.Skipf("no Chromium at %s: install the Debian package chromium to run the browser tests", chromium)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// The browser lives as long as ctx; the test's actions are bounded by
	// a context derived from it once it runs.
	tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelT)
	return tctx
}

// load opens the page and waits until its script has rendered the data.
func load(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// eval evaluates a script expression in the page into *v.
func eval[T any](t *testing.T, ctx context.Context, expr string, v *T) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	*v = got
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	eval(t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s)
	return s
}

func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	var n int
	eval(t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n
}

// marks lists the marks in the detail panel as "decrypted CLASS" or
// "denied CLASS: TEXT".
func marks(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var out []string
	eval(t, ctx, `[...document.querySelectorAll("#detail .mark")].map(m => (m.classList.contains("decrypted") ? "decrypted " : "denied ") + m.dataset.class + (m.classList.contains("denied") ? ": " + m.textContent : ""))`, &out)
	return out
}

func hasMark(ms []string, prefix string) bool {
	for _, m := range ms {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// ordersDefinition is the state machine of the orders fixture, with a state
// that its execution did not reach.
const ordersDefinition = `{"StartAt":"Normalize","States":{
 "Normalize":{"Type":"Pass","Next":"Charge"},
 "Charge":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Next":"IsVip","Catch":[{"ErrorEquals":["States.ALL"],"Next":"ChargeFailed"}]},
 "ChargeFailed":{"Type":"Fail","Error":"Charge"},
 "IsVip":{"Type":"Choice","Choices":[{"Variable":"$.vip","BooleanEquals":true,"Next":"Notify"}],"Default":"Notify"},
 "Notify":{"Type":"Parallel","Next":"ShipItems","Branches":[
   {"StartAt":"FraudCheck","States":{"FraudCheck":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","End":true}}},
   {"StartAt":"Audit","States":{"Audit":{"Type":"Pass","End":true}}}]},
 "ShipItems":{"Type":"Map","Next":"Cooldown","ItemProcessor":{"StartAt":"Ship","States":{
   "Ship":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Backorder"}],"End":true},
   "Backorder":{"Type":"Pass","End":true}}}},
 "Cooldown":{"Type":"Wait","Seconds":5,"Next":"Done"},
 "Done":{"Type":"Succeed"}}}`

// TestViewBrowser loads the page of golden histories and logs in a real
// headless Chromium, from each source, and checks what a reader sees.
func TestViewBrowser(t *testing.T) {
	ctx := newBrowser(t)

	t.Run("history file, denied", func(t *testing.T) {
		url := startView(t, nil, "--config", fixture("config.json"), fixture("denied.encrypted.json"))
		load(t, ctx, url)
		click(t, ctx, `g.node[data-state="Enrich"]`)
		detail := text(t, ctx, "#detail")
		if !strings.Contains(detail, `"email": "eve@example.com"`) {
			t.Errorf("the state's input is not shown decrypted:\n%s", detail)
		}
		ms := marks(t, ctx)
		for _, want := range []string{"decrypted contact", "denied identity: not decrypted · class identity: failed authentication", "denied partner: not decrypted · class partner: no rule for this class in the configuration"} {
			if !hasMark(ms, want) {
				t.Errorf("no mark %q among %q", want, ms)
			}
		}
		if count(t, ctx, "#diff .add") == 0 || count(t, ctx, "#diff .del") == 0 {
			t.Errorf("no diff of output against input: %q", text(t, ctx, "#diff"))
		}
		// The execution's input: ssn decrypted (identity), vault not.
		click(t, ctx, `#timeline li[data-event="1"] button`)
		ms = marks(t, ctx)
		if !hasMark(ms, "decrypted identity") || !hasMark(ms, "denied vault: not decrypted · class vault: no rule for this class") {
			t.Errorf("event 1 marks: %q", ms)
		}
		if d := text(t, ctx, "#detail"); !strings.Contains(d, `"ssn": "078-05-1120"`) {
			t.Errorf("event 1 not decrypted:\n%s", d)
		}
		var outcome string
		eval(t, ctx, `document.querySelector('g.node[data-state="Enrich"]').dataset.outcome`, &outcome)
		if outcome != "succeeded" { // the execution failed after it
			t.Errorf("Enrich is %q, want succeeded", outcome)
		}
	})

	t.Run("history API, definition, Map and Parallel", func(t *testing.T) {
		srv := startSFN(t, recording{Histories: map[string]recordedHistory{
			execARN: {File: "orders.encrypted.json", PageSize: 7, Status: "SUCCEEDED", Definition: ordersDefinition},
		}}, historyDir)
		awsTestEnv(t, "AWS_ENDPOINT_URL_SFN="+srv.URL)
		url := startView(t, nil, "--config", fixture("config.json"), "--execution-arn", execARN)
		load(t, ctx, url)
		ops := map[string]bool{}
		for _, r := range srv.Requests() {
			ops[r.Op] = true
			if !strings.Contains(r.UserAgent, " app/TEST-17-view") {
				t.Errorf("%s: User-Agent %q lacks the reason", r.Op, r.UserAgent)
			}
		}
		for _, op := range []string{"GetExecutionHistory", "DescribeExecution", "DescribeStateMachineForExecution"} {
			if !ops[op] {
				t.Errorf("no %s request: %v", op, srv.Requests())
			}
		}
		outcomes := map[string]string{}
		eval(t, ctx, `Object.fromEntries([...document.querySelectorAll("g.node")].map(n => [n.dataset.state, n.dataset.outcome]))`, &outcomes)
		want := map[string]string{"Normalize": "succeeded", "Charge": "retried", "ChargeFailed": "notreached", "IsVip": "succeeded",
			"Notify": "succeeded", "ShipItems": "succeeded", "Cooldown": "succeeded", "Done": "succeeded"}
		for k, v := range want {
			if outcomes[k] != v {
				t.Errorf("state %s is %q, want %q (all: %v)", k, outcomes[k], v, outcomes)
			}
		}
		// Open the Map's second iteration, where Ship failed and was caught.
		click(t, ctx, `g.node[data-state="ShipItems"]`)
		if n := count(t, ctx, "#scopes .open-scope"); n != 2 {
			t.Fatalf("%d iterations listed, want 2", n)
		}
		var second string
		eval(t, ctx, `document.querySelectorAll("#scopes .open-scope")[1].dataset.scope`, &second)
		click(t, ctx, fmt.Sprintf(`#scopes .open-scope[data-scope="%s"]`, second))
		outcomes = map[string]string{}
		eval(t, ctx, `Object.fromEntries([...document.querySelectorAll("g.node")].map(n => [n.dataset.state, n.dataset.outcome]))`, &outcomes)
		if outcomes["Ship"] != "caught" || outcomes["Backorder"] != "succeeded" {
			t.Errorf("iteration 1 outcomes %v, want Ship caught, Backorder succeeded", outcomes)
		}
		// A Parallel branch opens too.
		click(t, ctx, `nav#crumbs button`)
		click(t, ctx, `g.node[data-state="Notify"]`)
		if n := count(t, ctx, "#scopes .open-scope"); n != 2 {
			t.Fatalf("%d branches listed, want 2", n)
		}
		click(t, ctx, `#scopes .open-scope`)
		if n := count(t, ctx, "g.node"); n != 1 {
			t.Errorf("a branch shows %d states, want 1", n)
		}
		// The search box finds a decrypted value across events and scopes.
		click(t, ctx, `nav#crumbs button`)
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#search"), "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		if n := count(t, ctx, "#search-results li"); n == 0 {
			t.Errorf("search found nothing: %s", text(t, ctx, "#results"))
		}
	})

	t.Run("logs file, Express", func(t *testing.T) {
		url := startView(t, nil, "--config", logFixture("config.json"), logFixture("express.encrypted.json"))
		load(t, ctx, url)
		if n := count(t, ctx, "#execution option"); n != 2 {
			t.Errorf("%d executions to choose from, want 2", n)
		}
		checkDecryptedSomewhere(t, ctx)
	})

	t.Run("logs API, Express", func(t *testing.T) {
		srv := startLogs(t, logsRecording{Groups: map[string]recordedGroup{
			logGroup: {File: "express.encrypted.json", PageSize: 5},
		}}, logsDir)
		awsTestEnv(t, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="+srv.URL)
		url := startView(t, nil, "--config", logFixture("config.json"), "--log-group", logGroup, "--execution-arn", expressA)
		load(t, ctx, url)
		for _, r := range srv.Requests() {
			if !strings.Contains(r.UserAgent, " app/TEST-17-view") {
				t.Errorf("User-Agent %q lacks the reason", r.UserAgent)
			}
		}
		if n := count(t, ctx, "#execution option"); n != 0 {
			t.Errorf("%d executions to choose from, want one execution", n)
		}
		checkDecryptedSomewhere(t, ctx)
	})

	t.Run("no secret, no page", func(t *testing.T) {
		url := startView(t, nil, "--config", fixture("config.json"), fixture("orders.encrypted.json"))
		base := url[:strings.Index(url[len("http://"):], "/")+len("http://")]
		for _, u := range []string{base + "/", base + "/app.js", base + "/data.json", base + "/x" + url[len(base)+2:], base + "/" + url[len(base)+1:len(url)-2] + "/"} {
			// Start from a blank page: a navigation that fails can leave
			// the previous document in place, which may be a page of view.
			if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
				t.Fatal(err)
			}
			// Chromium ends the navigation to an empty error page with
			// ERR_HTTP_RESPONSE_CODE_FAILURE.
			if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil && !strings.Contains(err.Error(), "ERR_HTTP_RESPONSE_CODE_FAILURE") {
				t.Fatal(err)
			}
			// What shows is Chromium's own error page, if anything.
			var body string
			eval(t, ctx, `document.documentElement ? document.documentElement.innerText : ""`, &body)
			if strings.Contains(body, "sfn-decrypt") || strings.Contains(body, "sfnenc") || count(t, ctx, "#graph, #timeline") != 0 {
				t.Errorf("%s shows the page: %q", u, body)
			}
			assertNoCanary(t, u, body)
		}
	})
}

// checkDecryptedSomewhere clicks through the events until one shows a
// decrypted value with its class.
func checkDecryptedSomewhere(t *testing.T, ctx context.Context) {
	t.Helper()
	var ids []string
	eval(t, ctx, `[...document.querySelectorAll("#timeline li")].map(l => l.dataset.event)`, &ids)
	for _, id := range ids {
		click(t, ctx, fmt.Sprintf(`#timeline li[data-event="%s"] button`, id))
		if hasMark(marks(t, ctx), "decrypted ") {
			d := text(t, ctx, "#detail")
			assertAnyCanary(t, d)
			return
		}
	}
	t.Errorf("no event shows a decrypted value")
}

// assertAnyCanary checks that the page shows a fixture's plaintext.
func assertAnyCanary(t *testing.T, s string) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(s, c) {
			return
		}
	}
	t.Errorf("no plaintext value shown:\n%s", s)
}

// TestViewRefuses plays the attacker at the server: no secret, another
// site's Host (DNS rebinding) or Origin, other methods. Every response,
// refused or not, carries the security headers.
func TestViewRefuses(t *testing.T) {
	url := startView(t, nil, "--config", fixture("config.json"), fixture("orders.encrypted.json"))
	i := strings.Index(url[len("http://"):], "/") + len("http://")
	base, path := url[:i], url[i:]
	host := base[len("http://"):]
	tests := []struct {
		name, method, url, host, origin, site string
		code                                  int
	}{
		{name: "page", url: url, code: 200},
		{name: "data, same origin", url: url + "data.json", origin: base, site: "same-origin", code: 200},
		{name: "no secret", url: base + "/", code: 404},
		{name: "no secret, data", url: base + "/data.json", code: 404},
		{name: "wrong secret", url: base + "/AAAAAAAAAAAAAAAAAAAAAA/", code: 404},
		{name: "secret without slash", url: strings.TrimSuffix(url, "/"), code: 404},
		{name: "secret as a prefix", url: base + path[:len(path)-1] + "x/", code: 404},
		{name: "rebinding Host", url: url + "data.json", host: "attacker.example:" + host[strings.LastIndexByte(host, ':')+1:], code: 421},
		{name: "foreign Origin", url: url + "data.json", origin: "http://attacker.example", code: 403},
		{name: "cross-site fetch", url: url + "data.json", site: "cross-site", code: 403},
		{name: "POST", method: "POST", url: url + "data.json", code: 405},
		{name: "unknown file", url: url + "../../etc/passwd", code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, tt.url, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.site != "" {
				req.Header.Set("Sec-Fetch-Site", tt.site)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.code != 200 && len(body) != 0 {
				t.Errorf("refused with a body: %q", body)
			}
			if tt.name == "page" {
				// No inline script, and nothing from elsewhere.
				for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(body), -1) {
					if tag != `<script src="app.js" defer>` {
						t.Errorf("script tag %s", tag)
					}
				}
				if regexp.MustCompile(`(src|href)="(https?:)?//`).Match(body) {
					t.Errorf("the page loads from elsewhere:\n%s", body)
				}
			}
			for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline script or eval: %q", csp)
			}
		})
	}
}

// TestViewUsage checks the flag rules, among them that only loopback
// addresses are served.
func TestViewUsage(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--listen", "0.0.0.0:0", fixture("orders.encrypted.json")}, "not loopback"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--listen", "192.0.2.1:8080", fixture("orders.encrypted.json")}, "not loopback"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--listen", ":8080", fixture("orders.encrypted.json")}, "not loopback"},
		{[]string{"--config", fixture("config.json"), fixture("orders.encrypted.json")}, "--reason is required"},
		{[]string{"--reason", "x", "--config", fixture("config.json")}, "view needs --execution-arn"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--log-group", "g", fixture("orders.encrypted.json")}, "--log-group needs --execution-arn"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--definition", "d.json", "--execution-arn", execARN}, "--definition goes with a FILE"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--event", "3", "--state", "Enrich", fixture("orders.encrypted.json")}, "give --event or --state"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--event", "999", fixture("orders.encrypted.json")}, "the execution has no event 999"},
		{[]string{"--reason", "x", "--config", fixture("config.json"), "--state", "NoSuchState", fixture("orders.encrypted.json")}, `the execution has no state "NoSuchState"`},
	} {
		_, stderr, code := runCmd(t, "", append([]string{"view"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("view %q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.stderr)
		}
	}
}

// TestViewOpen checks that --open starts $BROWSER with the URL (a script
// that records its argument stands in for the browser).
func TestViewOpen(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "opened")
	browser := filepath.Join(dir, "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+got+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "BROWSER" {
			return browser
		}
		return os.Getenv(k)
	}
	url := startView(t, getenv, "--open", "--config", fixture("config.json"), fixture("orders.encrypted.json"))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(got); err == nil && strings.TrimSpace(string(b)) == url {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(got)
	t.Errorf("the browser was given %q, want %q", b, url)
}

// hostile strings that an execution's data may hold to attack the page.
var hostile = []string{
	`</script><script>window.__pwned=1</script>`,
	`<img src=x onerror="window.__pwned=1">`,
	`"'><svg onload=window.__pwned=1>`,
	"control \x00\x01\x1b[31m\u2028\u2029 chars",
	`not decrypted · class identity: KMS denied access to the key`,
	`decrypted · identity`,
}

// TestViewHostile shows an execution whose data, state names, error and
// file name are built to attack the page: each must show as text, run
// nothing, load nothing and make no mark of its own.
func TestViewHostile(t *testing.T) {
	ctx := newBrowser(t)
	cfg, err := codec.LoadConfig(fixture("config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(map[string]any{"email": hostile[1], "notes": hostile})
	enc, err := cd.Encrypt(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	state := hostile[1]
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	events := []map[string]any{
		{"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2024-05-07T14:00:00.100000+00:00",
			"executionStartedEventDetails": map[string]any{"input": str(string(enc))}},
		{"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "timestamp": "2024-05-07T14:00:00.200000+00:00",
			"stateEnteredEventDetails": map[string]any{"name": state, "input": str(string(enc))}},
		{"id": 3, "previousEventId": 2, "type": "TaskStateExited", "timestamp": "2024-05-07T14:00:00.300000+00:00",
			"stateExitedEventDetails": map[string]any{"name": state, "output": str(`{"x":` + string(str(hostile[0])) + `}`)}},
		{"id": 4, "previousEventId": 3, "type": "ExecutionFailed", "timestamp": "2024-05-07T14:00:00.400000+00:00",
			"executionFailedEventDetails": map[string]any{"error": hostile[2], "cause": hostile[0] + hostile[4]}},
	}
	doc, _ := json.Marshal(map[string]any{"events": events})
	dir := t.TempDir()
	file := filepath.Join(dir, `"><img src=x onerror=window.__pwned=1>.json`)
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	url := startView(t, nil, "--config", fixture("config.json"), file)
	load(t, ctx, url)
	click(t, ctx, `g.node`)
	detail := text(t, ctx, "#detail")
	for _, want := range []string{`"email": "<img src=x onerror=\"window.__pwned=1\">"`, `window.__pwned=1</script>`} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail does not show %q as text:\n%s", want, detail)
		}
	}
	// One token in the state's input; the fake marks in the data are
	// text, not marks.
	if ms := marks(t, ctx); len(ms) != 1 || ms[0] != "decrypted contact" {
		t.Errorf("marks %q, want the one decrypted contact mark", ms)
	}
	click(t, ctx, `#timeline li[data-event="4"] button`)
	var state2 string
	eval(t, ctx, `document.querySelector("g.node").dataset.state`, &state2)
	if state2 != state {
		t.Errorf("state name %q, want %q", state2, state)
	}
	var pwned, imgs, scripts int
	eval(t, ctx, `window.__pwned ? 1 : 0`, &pwned)
	eval(t, ctx, `document.querySelectorAll("img, svg image, iframe, object, embed").length + document.querySelectorAll("body svg:not(#graph svg)").length`, &imgs)
	eval(t, ctx, `document.querySelectorAll("script").length`, &scripts)
	if pwned != 0 || imgs != 0 || scripts != 1 {
		t.Errorf("hostile data ran or made elements: pwned %d, images %d, scripts %d", pwned, imgs, scripts)
	}
	var title string
	eval(t, ctx, `document.title`, &title)
	if !strings.Contains(title, `"><img src=x onerror=window.__pwned=1>.json`) {
		t.Errorf("title %q does not hold the file name as text", title)
	}
}

// viewDir holds the identity-verification example's rejection path as the
// demo recorded it (decrypted: identity-rejection.json) and a configuration
// of the example's classes over the insecure test keyset.
const viewDir = "testdata/view"

// encryptHistory encrypts the data fields of a plaintext history by the
// configuration cfg, as the example's functions and backend would.
func encryptHistory(t *testing.T, cfgPath string, src []byte) []byte {
	t.Helper()
	cfg, err := codec.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	for _, ev := range doc.Events {
		for k, raw := range ev {
			if !strings.HasSuffix(k, "EventDetails") {
				continue
			}
			var det map[string]json.RawMessage
			if err := json.Unmarshal(raw, &det); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"input", "output", "parameters"} {
				var s string
				if json.Unmarshal(det[f], &s) != nil || !json.Valid([]byte(s)) {
					continue
				}
				enc, err := cd.Encrypt(context.Background(), []byte(s))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				det[f], _ = json.Marshal(string(enc))
			}
			ev[k], _ = json.Marshal(det)
		}
	}
	out, _ := json.Marshal(doc)
	return out
}

// TestViewIdentityRejection shows the example's rejection path, with its
// definition, to a reader who may decrypt the contact and session classes
// only (as a support engineer who writes to the applicant). With
// -update it saves the screenshot the README shows (docs/view.png).
func TestViewIdentityRejection(t *testing.T) {
	ctx := newBrowser(t)
	src := readFile(t, filepath.Join(viewDir, "identity-rejection.json"))
	enc := encryptHistory(t, filepath.Join(viewDir, "config.json"), src)
	if bytes.Contains(enc, []byte("Annelise")) || !bytes.Contains(enc, []byte("sfnenc:")) {
		t.Fatal("the history is not encrypted")
	}
	file := filepath.Join(t.TempDir(), "APP-2026-0044.history.json")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	url := startView(t, nil, "--config", filepath.Join(viewDir, "config.json"), "--class", "contact", "--class", "session",
		"--definition", "../../examples/identity-verification/statemachine/identity-verification.asl.json", file)
	load(t, ctx, url)
	outcomes := map[string]string{}
	eval(t, ctx, `Object.fromEntries([...document.querySelectorAll("g.node")].map(n => [n.dataset.state, n.dataset.outcome]))`, &outcomes)
	for state, want := range map[string]string{"RequestIdentification": "succeeded", "SendRejectionEmail": "succeeded", "Rejected": "succeeded",
		"ContinueValidation": "notreached", "Approved": "notreached", "VerificationFailed": "notreached"} {
		if outcomes[state] != want {
			t.Errorf("state %s is %q, want %q", state, outcomes[state], want)
		}
	}
	click(t, ctx, `g.node[data-state="SendRejectionEmail"]`)
	detail := text(t, ctx, "#detail")
	if !strings.Contains(detail, `"email": "applicant.2.oyelaran@example.org"`) {
		t.Errorf("the contact class is not shown decrypted:\n%s", detail)
	}
	if strings.Contains(detail, "Annelise") {
		t.Errorf("the identity or verification class is shown decrypted without --class")
	}
	ms := marks(t, ctx)
	if !hasMark(ms, "decrypted contact") || !hasMark(ms, "denied identity: not decrypted · class identity: class not selected (--class)") {
		t.Errorf("marks %q", ms)
	}
	if count(t, ctx, "#diff .add") == 0 {
		t.Errorf("no diff of the state's output against its input")
	}
	if !*update {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("../../docs/view.png", png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestViewStdin reads the history from standard input ("-") and checks the
// page's data: decrypted values, each with its class.
func TestViewStdin(t *testing.T) {
	url := startViewWith(t, string(readFile(t, fixture("orders.encrypted.json"))), nil, "--config", fixture("config.json"), "-")
	resp, err := http.Get(url + "data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Title      string `json:"title"`
		Executions []struct {
			Events []struct {
				Fields []struct {
					Text  string `json:"text"`
					Marks []struct {
						Class     string `json:"class"`
						Decrypted bool   `json:"decrypted"`
					} `json:"marks"`
				} `json:"fields"`
			} `json:"events"`
		} `json:"executions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	classes := map[string]bool{}
	shown := false
	for _, e := range p.Executions[0].Events {
		for _, f := range e.Fields {
			shown = shown || strings.Contains(f.Text, "ada@example.com")
			for _, m := range f.Marks {
				if !m.Decrypted {
					t.Errorf("a token of class %s not decrypted", m.Class)
				}
				classes[m.Class] = true
			}
		}
	}
	if p.Title != "(stdin)" || !shown || !classes["contact"] || !classes["identity"] || !classes["payment"] {
		t.Errorf("title %q, plaintext shown %v, classes %v", p.Title, shown, classes)
	}
}

// TestViewReopen checks what the page opens on and the command line it
// gives to reopen it: by default the execution's input and output, with
// --event an event, with --state a state; and a state name built to run a
// command when the command line is pasted into a shell is quoted so that a
// real shell reads it back as the name, running nothing.
func TestViewReopen(t *testing.T) {
	ctx := newBrowser(t)
	file := fixture("denied.encrypted.json")
	base := "sfn-decrypt view --config " + fixture("config.json") + " --reason 'TEST-17 view' " + file
	command := func() string { return text(t, ctx, "#command") }

	t.Run("the execution", func(t *testing.T) {
		load(t, ctx, startView(t, nil, "--config", fixture("config.json"), file))
		var open string
		eval(t, ctx, `document.getElementById("detail").dataset.open || ""`, &open)
		detail := text(t, ctx, "#detail")
		if open != "execution" || !strings.Contains(detail, "Input") || !strings.Contains(detail, `"ssn": "078-05-1120"`) {
			t.Errorf("the page does not open on the execution's input (%q):\n%s", open, detail)
		}
		if got := command(); got != base {
			t.Errorf("command %q, want %q", got, base)
		}
		click(t, ctx, `#timeline li[data-event="1"] button`)
		if got := command(); got != base+" --event 1" {
			t.Errorf("after a click on event 1: command %q", got)
		}
	})

	t.Run("--event", func(t *testing.T) {
		load(t, ctx, startView(t, nil, "--config", fixture("config.json"), "--event", "1", file))
		if d := text(t, ctx, "#detail"); !strings.Contains(d, "Event 1: ExecutionStarted") {
			t.Errorf("the page does not open on event 1:\n%s", d)
		}
		if got := command(); got != base+" --event 1" {
			t.Errorf("command %q", got)
		}
	})

	t.Run("--state with a hostile name", func(t *testing.T) {
		dir := t.TempDir()
		marker := filepath.Join(dir, "pwned")
		state := "x'; touch " + marker + "; echo '$(touch " + marker + ")`touch " + marker + "`"
		str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
		events := []map[string]any{
			{"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2024-05-07T14:00:00.100000+00:00",
				"executionStartedEventDetails": map[string]any{"input": str(`{"a":1}`)}},
			{"id": 2, "previousEventId": 1, "type": "PassStateEntered", "timestamp": "2024-05-07T14:00:00.200000+00:00",
				"stateEnteredEventDetails": map[string]any{"name": state, "input": str(`{"a":1}`)}},
			{"id": 3, "previousEventId": 2, "type": "PassStateExited", "timestamp": "2024-05-07T14:00:00.300000+00:00",
				"stateExitedEventDetails": map[string]any{"name": state, "output": str(`{"a":2}`)}},
		}
		doc, _ := json.Marshal(map[string]any{"events": events})
		hfile := filepath.Join(dir, "it's a history.json")
		if err := os.WriteFile(hfile, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, startView(t, nil, "--config", fixture("config.json"), "--state", state, hfile))
		if title := text(t, ctx, "#detail-title"); !strings.HasPrefix(title, state) {
			t.Errorf("the page does not open on the state: %q", title)
		}
		got := command()
		// A real shell reads the words back: printf stands in for
		// sfn-decrypt.
		out, err := exec.Command("sh", "-c", "printf '%s\\n' "+strings.TrimPrefix(got, "sfn-decrypt ")).Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", got, err)
		}
		words := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if n := len(words); n < 3 || words[n-3] != hfile || words[n-2] != "--state" || words[n-1] != state {
			t.Errorf("the shell read %q from %q", words, got)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("pasting the command ran a command of the state name: %q", got)
		}
	})
}
