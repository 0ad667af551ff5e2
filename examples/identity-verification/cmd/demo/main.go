// Command demo runs the identity-verification workflow on this machine and
// shows what Step Functions stores and what an operator sees through
// sfn-decrypt. It is what `make demo` runs.
//
// It starts, on loopback only: local-kms seeded with the example's keys, the
// identity provider, SMS gateway and mail service stand-ins, the backend
// intake and webhook services, each Lambda function of template.yaml under
// the Lambda Runtime Interface Emulator, and the local Step Functions
// endpoint (harness/server.mjs on Node). It then runs the happy, retry and
// rejection paths, and for each prints the history as Step Functions keeps
// it (tokens only), the same history through `sfn-decrypt history`
// (plaintext), and what the third parties received. Everything it started
// is stopped when it ends, on error, or on Ctrl-C.
//
// Usage (from the repository root, after make tools node-deps build):
//
//	go run ./examples/identity-verification/cmd/demo [-example DIR] [-bin DIR] [-out DIR] [-full] [-full-tokens] [-all] [-wait] [-v]
//
// The output fits a terminal of 120 columns: documents are indented over
// several lines and long lines wrapped; -full prints each document on one
// line instead, as wide as it is.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/sfnenc/sfnenc/codec"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/localsfn"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/stack"
)

type options struct {
	example, bin, out string
	full, fullTokens  bool
	all               bool
	wait, verbose     bool
}

// width is the terminal width the output fits, without -full.
const width = 120

