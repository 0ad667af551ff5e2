package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/history"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/logs"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/view"
	"github.com/sfnenc/sfnenc/jsontape"
)

const viewSynopsis = `view --config FILE --reason TEXT [--class C]... [--listen ADDR] [--open]
       (--execution-arn ARN | --log-group NAME --execution-arn ARN | FILE [--definition ASL] | -)
       [--event N | --state NAME]

Shows one execution, decrypted, as a local web page: the state graph with
each state coloured by what happened to it, the timeline of events, and each
event's input, parameters, result, output, error, cause and assigned
variables with the sfnenc tokens decrypted under your own AWS credentials and
KMS permissions. Each decrypted value shows its class; a token you may not
decrypt shows its class and why.

The events come from the Step Functions API (--execution-arn: the history
and, for the graph, DescribeExecution and DescribeStateMachineForExecution),
from CloudWatch Logs (--log-group with --execution-arn, for Express
workflows), or from a file or standard input holding what 'aws stepfunctions
get-execution-history' or 'aws logs filter-log-events' prints (--definition
names the state machine's ASL file; without it the graph is rebuilt from the
events).

The page opens on the execution's input and output, as the console does;
--event N opens it on event N, --state NAME on the state NAME. The page
shows, and copies, the command line that reopens what it shows, for a
colleague with the same rights (the page's URL is of this process only).

The page is served on --listen (loopback only) under a random secret path,
whose URL is printed on stdout; --open opens it in a browser (BROWSER, else
xdg-open) through a one-time launch link (the URL printed then ends in
?launch=...): the browser's first load trades it for a session cookie, and
nothing is served without that cookie, so another local user who reads the
browser's command line gets nothing. If the link is used twice, view warns
on stderr and serves nothing more. The command runs until interrupted (Ctrl-C). Decrypted data stays
in the command's memory and in the page: nothing is written to disk, stdout
or stderr.

--reason is required: it is sent to AWS as the SDK application id, as for
'history'.

Exit codes:
  0  interrupted after serving
  1  other failure: input unreadable, not a history or log, KMS unreachable,
     cannot listen
  2  usage or configuration error (flags, --reason, configuration file, ARN,
     a --listen address that is not loopback)
  4  the Step Functions or CloudWatch Logs API failed`

type viewFlags struct {
	readFlags
	executionARN string
	logGroup     string
	definition   string
	listen       string
	open         bool
	event        int64
	state        string
}

