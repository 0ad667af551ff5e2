package identityverification_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/examples/identity-verification/backend"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/localsfn"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/stack"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/leaktest"
	"github.com/sfnenc/sfnenc/internal/noderic"
	"github.com/sfnenc/sfnenc/internal/testbin"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// harness returns the Node harness, or skips the test when node or its npm
// packages are not installed; under CI (CI=true) their absence fails it.
func harness(t *testing.T) localsfn.Harness {
	t.Helper()
	h := localsfn.Harness{Dir: stack.HarnessDir}
	if err := h.Check(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return h
}

// run is what one scenario left behind, for the checks across scenarios.
type run struct {
	scenario stack.Scenario
	exe      *stack.Execution
	hist     *localsfn.History
	tokens   map[string]int // token occurrences by class
	distinct int
}

// TestWorkflowEndToEnd runs the workflow on real components (local-kms,
// the Lambda Runtime Interface Emulator, the aws-local-stepfunctions
// interpreter) through every scenario, and checks that Step Functions only
// ever held tokens for personal data while the third parties got it in
// plaintext, that sfn-decrypt restores the plaintext exactly, and that a
// reader with only the break-glass key reads it with the primary key
// disabled.
func TestWorkflowEndToEnd(t *testing.T) {
	h := harness(t)
	ctx := t.Context()
	begin := time.Now()

	start := time.Now()
	if err := h.Validate(ctx, filepath.Join("statemachine", "identity-verification.asl.json")); err != nil {
		t.Fatal(err)
	}
	t.Logf("asl-validator: valid (%v)", time.Since(start).Round(time.Millisecond))

	cfg, err := codec.LoadConfig(stack.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	kms := kmstest.Start(t)
	for ref, name := range map[string]string{dataKey + ".Arn": "primary", breakGlassKey + ".Arn": "breakglass"} {
		if arn := templateValues(t, cfg)[ref]; arn != kms.KeyARN(name) {
			t.Fatalf("%s names key %s for %s; the test KMS seeds %s", stack.ConfigFile, arn, ref, kms.KeyARN(name))
		}
	}
	rie := testbin.Path(t, "aws-lambda-rie")
	noderic.Path(t) // SendRejectionEmailFunction is a Node.js handler

	// Build the functions (once for the whole test) while sfn-decrypt
	// builds.
	start = time.Now()
	type built struct {
		bins map[string]string
		err  error
	}
	fnDir := t.TempDir()
	fnBuild := make(chan built, 1)
	go func() {
		bins, err := stack.BuildFunctions(ctx, ".", fnDir)
		fnBuild <- built{bins, err}
	}()
	decryptBin := testbin.Build(t, "cmd/sfn-decrypt")
	b := <-fnBuild
	if b.err != nil {
		t.Fatal(b.err)
	}
	bins := b.bins
	t.Logf("build %d functions and sfn-decrypt: %v", len(bins), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	var backendLog localsfn.SyncBuffer
	st, err := stack.Start(ctx, stack.Options{
		ExampleDir:  ".",
		Binaries:    bins,
		Emulator:    rie,
		KMSEndpoint: kms.Endpoint(),
		OutDir:      t.TempDir(),
		Logger:      slog.New(slog.NewJSONHandler(&backendLog, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for id, l := range st.Logs() {
				t.Logf("output of %s:\n%s", id, l)
			}
		}
		st.Close()
	})
	t.Logf("start the stack (%d emulators, harness): %v", len(st.Functions), time.Since(start).Round(time.Millisecond))

	selected := selectedNames(t, cfg)
	canaries := stack.Canaries()
	var runs []*run
	var decryptStderr localsfn.SyncBuffer
	for _, sc := range stack.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			r := runScenario(t, st, sc)
			runs = append(runs, r)
			checkNoLeak(t, "history", r.exe.History, canaries)
			checkNoLeak(t, "execution cause", []byte(r.exe.Cause), canaries)
			checkNoLeak(t, "execution output", []byte(r.exe.Output), canaries)
			r.tokens, r.distinct = checkTokens(t, r.hist, selected)
			checkThirdParties(t, st, sc)
			checkDecryptedHistory(t, st, r, decryptBin, kms.Env(), &decryptStderr)
			if sc.Name == "happy" {
				checkSMSSawToken(t, st, r)
			}
		})
	}
	if t.Failed() {
		return
	}

	// A history reader without kms:Decrypt copies an identity token into
	// a field that a function of the class echoes (CheckCoApplicant
	// returns the co-applicant id), in an application they submit. Before
	// the middleware read by contract, the function decrypted every token
	// and wrote the plaintext into history and to the identity provider.
	t.Run("planted token is not decrypted", func(t *testing.T) {
		victim := stack.Scenarios()[0]
		planted := model.Person{FullName: "Planted Canary-Victim Q.", DateOfBirth: "1911-11-11", NationalID: "QQ 00 11 22 Q"}
		writer, err := codec.New(t.Context(), cfg, codec.WithKMSClients(envelope.KMSClients(kms.Config(t))))
		if err != nil {
			t.Fatal(err)
		}
		pj, _ := json.Marshal(planted)
		tok, err := writer.EncryptValue(t.Context(), "identity", pj)
		if err != nil {
			t.Fatal(err)
		}
		sc := victim
		sc.Name = "planted"
		sc.Application.CreditApplicationID = "APP-2026-0666"
		sc.Application.CoApplicants = slices.Clone(victim.Application.CoApplicants)
		sc.Application.CoApplicants[0].CoApplicantID = tok
		r := runScenario(t, st, sc)
		secrets := []string{planted.FullName, planted.NationalID}
		checkNoLeak(t, "history", r.exe.History, secrets)
		checkNoLeak(t, "execution output", []byte(r.exe.Output), secrets)
		for _, req := range st.Provider.ScreeningRequests() {
			checkNoLeak(t, "screening request", []byte(req.Reference), secrets)
		}
		if !bytes.Contains(r.exe.History, []byte(tok)) {
			t.Error("the planted token did not stay in the history as it was")
		}
		for id, l := range st.Logs() {
			checkNoLeak(t, id+" output", []byte(l), secrets)
		}
	})

	// The KMS figures of the workflow and the operator's reads, before the
	// break-glass reads add theirs.
	kmsFigures := fmt.Sprintf("%d GenerateDataKey, %d Encrypt, %d Decrypt, %d in all",
		kms.Requests("GenerateDataKey"), kms.Requests("Encrypt"), kms.Requests("Decrypt"), kms.Requests(""))
	t.Run("break-glass reader", func(t *testing.T) {
		checkBreakGlassRead(t, st, runs, decryptBin, kms, &decryptStderr)
	})

	t.Run("no personal data in any log", func(t *testing.T) {
		for id, l := range st.Logs() {
			checkNoLeak(t, id+" output", []byte(l), canaries)
		}
		checkNoLeak(t, "backend services' log", []byte(backendLog.String()), canaries)
		checkNoLeak(t, "sfn-decrypt stderr", []byte(decryptStderr.String()), canaries)
	})

	t.Run("functions decrypt only their classes", func(t *testing.T) {
		checkFunctionClasses(t, st)
	})

	t.Run("operator-forged verification result is refused", func(t *testing.T) {
		checkOperatorForgery(t, st, cfg, kms, runs[0].exe.History)
	})

	t.Run("verification result replayed from another application is refused", func(t *testing.T) {
		checkReplayedResult(t, st, runs[0])
	})

	// Figures.
	for _, r := range runs {
		classes := make([]string, 0, len(r.tokens))
		total := 0
		for c, n := range r.tokens {
			classes = append(classes, fmt.Sprintf("%s %d", c, n))
			total += n
		}
		sort.Strings(classes)
		t.Logf("%-17s %-9s %-18s %2d events, %3d token occurrences (%s), %2d distinct tokens, history %6d bytes, %v",
			r.scenario.Name, r.exe.Status, r.scenario.WantState, len(r.hist.Events), total, strings.Join(classes, ", "),
			r.distinct, len(r.exe.History), r.exe.Duration.Round(time.Millisecond))
	}
	t.Logf("KMS requests: %s; whole test %v", kmsFigures, time.Since(begin).Round(time.Millisecond))
}

// runScenario submits the scenario's application and checks how the
// execution ended.
func runScenario(t *testing.T, st *stack.Stack, sc stack.Scenario) *run {
	t.Helper()
	exe, err := st.Submit(t.Context(), sc.Application, sc.Script)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := localsfn.DecodeHistory(exe.History)
	if err != nil {
		t.Fatal(err)
	}
	got := [3]string{exe.Status, exe.Error, lastState(hist)}
	if diff := cmp.Diff([3]string{sc.WantStatus, sc.WantError, sc.WantState}, got); diff != "" {
		t.Fatalf("status, error, last state mismatch (-want +got):\n%s", diff)
	}
	last := hist.Events[len(hist.Events)-1].Type
	if want := map[string]string{"SUCCEEDED": "ExecutionSucceeded", "FAILED": "ExecutionFailed"}[sc.WantStatus]; last != want {
		t.Errorf("last event is %s, want %s", last, want)
	}
	return &run{scenario: sc, exe: exe, hist: hist}
}

// lastState returns the name of the last state entered.
func lastState(h *localsfn.History) string {
	for i := len(h.Events) - 1; i >= 0; i-- {
		if d := h.Events[i].StateEntered; d != nil {
			return d.Name
		}
	}
	return ""
}

// checkNoLeak fails if data holds a canary, as it is or JSON-escaped.
func checkNoLeak(t *testing.T, what string, data []byte, canaries []string) {
	t.Helper()
	for _, c := range canaries {
		esc, _ := json.Marshal(c)
		esc = esc[1 : len(esc)-1]
		if bytes.Contains(data, []byte(c)) || bytes.Contains(data, esc) {
			t.Errorf("%s holds the personal value %q", what, c)
		}
	}
}

// selectedNames returns the member names the configuration's rules select:
// every selector is a descendant name selector ($..name), so a value is
// selected exactly when its member name is one of these.
func selectedNames(t *testing.T, cfg *codec.Config) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`^\$\.\.([A-Za-z][A-Za-z0-9]*)$`)
	out := map[string]string{}
	for _, r := range cfg.Rules {
		for _, s := range r.Select {
			m := re.FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("selector %s of class %s is not of the form $..name, which this test understands", s, r.Class)
			}
			out[m[1]] = r.Class
		}
	}
	return out
}