func main() {
	var o options
	flag.StringVar(&o.example, "example", "examples/identity-verification", "the example's `directory`")
	flag.StringVar(&o.bin, "bin", "bin", "`directory` of local-kms, aws-lambda-rie and sfn-decrypt (make tools build)")
	flag.StringVar(&o.out, "out", "out/identity-verification-demo", "`directory` for the saved histories (emptied first)")
	flag.BoolVar(&o.full, "full", false, "print each document on one line, as wide as it is, instead of indented to fit 120 columns")
	flag.BoolVar(&o.fullTokens, "full-tokens", false, "print tokens whole instead of shortened")
	flag.BoolVar(&o.all, "all", false, "run every scenario of the end-to-end test, not only the three paths")
	flag.BoolVar(&o.wait, "wait", false, "keep everything running after the paths, until interrupted, to try sfn-decrypt against it")
	flag.BoolVar(&o.verbose, "v", false, "print the output of every process started")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	h := localsfn.Harness{Dir: filepath.Join(o.example, stack.HarnessDir)}
	if err := h.Check(); err != nil {
		return fmt.Errorf("%w (run make node-deps)", err)
	}
	if err := stack.CheckNodeRuntime(o.example); err != nil {
		return err
	}
	tools := map[string]string{}
	for _, t := range []string{"local-kms", "aws-lambda-rie", "sfn-decrypt"} {
		p, err := filepath.Abs(filepath.Join(o.bin, t))
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing (run make tools build)", p)
		}
		tools[t] = p
	}
	if old, _ := filepath.Glob(filepath.Join(o.out, "*.history.json")); len(old) > 0 {
		fmt.Printf("Replacing the %d histories of the previous run in %s.\n", len(old), o.out)
	}
	if err := os.RemoveAll(o.out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(o.out, "kms-data"), 0o755); err != nil {
		return err
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	var logTo io.Writer
	if o.verbose {
		logTo = os.Stderr
	}

	heading("Starting everything on loopback")
	kms, err := stack.StartLocalKMS(ctx, tools["local-kms"], filepath.Join(o.example, stack.KMSSeedFile), filepath.Join(out, "kms-data"), logTo)
	if err != nil {
		return err
	}
	defer kms.Close()
	fmt.Printf("  %-30s %s  (holds the keys of %s)\n", "local-kms", kms.Endpoint, stack.ConfigFile)

	start := time.Now()
	binDir, err := os.MkdirTemp("", "identity-verification-functions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	bins, err := stack.BuildFunctions(ctx, o.example, binDir)
	if err != nil {
		return err
	}
	built := fmt.Sprintf("built %d Lambda functions", len(bins))
	if _, ok := bins[stack.ProxyBinary]; ok {
		built = fmt.Sprintf("built %d Go functions, sfnenc-proxy", len(bins)-1)
	}
	fmt.Printf("  %-30s %v\n", built, time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	var backendLog io.Writer = io.Discard
	if o.verbose {
		backendLog = os.Stderr
	}
	st, err := stack.Start(ctx, stack.Options{
		ExampleDir:  o.example,
		Binaries:    bins,
		Emulator:    tools["aws-lambda-rie"],
		KMSEndpoint: kms.Endpoint,
		OutDir:      out,
		LogTo:       logTo,
		Logger:      slog.New(slog.NewTextHandler(backendLog, nil)),
	})
	if err != nil {
		return err
	}
	defer st.Close()
	ids := sortedKeys(st.Functions)
	for _, id := range ids {
		fmt.Printf("  %-30s %s  (Lambda emulator; SFNENC_CLASSES=%s)\n", id, strings.TrimSuffix(st.Functions[id].URL, "/2015-03-31/functions/function/invocations"), envValue(st.Env[id], "SFNENC_CLASSES"))
		fmt.Printf("  %-30s   runtime: %s\n", "", st.Runtime[id])
	}
	say(o, "  ", fmt.Sprintf("%-30s %s  (aws-local-stepfunctions; state machine %s)", "Step Functions", st.Server.Endpoint, stack.StateMachineName))
	fmt.Printf("  identity provider, SMS gateway, mail service, intake and webhook services: in this process\n")
	fmt.Printf("  started in %v\n", time.Since(start).Round(100*time.Millisecond))

	scenarios := stack.Scenarios()
	var shown []stack.Scenario
	for _, sc := range scenarios {
		if sc.Demo || o.all {
			shown = append(shown, sc)
		}
	}
	var lastArn, lastFile string
	for i, sc := range shown {
		if err := ctx.Err(); err != nil {
			return err
		}
		arn, file, err := showScenario(ctx, o, st, tools["sfn-decrypt"], kms.Endpoint, i+1, len(shown), sc)
		if err != nil {
			return err
		}
		lastArn, lastFile = arn, file
	}

	heading("What each function decrypted (from the lambdamw log records of every invocation)")
	for _, id := range ids {
		for _, l := range wrap(functionSummary(id, st.Env[id], st.Functions[id].Logs()), "  ", "      ", o.full) {
			fmt.Println(l)
		}
	}
	heading("Done")
	fmt.Printf("  %d executions in %v; their histories are saved in %s.\n", len(shown), time.Since(began).Round(100*time.Millisecond), o.out)
	fmt.Printf("  To see the last one in a browser (KMS must be up: run with -wait, and use the exports below):\n    %s view --config %s --reason demo --open \\\n      --definition %s \\\n      %s\n", filepath.Join(o.bin, "sfn-decrypt"), filepath.Join(o.example, stack.ConfigFile), filepath.Join(o.example, "statemachine", "identity-verification.asl.json"), filepath.Join(o.out, lastArn[strings.LastIndexByte(lastArn, ':')+1:]+".history.json"))
	if o.wait {
		fmt.Printf("  Everything keeps running until you press Ctrl-C. In another shell, from the repository root:\n")
		fmt.Printf("    export AWS_ENDPOINT_URL_KMS=%s AWS_ENDPOINT_URL_SFN=%s \\\n", kms.Endpoint, st.Server.Endpoint)
		fmt.Printf("      AWS_REGION=%s AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n", stack.Region)
		fmt.Printf("    %s history --config %s --reason demo --output text \\\n      --execution-arn %s\n",
			filepath.Join(o.bin, "sfn-decrypt"), filepath.Join(o.example, stack.ConfigFile), lastArn)
		fmt.Printf("  or, for a saved history:\n    %s history --config %s --reason demo --output text %s\n",
			filepath.Join(o.bin, "sfn-decrypt"), filepath.Join(o.example, stack.ConfigFile), relPath(lastFile))
		<-ctx.Done()
	} else {
		fmt.Printf("  This run's local-kms stops with it. To read a saved history with sfn-decrypt yourself, from the\n")
		fmt.Printf("  repository root, start a local-kms with the example's seed keys (it panics if port %d is taken: pick another):\n", laterKMSPort)
		for _, l := range laterCommands(o, relPath(lastFile)) {
			fmt.Printf("    %s\n", l)
		}
		fmt.Printf("  or run the demo with -wait (make demo DEMO_FLAGS=-wait) to keep everything running.\n")
	}
	fmt.Printf("  Stopping everything this demo started.\n")
	return nil
}

func heading(s string) {
	fmt.Printf("\n%s\n%s\n", s, strings.Repeat("=", len(s)))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// laterKMSPort is the port of the local-kms that the demo's closing lines
// tell the reader to start.
const laterKMSPort = 4599

// laterCommands are the shell commands, from the repository root, that read
// the saved history file after the demo: start a local-kms with the
// example's seed keys, then run sfn-decrypt against it.
func laterCommands(o options, file string) []string {
	return []string{
		fmt.Sprintf("PORT=%d KMS_REGION=%s KMS_ACCOUNT_ID=%s KMS_DATA_PATH=$(mktemp -d) \\", laterKMSPort, stack.Region, stack.Account),
		fmt.Sprintf("  KMS_SEED_PATH=%s %s &", filepath.Join(o.example, stack.KMSSeedFile), filepath.Join(o.bin, "local-kms")),
		"sleep 1 # until it listens",
		fmt.Sprintf("AWS_ENDPOINT_URL_KMS=http://127.0.0.1:%d AWS_REGION=%s \\", laterKMSPort, stack.Region),
		"  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \\",
		fmt.Sprintf("  %s history --config %s --reason demo --output text \\", filepath.Join(o.bin, "sfn-decrypt"), filepath.Join(o.example, stack.ConfigFile)),
		"  " + file,
		"kill %1",
	}
}

// relPath returns p relative to the working directory (the repository root
// under make demo), so that a command printed for the reader runs as printed.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// showScenario runs one path and prints it; it returns the execution's ARN
// and the file of its history.
func showScenario(ctx context.Context, o options, st *stack.Stack, sfnDecrypt, kmsEndpoint string, n, of int, sc stack.Scenario) (string, string, error) {
	heading(fmt.Sprintf("Path %d of %d: %s", n, of, sc.Title))
	exe, err := st.Submit(ctx, sc.Application, sc.Script)
	if err != nil {
		return "", "", err
	}
	raw, err := localsfn.DecodeHistory(exe.History)
	if err != nil {
		return "", "", err
	}
	end := exe.Status
	if exe.Error != "" {
		end += " with error " + exe.Error
	}
	fmt.Printf("The backend's intake service started execution %s with the application;\n", exe.Name)
	fmt.Printf("it ended %s in state %s after %d events (%v).\n", end, lastState(raw), len(raw.Events), exe.Duration.Round(time.Millisecond))

	tokens := tokenRe.FindAllString(string(exe.History), -1)
	distinct := map[string]bool{}
	for _, t := range tokens {
		distinct[t] = true
	}
	fmt.Printf("\n-- 1. The history as Step Functions stores it (%s)\n", relPath(exe.HistoryFile))
	fmt.Printf("   %d token occurrences (%d distinct tokens), no personal value. Shown: the data of the execution\n", len(tokens), len(distinct))
	fmt.Printf("   Token sizes: %s.\n", tokenSizes(distinct))
	fmt.Printf("   and of each task (Lambda payloads and results without the invoke metadata); the state events\n")
	fmt.Printf("   carry the whole document in the same way.")
	if !o.fullTokens {
		fmt.Printf(" Tokens are shortened here (-full-tokens prints them whole).")
	}
	fmt.Println()
	for _, l := range eventLines(raw, func(s string) string { return shortenTokens(s, o.fullTokens) }, o.full) {
		fmt.Println(l)
	}

	cmd := exec.CommandContext(ctx, sfnDecrypt, "history", "--config", filepath.Join(o.example, stack.ConfigFile),
		"--reason", "make demo", "--output", "json", exe.HistoryFile)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, stack.AWSEnv(kmsEndpoint)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	decrypted, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("sfn-decrypt history: %w\n%s", err, stderr.String())
	}
	dec, err := localsfn.DecodeHistory(decrypted)
	if err != nil {
		return "", "", fmt.Errorf("sfn-decrypt history output: %w", err)
	}
	fmt.Printf("\n-- 2. The same events through sfn-decrypt history, as an operator with kms:Decrypt for every class\n")
	fmt.Printf("   $ %s history --config %s --reason \"make demo\" \\\n       %s\n",
		filepath.Join(o.bin, "sfn-decrypt"), filepath.Join(o.example, stack.ConfigFile), relPath(exe.HistoryFile))
	fmt.Printf("   (against this run's local-kms, %s; the end of the demo says how to run it yourself)\n", kmsEndpoint)
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		for _, w := range wrap(l, "   ", "       ", o.full) {
			fmt.Println(w)
		}
	}
	for _, l := range eventLines(dec, nil, o.full) {
		fmt.Println(l)
	}

	fmt.Printf("\n-- 3. What the third parties received, in plaintext\n")
	app := sc.Application
	for _, r := range st.Provider.SessionRequests() {
		if r.Reference == app.CreditApplicationID {
			say(o, "   ", fmt.Sprintf("identity provider, session:  %s, born %s, national id %s, %s, %s, %s",
				r.Person.FullName, r.Person.DateOfBirth, r.Person.NationalID, r.Person.Address.City, r.PhoneNumber, r.Email))
		}
	}
	for _, r := range st.Provider.ScreeningRequests() {
		if strings.HasPrefix(r.Reference, app.CreditApplicationID+"/") {
			say(o, "   ", fmt.Sprintf("identity provider, screening: %s, born %s, national id %s", r.Person.FullName, r.Person.DateOfBirth, r.Person.NationalID))
		}
	}
	for _, m := range st.SMS.Messages() {
		if m.To == app.PhoneNumber {
			say(o, "   ", fmt.Sprintf("SMS gateway, to %s: %q", m.To, m.Body))
		}
	}
	for _, m := range st.Mail.Messages() {
		if m.To == app.Email {
			say(o, "   ", fmt.Sprintf("mail service, to %s: %q", m.To, m.Subject))
		}
	}
	return exe.Arn, exe.HistoryFile, nil
}

func lastState(h *localsfn.History) string {
	for i := len(h.Events) - 1; i >= 0; i-- {
		if d := h.Events[i].StateEntered; d != nil {
			return d.Name
		}
	}
	return ""
}

// eventLines renders the data of the execution and of each task, indented
// by three spaces, after passing each document through edit (if not nil).
// With full, each field is one line as wide as it is; otherwise a line that
// would not fit width columns has its document below it, indented, and
// what is still too long is wrapped.
func eventLines(h *localsfn.History, edit func(string) string, full bool) []string {
	var out []string
	state := ""
	line := func(ev localsfn.Event, what, data string) {
		name := ""
		if strings.HasPrefix(ev.Type, "Task") {
			name = state
		}
		if edit != nil {
			data = edit(data)
		}
		head := fmt.Sprintf("   #%-3d %-18s %-22s %-10s", ev.ID, ev.Type, name, what)
		if one := head + " " + data; full || len([]rune(one)) <= width {
			out = append(out, one)
			return
		}
		out = append(out, strings.TrimRight(head, " "))
		var b bytes.Buffer
		if json.Indent(&b, []byte(data), "", "  ") == nil {
			data = b.String()
		}
		for _, l := range strings.Split(data, "\n") {
			out = append(out, wrap(l, "        ", "          ", false)...)
		}
	}
	for _, ev := range h.Events {
		switch {
		case ev.StateEntered != nil:
			state = ev.StateEntered.Name
		case ev.ExecutionStarted != nil:
			line(ev, "input", ev.ExecutionStarted.Input)
		case ev.TaskScheduled != nil:
			var p struct{ Payload json.RawMessage }
			if json.Unmarshal([]byte(ev.TaskScheduled.Parameters), &p) == nil && p.Payload != nil {
				line(ev, "payload", string(p.Payload))
			} else {
				line(ev, "parameters", ev.TaskScheduled.Parameters)
			}
		case ev.TaskSucceeded != nil:
			var p struct {
				Payload         json.RawMessage
				SdkHttpMetadata json.RawMessage
			}
			if json.Unmarshal([]byte(ev.TaskSucceeded.Output), &p) == nil && p.SdkHttpMetadata != nil {
				line(ev, "result", string(p.Payload))
			} else {
				line(ev, "output", ev.TaskSucceeded.Output)
			}
		case ev.TaskFailed != nil:
			line(ev, "error", ev.TaskFailed.Error)
			line(ev, "cause", ev.TaskFailed.Cause)
		case ev.ExecutionSucceeded != nil:
			line(ev, "output", ev.ExecutionSucceeded.Output)
		case ev.ExecutionFailed != nil:
			line(ev, "error", ev.ExecutionFailed.Error)
			line(ev, "cause", ev.ExecutionFailed.Cause)
		}
	}
	return out
}

var tokenRe = regexp.MustCompile(regexp.QuoteMeta(codec.TokenPrefix) + `[A-Za-z0-9_-]+`)

// tokenSizes gives the range of token lengths of each mode.
func tokenSizes(tokens map[string]bool) string {
	type span struct{ min, max int }
	modes := map[string]*span{}
	for t := range tokens {
		tok, err := codec.ParseToken(t)
		if err != nil {
			continue
		}
		name := "envelope mode"
		if tok.Format == "keyset" {
			name = "keyset mode"
		}
		s := modes[name]
		if s == nil {
			s = &span{len(t), len(t)}
			modes[name] = s
		}
		s.min, s.max = min(s.min, len(t)), max(s.max, len(t))
	}
	var parts []string
	for _, name := range sortedKeys(modes) {
		s := modes[name]
		if s.min == s.max {
			parts = append(parts, fmt.Sprintf("%s %d chars", name, s.min))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d-%d chars", name, s.min, s.max))
		}
	}
	return strings.Join(parts, ", ")
}

// say prints s after prefix, wrapped to width unless -full.
func say(o options, prefix, s string) {
	for _, l := range wrap(s, prefix, prefix+"    ", o.full) {
		fmt.Println(l)
	}
}

// wrap returns s after prefix as lines of at most width columns (unless
// full), breaking at spaces where it can and anywhere else where it must;
// lines after the first start with more.
func wrap(s, prefix, more string, full bool) []string {
	r := []rune(prefix + s)
	if full || len(r) <= width {
		return []string{string(r)}
	}
	var out []string
	for len(r) > width {
		cut := width
		for i := width; i > width/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		r = []rune(more + strings.TrimLeft(string(r[cut:]), " "))
	}
	return append(out, string(r))
}

// shortenTokens replaces each token by its start, class and length.
func shortenTokens(s string, full bool) string {
	if full {
		return s
	}
	return tokenRe.ReplaceAllStringFunc(s, func(t string) string {
		class := "?"
		if tok, err := codec.ParseToken(t); err == nil {
			class = tok.Class
		}
		return fmt.Sprintf("%s…(%s, %d chars)", t[:20], class, len(t))
	})
}

// functionSummary sums the middleware's invocation records of a function.
func functionSummary(id string, env []string, logs string) string {
	sums := map[string]map[string]int{"decrypted": {}, "passedThrough": {}, "encrypted": {}}
	n, errs := 0, 0
	for _, line := range strings.Split(logs, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "lambdamw: invocation" {
			continue
		}
		n++
		if rec["errorMessage"] == "encrypted" {
			errs++
		}
		for key, m := range sums {
			classes, _ := rec[key].(map[string]any)
			for c, v := range classes {
				f, _ := v.(float64)
				m[c] += int(f)
			}
		}
	}
	show := func(m map[string]int) string {
		if len(m) == 0 {
			return "-"
		}
		var parts []string
		for _, c := range sortedKeys(m) {
			parts = append(parts, fmt.Sprintf("%s %d", c, m[c]))
		}
		return strings.Join(parts, ", ")
	}
	s := fmt.Sprintf("%-29s SFNENC_CLASSES=%-21s %2d invocations; decrypted: %s; left encrypted: %s; encrypted its results: %s",
		id, envValue(env, "SFNENC_CLASSES"), n, show(sums["decrypted"]), show(sums["passedThrough"]), show(sums["encrypted"]))
	if errs > 0 {
		s += fmt.Sprintf("; error messages encrypted: %d", errs)
	}
	return s
}