func cmdView(e *env, args []string) int {
	var vf viewFlags
	fs := newFlagSet(e, "view", viewSynopsis)
	vf.register(fs, true)
	fs.StringVar(&vf.reason, "reason", "", "why you read this execution (a ticket id, say); `TEXT` is sent as the AWS SDK application id; required")
	fs.StringVar(&vf.executionARN, "execution-arn", "", "read the execution `ARN` from the Step Functions API (or, with --log-group, from CloudWatch Logs)")
	fs.StringVar(&vf.logGroup, "log-group", "", "read the events of --execution-arn from the log group `NAME` (or ARN)")
	fs.StringVar(&vf.definition, "definition", "", "with FILE: the state machine's definition, an ASL `FILE`, for the graph")
	fs.StringVar(&vf.listen, "listen", "127.0.0.1:0", "serve the page on `ADDR` (a loopback address and port; port 0 picks one)")
	fs.BoolVar(&vf.open, "open", false, "open the page in a browser ($BROWSER, else xdg-open)")
	fs.Int64Var(&vf.event, "event", 0, "open the page on the event with id `N`")
	fs.StringVar(&vf.state, "state", "", "open the page on the state `NAME`")
	pos, err := parseInterspersed(fs, args)
	if code, ok := endFlags(e, fs, err); !ok {
		return code
	}
	if code := vf.check(e, pos); code != 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(e.context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	appID, err := applicationID(vf.reason, "this execution")
	if err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	cd, code := vf.newCodec(ctx, e, appID)
	if cd == nil {
		return code
	}
	execs, title, code := vf.read(ctx, e, appID, pos)
	if code != 0 {
		return code
	}
	dec := eventdata.NewDecryptor(cd)
	for _, x := range execs {
		dec.Fields(ctx, x.Events)
	}
	page := view.Build(title, execs)
	page.Open = view.Open{Event: vf.event, State: vf.state}
	if err := page.CheckOpen(); err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	page.Command = vf.command(pos)
	if n := page.NotDecrypted(); n > 0 {
		e.infof("%d tokens could not be decrypted; the page shows each with its class and the reason", n)
	}
	ln, err := net.Listen("tcp", vf.listen)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	defer ln.Close()
	srv, err := view.NewServer(page, ln.Addr())
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	url := srv.URL(ln.Addr())
	if vf.open {
		// The browser's command line is readable by every local user:
		// give it a one-time launch link instead of the page's URL.
		url = srv.LaunchURL(ln.Addr(), func(msg string) { e.errorf("%s", msg) })
	}
	if _, err := e.stdout.Write([]byte(url + "\n")); err != nil {
		return exitFail
	}
	e.infof("serving %s until interrupted", title)
	if vf.open {
		if err := openBrowser(e, url); err != nil {
			e.errorf("--open: %v", err)
		}
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-done:
		e.errorf("%v", err)
		return exitFail
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(shut)
	e.infof("stopped")
	return exitOK
}

func (vf *viewFlags) check(e *env, pos []string) int {
	usage := func(msg string) int { e.errorf("%s", msg); return exitUsage }
	switch {
	case len(pos) > 1:
		return usage("view reads one source: give one of --execution-arn and FILE")
	case len(pos) == 1 && vf.executionARN != "":
		return usage("view reads one source: give either --execution-arn or FILE")
	case len(pos) == 0 && vf.executionARN == "":
		return usage("view needs --execution-arn ARN (with --log-group NAME for CloudWatch Logs) or a FILE (- for stdin)")
	case vf.logGroup != "" && vf.executionARN == "":
		return usage("--log-group needs --execution-arn")
	case vf.definition != "" && len(pos) == 0:
		return usage("--definition goes with a FILE (the API gives the definition)")
	case vf.event != 0 && vf.state != "":
		return usage("the page opens on one thing: give --event or --state")
	case vf.event < 0:
		return usage("--event must be an event id (1 or more)")
	}
	if err := view.CheckListen(vf.listen); err != nil {
		return usage(err.Error())
	}
	if vf.executionARN != "" && vf.logGroup == "" {
		if _, err := history.ExecutionRegion(vf.executionARN); err != nil {
			return usage(err.Error())
		}
	}
	if vf.logGroup != "" {
		if _, err := logs.ParseLogGroup(vf.logGroup); err != nil {
			return usage(err.Error())
		}
		if _, err := logs.ExecutionRegion(vf.executionARN); err != nil {
			return usage(err.Error())
		}
	}
	return 0
}

// command is the command line that reopens the page, without what it opens
// on (the page adds --event or --state), or nil for a page read from
// standard input, which cannot be read again.
func (vf *viewFlags) command(pos []string) []string {
	argv := []string{"sfn-decrypt", "view", "--config", vf.config, "--reason", strings.TrimSpace(vf.reason)}
	for _, c := range vf.classes {
		argv = append(argv, "--class", c)
	}
	if vf.profile != "" {
		argv = append(argv, "--profile", vf.profile)
	}
	if vf.region != "" {
		argv = append(argv, "--region", vf.region)
	}
	if vf.maxSize != jsontape.DefaultMaxSize {
		argv = append(argv, "--max-size", strconv.Itoa(vf.maxSize))
	}
	switch {
	case vf.logGroup != "":
		argv = append(argv, "--log-group", vf.logGroup, "--execution-arn", vf.executionARN)
	case vf.executionARN != "":
		argv = append(argv, "--execution-arn", vf.executionARN)
	case pos[0] == "-":
		return nil
	default:
		if vf.definition != "" {
			argv = append(argv, "--definition", vf.definition)
		}
		argv = append(argv, pos[0])
	}
	return argv
}

// read reads the execution's events from its source.
func (vf *viewFlags) read(ctx context.Context, e *env, appID string, pos []string) ([]view.RawExecution, string, int) {
	switch {
	case vf.logGroup != "":
		q := logs.Query{ExecutionARN: vf.executionARN}
		q.LogGroup, _ = logs.ParseLogGroup(vf.logGroup)
		echoReason(e, q.Describe(), vf.reason, appID)
		cfg, err := vf.awsConfig(ctx, appID)
		if err != nil {
			e.errorf("AWS configuration: %v", err)
			return nil, "", exitUsage
		}
		lg, err := logs.NewClient(cfg).Events(ctx, q)
		if err != nil {
			e.errorf("%v", err)
			return nil, "", exitForAPI(err)
		}
		return view.ByExecution(lg.Events()), vf.executionARN, 0
	case vf.executionARN != "":
		echoReason(e, "execution "+vf.executionARN, vf.reason, appID)
		cfg, err := vf.awsConfig(ctx, appID)
		if err != nil {
			e.errorf("AWS configuration: %v", err)
			return nil, "", exitUsage
		}
		c := history.NewClient(cfg)
		d, err := c.Describe(ctx, vf.executionARN)
		if err != nil {
			e.errorf("%v", err)
			return nil, "", exitForAPI(err)
		}
		h, err := c.History(ctx, vf.executionARN, nil)
		if err != nil {
			e.errorf("%v", err)
			return nil, "", exitForAPI(err)
		}
		x := view.RawExecution{Title: vf.executionARN + " (" + d.Status + ")", Events: h.Events(), Definition: d.Definition}
		return []view.RawExecution{x}, vf.executionARN, 0
	}
	file := pos[0]
	title, what := filepath.Base(file), "file "+file
	if file == "-" {
		title, what = "(stdin)", "standard input"
	}
	echoReason(e, what, vf.reason, appID)
	data, err := e.readInput(file)
	if err != nil {
		e.errorf("%v", err)
		return nil, "", exitFail
	}
	var def []byte
	if vf.definition != "" {
		if def, err = os.ReadFile(vf.definition); err != nil {
			e.errorf("%v", err)
			return nil, "", exitFail
		}
		if !json.Valid(def) {
			e.errorf("--definition %s is not JSON", vf.definition)
			return nil, "", exitUsage
		}
	}
	if h, err := history.Parse(data); err == nil {
		x := view.RawExecution{Title: title, Events: h.Events(), Definition: def}
		return []view.RawExecution{x}, title, 0
	} else if !errors.Is(err, history.ErrNotHistory) {
		e.errorf("%s: %v", title, err)
		return nil, "", exitFail
	}
	lg, err := logs.Parse(data)
	if err != nil {
		e.errorf("%s: neither an execution history nor CloudWatch Logs events", title)
		return nil, "", exitFail
	}
	execs := view.ByExecution(lg.Events())
	if len(execs) == 0 {
		e.errorf("%s: no Step Functions events", title)
		return nil, "", exitFail
	}
	for i := range execs {
		execs[i].Definition = def
	}
	return execs, title, 0
}

// openBrowser starts $BROWSER, else xdg-open, on url, without waiting.
func openBrowser(e *env, url string) error {
	prog := e.getenv("BROWSER")
	if prog == "" {
		prog = "xdg-open"
	}
	cmd := exec.Command(prog, url)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