// dataFields returns the fields of an event that carry data.
func dataFields(ev localsfn.Event) map[string]string {
	out := map[string]string{}
	add := func(name, v string) {
		if v != "" {
			out[name] = v
		}
	}
	for _, d := range []*localsfn.DataDetails{ev.ExecutionStarted, ev.ExecutionSucceeded, ev.StateEntered, ev.StateExited, ev.LambdaFunctionScheduled, ev.LambdaFunctionSucceeded} {
		if d != nil {
			add("input", d.Input)
			add("output", d.Output)
		}
	}
	for _, d := range []*localsfn.TaskDetails{ev.TaskScheduled, ev.TaskSubmitted, ev.TaskSucceeded, ev.TaskFailed} {
		if d != nil {
			add("parameters", d.Parameters)
			add("output", d.Output)
			add("cause", d.Cause)
		}
	}
	for _, d := range []*localsfn.ErrorDetails{ev.ExecutionFailed, ev.LambdaFunctionFailed} {
		if d != nil {
			add("cause", d.Cause)
		}
	}
	return out
}

// checkTokens checks that every selected value in every event's data is a
// token of the rule's class, and that every error message in a cause is a
// token or redacted; it returns the number of token occurrences by class
// and of distinct tokens.
func checkTokens(t *testing.T, h *localsfn.History, selected map[string]string) (map[string]int, int) {
	t.Helper()
	counts := map[string]int{}
	distinct := map[string]bool{}
	var walk func(where string, v any, member string)
	walk = func(where string, v any, member string) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(where+"/"+k, e, k)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", where, i), e, "")
			}
		case string:
			if codec.IsToken(v) {
				tok, err := codec.ParseToken(v)
				if err != nil {
					t.Errorf("%s: malformed token: %v", where, err)
					return
				}
				counts[tok.Class]++
				distinct[v] = true
				if class, ok := selected[member]; ok && tok.Class != class {
					t.Errorf("%s: token of class %s, want %s", where, tok.Class, class)
				}
				return
			}
			if _, ok := selected[member]; ok {
				t.Errorf("%s: selected value is not a token", where)
				return
			}
			if member == "errorMessage" && v != lambdamw.RedactedMessage {
				t.Errorf("%s: error message is neither a token nor redacted", where)
			}
			// Causes and task outputs hold JSON text in turn.
			var inner any
			if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Unmarshal([]byte(v), &inner) == nil {
				walk(where+"#", inner, "")
			}
		default:
			if _, ok := selected[member]; ok {
				t.Errorf("%s: selected value is not a token", where)
			}
		}
	}
	for _, ev := range h.Events {
		for field, data := range dataFields(ev) {
			var v any
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				if field != "cause" {
					t.Errorf("event %d (%s) %s is not JSON", ev.ID, ev.Type, field)
				}
				walk(fmt.Sprintf("event %d (%s) %s", ev.ID, ev.Type, field), data, "")
				continue
			}
			walk(fmt.Sprintf("event %d (%s) %s", ev.ID, ev.Type, field), v, "")
		}
	}
	if counts["identity"] == 0 || counts["contact"] == 0 {
		t.Errorf("token counts %v: want identity and contact tokens", counts)
	}
	return counts, len(distinct)
}

