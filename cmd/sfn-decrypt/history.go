package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
)

const historySynopsis = `history --config FILE --reason TEXT [FLAGS] (--execution-arn ARN | FILE | -)
       sfn-decrypt history --config FILE --reason TEXT [FLAGS] --state-machine-arn ARN [--status S] [--since TIME]

Prints the execution history of AWS Step Functions executions with the
sfnenc tokens in their data decrypted under your own AWS credentials and KMS
permissions: input, output, parameters, error, cause and assigned variables of
every event, and any token in events of other types.

The history comes from the Step Functions API (--execution-arn: every page of
GetExecutionHistory, with execution data), from a file or standard input
holding what 'aws stepfunctions get-execution-history --output json' prints,
or, with --state-machine-arn, from every execution of a state machine that
matches --status and --since (ListExecutions), one JSON document per line.

--reason is required: it is sent to AWS as the SDK application id, so that it
appears in the user agent CloudTrail records for every Step Functions and KMS
call, and it is printed to stderr. At most 50 characters; characters other
than letters, digits and !#$%&'*+-.^_` + "`" + `|~ are sent as '-'.

A token you may not or cannot decrypt stays in the output as it is (marked
with the reason in text output) and is listed on stderr by event, field,
JSON Pointer and class; tokens that failed for one cause make one line with
their count and the first of them. Decrypted data goes to stdout only.

Exit codes:
  0  every token decrypted (or left alone by --class)
  1  other failure: input unreadable, not an execution history, KMS
     unreachable or throttled past the retries, output not writable
  2  usage or configuration error (flags, --reason, configuration file, ARN)
  3  some tokens could not be decrypted (denied, wrong key or context,
     altered); the rest of the output is written
  4  the Step Functions API failed: no such execution or state machine,
     access denied, throttled past the retries, invalid or truncated response
With --state-machine-arn the code is the most serious of all executions, in
the order 2, 1, 4, 3.`

type historyFlags struct {
	readFlags
	executionARN string
	machineARN   string
	status       string
	since        string
	concurrency  int
}

func cmdHistory(e *env, args []string) int {
	var hf historyFlags
	fs := newFlagSet(e, "history", historySynopsis)
	hf.registerRead(fs, "this history", "a timeline")
	fs.StringVar(&hf.executionARN, "execution-arn", "", "read the history of the execution `ARN` from the Step Functions API")
	fs.StringVar(&hf.machineARN, "state-machine-arn", "", "read the histories of the executions of the state machine `ARN`")
	fs.StringVar(&hf.status, "status", "", "with --state-machine-arn: only executions with `STATUS` ("+strings.Join(history.Statuses(), ", ")+")")
	fs.StringVar(&hf.since, "since", "", "with --state-machine-arn: only executions started at or after `TIME` (RFC 3339, YYYY-MM-DD, or a duration ago such as 36h or 7d)")
	fs.IntVar(&hf.concurrency, "concurrency", 4, "with --state-machine-arn: read at most `N` histories at once (1 to 16)")
	pos, err := parseInterspersed(fs, args)
	if code, ok := endFlags(e, fs, err); !ok {
		return code
	}
	ctx := context.Background()
	since, code := hf.check(e, pos)
	if code != 0 {
		return code
	}
	ro, code := hf.newReadOutput(ctx, e, "this history")
	if code != 0 {
		return code
	}
	h := &historyRun{e: e, flags: &hf, readOutput: ro}
	switch {
	case hf.machineARN != "":
		return h.many(ctx, since)
	case hf.executionARN != "":
		return h.one(ctx, hf.executionARN, "")
	default:
		return h.one(ctx, "", pos[0])
	}
}

// check validates the flag combination and parses --since.
func (hf *historyFlags) check(e *env, pos []string) (time.Time, int) {
	sources := len(pos)
	if hf.executionARN != "" {
		sources++
	}
	if hf.machineARN != "" {
		sources++
	}
	switch {
	case sources == 0:
		e.errorf("history needs --execution-arn ARN, --state-machine-arn ARN, or a FILE (- for stdin)")
		return time.Time{}, exitUsage
	case sources > 1:
		e.errorf("history reads one source: give only one of --execution-arn, --state-machine-arn and FILE")
		return time.Time{}, exitUsage
	case hf.output != "json" && hf.output != "text":
		e.errorf("--output must be json or text")
		return time.Time{}, exitUsage
	case hf.machineARN == "" && (hf.status != "" || hf.since != ""):
		e.errorf("--status and --since need --state-machine-arn")
		return time.Time{}, exitUsage
	case hf.concurrency < 1 || hf.concurrency > 16:
		e.errorf("--concurrency must be 1 to 16")
		return time.Time{}, exitUsage
	}
	if hf.status != "" {
		hf.status = strings.ToUpper(hf.status)
		if !slices.Contains(history.Statuses(), hf.status) {
			e.errorf("--status must be one of %s", strings.Join(history.Statuses(), ", "))
			return time.Time{}, exitUsage
		}
	}
	var since time.Time
	if hf.since != "" {
		var err error
		if since, err = parseSince(hf.since, time.Now()); err != nil {
			e.errorf("%v", err)
			return time.Time{}, exitUsage
		}
	}
	if hf.executionARN != "" {
		if _, err := history.ExecutionRegion(hf.executionARN); err != nil {
			e.errorf("%v", err)
			return time.Time{}, exitUsage
		}
	}
	if hf.machineARN != "" {
		if _, err := history.StateMachineRegion(hf.machineARN); err != nil {
			e.errorf("%v", err)
			return time.Time{}, exitUsage
		}
	}
	return since, 0
}

// historyRun is one run of the history command.
type historyRun struct {
	e     *env
	flags *historyFlags
	readOutput
	client *history.Client
}

func (h *historyRun) echo(what string) {
	echoReason(h.e, what, h.flags.reason, h.appID)
}

func (h *historyRun) sfnClient(ctx context.Context) (*history.Client, int) {
	if h.client != nil {
		return h.client, 0
	}
	cfg, err := h.flags.awsConfig(ctx, h.appID)
	if err != nil {
		h.e.errorf("AWS configuration: %v", err)
		return nil, exitUsage
	}
	h.client = history.NewClient(cfg)
	return h.client, 0
}

// one reads, decrypts and writes one history, from the API (arn) or a file.
func (h *historyRun) one(ctx context.Context, arn, file string) int {
	var hist *history.History
	title := arn
	if arn != "" {
		h.echo("execution " + arn)
		c, code := h.sfnClient(ctx)
		if c == nil {
			return code
		}
		var err error
		if hist, err = c.History(ctx, arn, nil); err != nil {
			h.e.errorf("%v", err)
			return exitForAPI(err)
		}
	} else {
		title = file
		what := "history file " + file
		if file == "-" {
			title, what = "(stdin)", "history from standard input"
		}
		h.echo(what)
		data, err := h.e.readInput(file)
		if err != nil {
			h.e.errorf("%v", err)
			return exitFail
		}
		if hist, err = history.Parse(data); err != nil {
			h.e.errorf("%s: %v", title, err)
			return exitFail
		}
		if hist.Partial() {
			h.e.infof("warning: %s holds part of a history (it has a NextToken): later events are missing", title)
		}
	}
	code, err := h.write(ctx, hist, "", title, "    ", "")
	if err == nil {
		err = h.out.Flush()
	}
	if err != nil {
		h.e.errorf("%v", err)
		return exitFail
	}
	return code
}

// write decrypts a history, writes it and reports the tokens left in place
// on stderr, each prefixed by prefix. It returns the exit code for the
// tokens.
func (h *historyRun) write(ctx context.Context, hist *history.History, arn, title, indent, prefix string) (int, error) {
	fails := h.dec.Events(ctx, hist.Events())
	var err error
	if h.timeline != nil {
		err = h.timeline.WriteExecution(title, hist.Events())
	} else {
		err = hist.WriteJSON(h.out, arn, indent)
	}
	if err != nil {
		return exitFail, err
	}
	return h.report(fails, prefix), nil
}