// checkThirdParties checks that the identity provider, the SMS gateway and
// the mail service got the application's personal data in plaintext.
func checkThirdParties(t *testing.T, st *stack.Stack, sc stack.Scenario) {
	t.Helper()
	app := sc.Application
	var sessions []model.SessionRequest
	var issued []model.Session
	allIssued := st.Provider.Sessions()
	for i, r := range st.Provider.SessionRequests() {
		if r.Reference == app.CreditApplicationID {
			sessions = append(sessions, r)
			issued = append(issued, allIssued[i])
		}
	}
	want := model.SessionRequest{Reference: app.CreditApplicationID, Person: app.CreditApplicant, PhoneNumber: app.PhoneNumber, Email: app.Email}
	if len(sessions) != sc.WantSessions {
		t.Errorf("identity provider got %d session requests, want %d", len(sessions), sc.WantSessions)
	}
	for i, s := range sessions {
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("identity provider session request %d mismatch (-want +got):\n%s", i, diff)
		}
	}

	var sms []model.SMS
	for _, m := range st.SMS.Messages() {
		if m.To == app.PhoneNumber {
			sms = append(sms, m)
		}
	}
	if len(sms) != len(issued) {
		t.Errorf("SMS gateway got %d messages to the applicant, want one per session (%d)", len(sms), len(issued))
	}
	for i := range min(len(sms), len(issued)) {
		wantBody := "Your bank: to continue your credit application, confirm your identity at " + issued[i].VerificationURL
		if sms[i].Body != wantBody {
			t.Errorf("SMS %d body = %q, want %q", i, sms[i].Body, wantBody)
		}
	}

	var screened []model.ScreeningRequest
	for _, r := range st.Provider.ScreeningRequests() {
		if strings.HasPrefix(r.Reference, app.CreditApplicationID+"/") {
			screened = append(screened, r)
		}
	}
	sort.Slice(screened, func(i, j int) bool { return screened[i].Reference < screened[j].Reference })
	var wantScreened []model.ScreeningRequest
	for _, co := range app.CoApplicants {
		wantScreened = append(wantScreened, model.ScreeningRequest{Reference: app.CreditApplicationID + "/" + co.CoApplicantID, Person: co.CreditApplicant})
	}
	if sc.WantScreenings == 0 {
		wantScreened = nil
	}
	if diff := cmp.Diff(wantScreened, screened); diff != "" {
		t.Errorf("identity provider screenings mismatch (-want +got):\n%s", diff)
	}

	var mails []model.Email
	for _, m := range st.Mail.Messages() {
		if m.To == app.Email {
			mails = append(mails, m)
		}
	}
	if len(mails) != sc.WantEmails {
		t.Errorf("mail service got %d messages to the applicant, want %d", len(mails), sc.WantEmails)
	}
	for _, m := range mails {
		if !strings.Contains(m.Subject, app.CreditApplicationID) {
			t.Errorf("email subject %q does not name the application", m.Subject)
		}
	}
}