// report lists tokens left in place on stderr and returns the exit code.
func (h *historyRun) report(fails []execdata.Failure, prefix string) int {
	return reportFailures(h.e, fails, prefix)
}

// result is one execution's history, decrypted and rendered.
type result struct {
	out    []byte
	stderr []string
	code   int
}

// many reads the histories of a state machine's executions, with bounded
// concurrency, and writes them in the listing's order.
func (h *historyRun) many(ctx context.Context, since time.Time) int {
	c, code := h.sfnClient(ctx)
	if c == nil {
		return code
	}
	h.echo("the executions of " + h.flags.machineARN)
	execs, err := c.Executions(ctx, h.flags.machineARN, h.flags.status, since)
	if err != nil {
		h.e.errorf("%v", err)
		return exitForAPI(err)
	}
	h.e.infof("%d executions to read", len(execs))
	prog := newProgress(h.e, len(execs))

	n := h.flags.concurrency
	window := make(chan struct{}, 4*n) // results waiting to be written
	jobs := make(chan int)
	done := make(chan struct {
		i int
		r result
	})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				done <- struct {
					i int
					r result
				}{i, h.read(ctx, c, execs[i].ARN)}
			}
		}()
	}
	go func() {
		for i := range execs {
			window <- struct{}{}
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(done)
	}()

	code = exitOK
	pending := map[int]result{}
	next, finished := 0, 0
	var werr error
	for d := range done {
		finished++
		pending[d.i] = d.r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-window
			prog.clear()
			for _, l := range r.stderr {
				h.e.infof("%s", l)
			}
			if werr == nil {
				if _, werr = h.e.stdout.Write(r.out); werr != nil {
					h.e.errorf("%v", werr)
				}
			}
			code = worse(code, r.code)
		}
		prog.show(finished)
	}
	prog.clear()
	if werr != nil {
		return worse(code, exitFail)
	}
	return code
}

// read reads, decrypts and renders one execution's history into a result.
func (h *historyRun) read(ctx context.Context, c *history.Client, arn string) result {
	var r result
	hist, err := c.History(ctx, arn, nil)
	if err != nil {
		r.stderr = append(r.stderr, "error: "+err.Error())
		r.code = exitForAPI(err)
		return r
	}
	var buf strings.Builder
	sub := &historyRun{e: &env{stderr: &lines{&r.stderr}}, flags: h.flags, readOutput: readOutput{dec: h.dec, appID: h.appID}}
	sub.out = bufio.NewWriter(&buf)
	if h.timeline != nil {
		sub.timeline = timeline.New(sub.out)
	}
	r.code, err = sub.write(ctx, hist, arn, arn, "", arn+" ")
	if err == nil {
		err = sub.out.Flush()
	}
	if err != nil {
		r.stderr = append(r.stderr, "error: "+arn+": "+err.Error())
		r.code = worse(r.code, exitFail)
	}
	r.out = []byte(buf.String())
	return r
}

// lines collects what is written to it as lines without the command's
// "sfn-decrypt: " prefix, to be printed later.
type lines struct{ l *[]string }

func (w *lines) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		*w.l = append(*w.l, strings.TrimPrefix(l, "sfn-decrypt: "))
	}
	return len(p), nil
}

// progress shows a progress line on stderr when stderr is a terminal, and
// nothing otherwise.
type progress struct {
	w     io.Writer
	total int
	shown bool
}

func newProgress(e *env, total int) *progress {
	p := &progress{total: total}
	if e.terminal != nil && e.terminal(e.stderr) {
		p.w = e.stderr
	}
	return p
}

func (p *progress) show(done int) {
	if p.w == nil {
		return
	}
	const width = 30
	fill := width * done / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d executions\x1b[K", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, p.total)
	p.shown = true
}

func (p *progress) clear() {
	if p.w != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