// sfnDecrypt runs the sfn-decrypt binary with the operator's configuration
// (every class) on a saved history.
func sfnDecrypt(t *testing.T, bin string, kmsEnv []string, stderr *localsfn.SyncBuffer, args ...string) []byte {
	t.Helper()
	out, errOut, err := runSfnDecrypt(t, bin, kmsEnv, stderr, args...)
	if err != nil {
		t.Fatalf("sfn-decrypt %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// runSfnDecrypt runs the sfn-decrypt binary and returns its stdout and
// stderr (a copy of which goes to stderr) and how it exited.
func runSfnDecrypt(t *testing.T, bin string, kmsEnv []string, stderr *localsfn.SyncBuffer, args ...string) (stdout, errOut []byte, err error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, kmsEnv...)
	var out, eb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &eb
	err = cmd.Run()
	_, _ = stderr.Write(eb.Bytes())
	return out.Bytes(), eb.Bytes(), err
}

// checkBreakGlassRead follows the break-glass procedure of SECURITY.md:
// the primary key is out of reach (disabled here), and an operator runs
// sfn-decrypt with a configuration that names only the break-glass key. It
// reads every class whose data keys the break-glass key wraps, from every
// execution's saved history; the class session, in keyset mode under the
// primary key alone, stays as tokens.
func checkBreakGlassRead(t *testing.T, st *stack.Stack, runs []*run, bin string, kms *kmstest.Server, stderr *localsfn.SyncBuffer) {
	t.Helper()
	if len(runs) == 0 {
		t.Fatal("no execution ran to read")
	}
	// The break-glass configuration: the classes of the keyring main, read
	// with its break-glass key as the only key.
	data, err := os.ReadFile(stack.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["keyrings"] = map[string]any{"main": map[string]any{"kms": map[string]any{"keyArn": st.BreakGlassKeyARN}}}
	var rules, classes []any
	for _, r := range cfg["rules"].([]any) {
		if r.(map[string]any)["keyring"] == "main" {
			rules = append(rules, r)
			classes = append(classes, r.(map[string]any)["class"])
		}
	}
	cfg["rules"] = rules
	bgConfig := filepath.Join(t.TempDir(), "break-glass.json")
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(bgConfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("break-glass configuration: keyring main = %s only, classes %v", st.BreakGlassKeyARN, classes)

	client := awskms.NewFromConfig(kms.Config(t))
	if _, err := client.DisableKey(t.Context(), &awskms.DisableKeyInput{KeyId: aws.String(st.KeyARN)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := client.EnableKey(context.Background(), &awskms.EnableKeyInput{KeyId: aws.String(st.KeyARN)}); err != nil {
			t.Errorf("enable the primary key again: %v", err)
		}
	})
	if _, err := client.Encrypt(t.Context(), &awskms.EncryptInput{KeyId: aws.String(st.KeyARN), Plaintext: []byte("x")}); err == nil {
		t.Fatal("the primary key still works after DisableKey")
	}

	decrypts := kms.Requests("Decrypt")
	defer func() {
		t.Logf("break-glass reads of %d histories: %d KMS Decrypt requests", len(runs), kms.Requests("Decrypt")-decrypts)
	}()
	for _, r := range runs {
		out, errOut, err := runSfnDecrypt(t, bin, kms.Env(), stderr, "history", "--config", bgConfig, "--reason", "break-glass", "--output", "json", r.exe.HistoryFile)
		// Exit code 3: the session tokens stay, as their class has no rule.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Fatalf("%s: sfn-decrypt history with the break-glass configuration: %v, want exit code 3\n%s", r.scenario.Name, err, errOut)
		}
		if got, want := leaktest.NestedTokenClasses(t, out), map[string]int{"session": r.tokens["session"]}; !cmp.Equal(want, got) {
			t.Errorf("%s: tokens left by the break-glass reader: %v, want only the %d session tokens", r.scenario.Name, got, r.tokens["session"])
		}
		dec, err := localsfn.DecodeHistory(out)
		if err != nil {
			t.Fatalf("%s: %v", r.scenario.Name, err)
		}
		// What the intake service sent and what came out at the end.
		for _, s := range st.Intake.Sent() {
			if s.ExecutionArn == r.exe.Arn {
				if got := dec.Events[0].ExecutionStarted; got == nil || got.Input != s.Document {
					t.Errorf("%s: the break-glass reader's execution input differs from what the intake service sent", r.scenario.Name)
				}
			}
		}
		lastDoc := ""
		for _, ev := range dec.Events {
			if ev.StateEntered != nil {
				lastDoc = ev.StateEntered.Input
			}
			if ev.ExecutionSucceeded != nil {
				lastDoc = ev.ExecutionSucceeded.Output
			}
		}
		var got model.Application
		if err := json.Unmarshal([]byte(lastDoc), &got); err != nil {
			t.Fatalf("%s: final document: %v", r.scenario.Name, err)
		}
		if diff := cmp.Diff(r.scenario.Application, got); diff != "" {
			t.Errorf("%s: the break-glass reader's final document mismatch (-application +history):\n%s", r.scenario.Name, diff)
		}
	}
}

// checkDecryptedHistory runs sfn-decrypt history on the saved history and
// checks that it restores what the backend services sent and the functions
// returned.
func checkDecryptedHistory(t *testing.T, st *stack.Stack, r *run, bin string, kmsEnv []string, stderr *localsfn.SyncBuffer) {
	t.Helper()
	out := sfnDecrypt(t, bin, kmsEnv, stderr, "history", "--config", stack.ConfigFile, "--reason", "e2e test", "--output", "json", r.exe.HistoryFile)
	if n := leaktest.NestedTokenClasses(t, out); len(n) > 0 {
		t.Errorf("sfn-decrypt history left tokens in its output: %v", n)
	}
	dec, err := localsfn.DecodeHistory(out)
	if err != nil {
		t.Fatalf("sfn-decrypt history output: %v", err)
	}
	if len(dec.Events) != len(r.hist.Events) {
		t.Fatalf("sfn-decrypt history has %d events, the history %d", len(dec.Events), len(r.hist.Events))
	}
	for i := range dec.Events {
		a, b := dec.Events[i], r.hist.Events[i]
		if a.Type != b.Type || a.Timestamp != b.Timestamp {
			t.Errorf("event %d: decrypted %s at %s, saved %s at %s", i+1, a.Type, a.Timestamp, b.Type, b.Timestamp)
		}
	}

	// The input is what the intake service passed to StartExecution, byte
	// for byte.
	var sent *backend.Sent
	for _, s := range st.Intake.Sent() {
		if s.ExecutionArn == r.exe.Arn {
			sent = &s
		}
	}
	if sent == nil {
		t.Fatalf("the intake service did not record execution %s", r.exe.Arn)
	}
	if got := dec.Events[0].ExecutionStarted; got == nil || got.Input != sent.Document {
		t.Errorf("decrypted execution input differs from what the intake service sent:\n got %v\nwant %s", got, sent.Document)
	}

	// Each WaitIdentification result is what the webhook service passed to
	// SendTaskSuccess, byte for byte; each RequestIdentification result is
	// the session the provider opened.
	webhook := map[string]string{}
	for _, s := range st.Webhook.Sent() {
		webhook[s.TaskToken] = s.Document
	}
	var issued []model.Session
	allIssued := st.Provider.Sessions()
	for i, req := range st.Provider.SessionRequests() {
		if req.Reference == r.scenario.Application.CreditApplicationID {
			issued = append(issued, allIssued[i])
		}
	}
	state, token := "", ""
	var waits, requests int
	for _, ev := range dec.Events {
		switch {
		case ev.StateEntered != nil:
			state = ev.StateEntered.Name
		case ev.TaskScheduled != nil && state == "WaitIdentification":
			var p struct{ Payload struct{ TaskToken string } }
			if err := json.Unmarshal([]byte(ev.TaskScheduled.Parameters), &p); err != nil {
				t.Fatal(err)
			}
			token = p.Payload.TaskToken
		case ev.TaskSucceeded != nil && state == "WaitIdentification":
			if want, ok := webhook[token]; !ok || ev.TaskSucceeded.Output != want {
				t.Errorf("decrypted WaitIdentification result differs from what the webhook service sent:\n got %s\nwant %s", ev.TaskSucceeded.Output, want)
			}
			waits++
		case ev.TaskSucceeded != nil && state == "RequestIdentification":
			var res struct{ Payload model.Session }
			if err := json.Unmarshal([]byte(ev.TaskSucceeded.Output), &res); err != nil {
				t.Fatal(err)
			}
			if requests >= len(issued) {
				t.Errorf("more RequestIdentification results than sessions")
			} else if diff := cmp.Diff(issued[requests], res.Payload); diff != "" {
				t.Errorf("decrypted RequestIdentification result %d differs from the provider's session (-provider +history):\n%s", requests, diff)
			}
			requests++
		}
	}
	if waits != r.scenario.WantSessions || requests != r.scenario.WantSessions {
		t.Errorf("decrypted history has %d WaitIdentification and %d RequestIdentification results, want %d each", waits, requests, r.scenario.WantSessions)
	}

	// The application comes back whole in the execution's output (or in
	// the last state's input), after every move the workflow made.
	lastDoc := ""
	for _, ev := range dec.Events {
		if ev.StateEntered != nil {
			lastDoc = ev.StateEntered.Input
		}
		if ev.ExecutionSucceeded != nil {
			lastDoc = ev.ExecutionSucceeded.Output
		}
	}
	var got model.Application
	if err := json.Unmarshal([]byte(lastDoc), &got); err != nil {
		t.Fatalf("decrypted final document: %v", err)
	}
	if diff := cmp.Diff(r.scenario.Application, got); diff != "" {
		t.Errorf("decrypted final document mismatch (-application +history):\n%s", diff)
	}

	// A failure's cause comes back as the function's message.
	if r.scenario.WantError == "IdentityMismatchError" {
		last := dec.Events[len(dec.Events)-1].ExecutionFailed
		var cause struct{ ErrorMessage, ErrorType string }
		if last == nil || json.Unmarshal([]byte(last.Cause), &cause) != nil {
			t.Fatalf("decrypted ExecutionFailed cause is not the function's error: %+v", last)
		}
		var mismatch *model.Person
		for _, s := range r.scenario.Script {
			mismatch = s.VerifiedPerson
		}
		want := fmt.Sprintf("continue-validation: verified nationalId %q does not match the applicant's %q", mismatch.NationalID, r.scenario.Application.CreditApplicant.NationalID)
		if diff := cmp.Diff(struct{ ErrorMessage, ErrorType string }{want, "IdentityMismatchError"}, cause); diff != "" {
			t.Errorf("decrypted cause mismatch (-want +got):\n%s", diff)
		}
	}

	// Read through the Step Functions API (GetExecutionHistory, paginated)
	// instead of the saved file, the history decrypts the same.
	if r.scenario.Name == "happy" {
		apiEnv := append(slices.Clip(kmsEnv), "AWS_ENDPOINT_URL_SFN="+st.Server.Endpoint)
		viaAPI := sfnDecrypt(t, bin, apiEnv, stderr, "history", "--config", stack.ConfigFile, "--reason", "e2e test", "--output", "json", "--execution-arn", r.exe.Arn)
		api, err := localsfn.DecodeHistory(viaAPI)
		if err != nil {
			t.Fatalf("sfn-decrypt history --execution-arn output: %v", err)
		}
		for i := range api.Events {
			api.Events[i].Timestamp = dec.Events[min(i, len(dec.Events)-1)].Timestamp
		}
		if diff := cmp.Diff(dec, api); diff != "" {
			t.Errorf("history read through the API differs from the saved file (-file +API):\n%s", diff)
		}
	}

	// The text timeline works as well.
	if text := sfnDecrypt(t, bin, kmsEnv, stderr, "history", "--config", stack.ConfigFile, "--reason", "e2e test", "--output", "text", r.exe.HistoryFile); !bytes.Contains(text, []byte(r.scenario.WantState)) {
		t.Errorf("sfn-decrypt history --output text does not show the state %s", r.scenario.WantState)
	}
}

// logRecords returns the JSON log records of a function's output whose msg
// is msg.
func logRecords(output, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// checkSMSSawToken checks that the SMS function, which does not decrypt the
// class identity, saw the applicant as the very token Step Functions passed
// it.
func checkSMSSawToken(t *testing.T, st *stack.Stack, r *run) {
	t.Helper()
	var passed []string
	state := ""
	for _, ev := range r.hist.Events {
		if ev.StateEntered != nil {
			state = ev.StateEntered.Name
		}
		if ev.TaskScheduled != nil && state == "SendSMS" {
			var p struct {
				Payload struct{ CreditApplicant string }
			}
			if err := json.Unmarshal([]byte(ev.TaskScheduled.Parameters), &p); err != nil {
				t.Fatal(err)
			}
			passed = append(passed, p.Payload.CreditApplicant)
		}
	}
	var seen []string
	for _, rec := range logRecords(st.Functions["SendSmsFunction"].Logs(), "send-sms: event") {
		if rec["creditApplicationId"] == r.scenario.Application.CreditApplicationID {
			s, _ := rec["creditApplicant"].(string)
			seen = append(seen, s)
		}
	}
	if len(passed) == 0 || !codec.IsToken(passed[0]) {
		t.Fatalf("SendSMS parameters hold no creditApplicant token: %v", passed)
	}
	if diff := cmp.Diff(passed, seen); diff != "" {
		t.Errorf("the SMS handler did not see the tokens Step Functions passed (-passed +seen by the handler):\n%s", diff)
	}
}

// checkFunctionClasses checks the middleware's own account of each
// function's invocations against the template: it decrypted only classes
// of SFNENC_CLASSES, and encrypted only classes its policy lets it
// generate data keys for (envelope mode) or read the keyset of (keyset
// mode).
func checkFunctionClasses(t *testing.T, st *stack.Stack) {
	t.Helper()
	grants := templateGrants(t)
	keysetMode := keysetClasses(st.Config)
	// mayWrite reports whether the policy g lets the function encrypt c.
	mayWrite := func(g functionGrants, c string) bool {
		if slices.Contains(keysetMode, c) {
			return slices.Contains(g.decrypt, c)
		}
		return slices.Contains(g.generate, c)
	}
	ids := make([]string, 0, len(st.Functions))
	for id := range st.Functions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		recs := logRecords(st.Functions[id].Logs(), "lambdamw: invocation")
		if len(recs) == 0 {
			t.Errorf("%s: no invocation records", id)
			continue
		}
		sum := func(key string) map[string]int {
			out := map[string]int{}
			for _, rec := range recs {
				m, _ := rec[key].(map[string]any)
				for c, n := range m {
					f, _ := n.(float64)
					out[c] += int(f)
				}
			}
			return out
		}
		decrypted, passed, encrypted := sum("decrypted"), sum("passedThrough"), sum("encrypted")
		g := grants[id]
		for c := range decrypted {
			if !slices.Contains(g.decrypt, c) || !slices.Contains(classList(g.classes), c) {
				t.Errorf("%s decrypted class %s, which its policy does not grant", id, c)
			}
		}
		for c := range encrypted {
			if !mayWrite(g, c) {
				t.Errorf("%s encrypted class %s, which its policy does not grant", id, c)
			}
		}
		errorsEncrypted := 0
		for _, rec := range recs {
			if rec["errorMessage"] == "encrypted" {
				errorsEncrypted++
				if !mayWrite(g, g.errorClass) {
					t.Errorf("%s encrypted an error message as %q, which its policy does not grant", id, g.errorClass)
				}
			}
		}
		t.Logf("%-29s SFNENC_CLASSES=%-21s %2d invocations; decrypted %v; passed through %v; encrypted %v; error messages encrypted %d",
			id, g.classes, len(recs), decrypted, passed, encrypted, errorsEncrypted)
	}
	recs := logRecords(st.Functions["SendSmsFunction"].Logs(), "lambdamw: invocation")
	identity := 0
	for _, rec := range recs {
		m, _ := rec["passedThrough"].(map[string]any)
		f, _ := m["identity"].(float64)
		identity += int(f)
	}
	if identity == 0 {
		t.Errorf("SendSmsFunction passed no identity token through undecrypted")
	}
}
