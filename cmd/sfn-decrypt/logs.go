package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/logs"
)

const logsSynopsis = `logs --config FILE --reason TEXT [FLAGS] --log-group NAME (--execution-arn ARN | --start TIME) [--end TIME] [--follow]
       sfn-decrypt logs --config FILE --reason TEXT [FLAGS] (FILE | -)

Prints the events that AWS Step Functions writes to CloudWatch Logs (all an
Express workflow keeps of its executions; Standard workflows that log at
level ALL with execution data write them too) with the sfnenc tokens in their
data decrypted under your own AWS credentials and KMS permissions.

The events come from the CloudWatch Logs API (--log-group: every page of
FilterLogEvents, the events of one execution with --execution-arn, or of
every execution between --start and --end), or from a file or standard input
holding what 'aws logs filter-log-events --output json' or 'aws logs
get-log-events --output json' prints. With --follow the command keeps
reading new events as they arrive (from --start, or 10 minutes ago) until it
is interrupted (Ctrl-C). Calls go to the region of the log group ARN, else of
the execution ARN, else of the AWS configuration.

A log message that is a Step Functions event has its input, output,
parameters, error and cause decrypted in place; any other message passes
through as it is. Data that Step Functions truncated to fit a log event is
decrypted as far as it goes and listed on stderr; a token it cut off stays as
it is. --output json writes the input's shape (with --follow, one log event
per line); --output text writes a timeline grouped by execution.

--reason is required: it is sent to AWS as the SDK application id, so that it
appears in the user agent CloudTrail records for every CloudWatch Logs and
KMS call, and it is printed to stderr. At most 50 characters; characters
other than letters, digits and !#$%&'*+-.^_` + "`" + `|~ are sent as '-'.

A token you may not or cannot decrypt stays in the output as it is (marked
with the reason in text output) and is listed on stderr by execution, event,
field, JSON Pointer and class; tokens that failed for one cause make one line
with their count and the first of them. Decrypted data goes to stdout only.

Exit codes:
  0  every token decrypted (or left alone by --class)
  1  other failure: input unreadable, not a document of log events, KMS
     unreachable or throttled past the retries, output not writable
  2  usage or configuration error (flags, --reason, configuration file, ARN)
  3  some tokens could not be decrypted (denied, wrong key or context,
     altered, cut off by Step Functions); the rest of the output is written
  4  the CloudWatch Logs API failed: no such log group, access denied,
     throttled past the retries, invalid or truncated response`

type logsFlags struct {
	readFlags
	logGroup     string
	executionARN string
	start, end   string
	follow       bool
	interval     time.Duration
}

// followDefaultStart is how far back --follow starts without --start.
const followDefaultStart = 10 * time.Minute

func cmdLogs(e *env, args []string) int {
	var lf logsFlags
	fs := newFlagSet(e, "logs", logsSynopsis)
	lf.registerRead(fs, "these logs", "a timeline by execution")
	fs.StringVar(&lf.logGroup, "log-group", "", "read the log group `NAME` (or ARN) from the CloudWatch Logs API")
	fs.StringVar(&lf.executionARN, "execution-arn", "", "with --log-group: only the events of the execution `ARN` (Express or Standard)")
	fs.StringVar(&lf.start, "start", "", "with --log-group: only events at or after `TIME` (RFC 3339, YYYY-MM-DD, or a duration ago such as 2h or 7d)")
	fs.StringVar(&lf.end, "end", "", "with --log-group: only events at or before `TIME` (as --start)")
	fs.BoolVar(&lf.follow, "follow", false, "with --log-group: keep reading new events until interrupted")
	fs.DurationVar(&lf.interval, "interval", 2*time.Second, "with --follow: wait `DURATION` between polls")
	pos, err := parseInterspersed(fs, args)
	if code, ok := endFlags(e, fs, err); !ok {
		return code
	}
	q, code := lf.check(e, pos, time.Now())
	if code != 0 {
		return code
	}
	ctx := e.context()
	ro, code := lf.newReadOutput(ctx, e, "these logs")
	if code != 0 {
		return code
	}
	l := &logsRun{e: e, flags: &lf, readOutput: ro}
	switch {
	case lf.follow:
		return l.followAPI(ctx, q)
	case lf.logGroup != "":
		return l.readAPI(ctx, q)
	default:
		return l.readFile(ctx, pos[0])
	}
}

// check validates the flag combination and returns the query for the API.
func (lf *logsFlags) check(e *env, pos []string, now time.Time) (logs.Query, int) {
	var q logs.Query
	usage := func(format string, args ...any) (logs.Query, int) {
		e.errorf(format, args...)
		return logs.Query{}, exitUsage
	}
	api := lf.logGroup != ""
	switch {
	case len(pos) == 0 && !api:
		return usage("logs needs --log-group NAME (with --execution-arn ARN or --start TIME), or a FILE (- for stdin)")
	case len(pos) > 1 || len(pos) == 1 && api:
		return usage("logs reads one source: give either --log-group or one FILE")
	case !api && (lf.executionARN != "" || lf.start != "" || lf.end != "" || lf.follow):
		return usage("--execution-arn, --start, --end and --follow need --log-group")
	case api && lf.executionARN == "" && lf.start == "" && !lf.follow:
		return usage("--log-group needs --execution-arn ARN or --start TIME (or --follow)")
	case lf.follow && lf.end != "":
		return usage("--follow reads until interrupted: it takes no --end")
	case lf.interval <= 0:
		return usage("--interval must be positive")
	case lf.output != "json" && lf.output != "text":
		return usage("--output must be json or text")
	}
	if !api {
		return q, 0
	}
	var err error
	if q.LogGroup, err = logs.ParseLogGroup(lf.logGroup); err != nil {
		return usage("%v", err)
	}
	if lf.executionARN != "" {
		if _, err := logs.ExecutionRegion(lf.executionARN); err != nil {
			return usage("%v", err)
		}
		q.ExecutionARN = lf.executionARN
	}
	for _, t := range []struct {
		flag, value string
		to          *time.Time
	}{{"--start", lf.start, &q.Start}, {"--end", lf.end, &q.End}} {
		if t.value == "" {
			continue
		}
		if *t.to, err = parseSince(t.value, now); err != nil {
			return usage("%s", strings.Replace(err.Error(), "--since", t.flag, 1))
		}
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		return usage("--end is before --start")
	}
	if lf.follow && q.Start.IsZero() {
		q.Start = now.Add(-followDefaultStart)
	}
	return q, 0
}

// logsRun is one run of the logs command.
type logsRun struct {
	e     *env
	flags *logsFlags
	readOutput
}

func (l *logsRun) client(ctx context.Context) (*logs.Client, int) {
	cfg, err := l.flags.awsConfig(ctx, l.appID)
	if err != nil {
		l.e.errorf("AWS configuration: %v", err)
		return nil, exitUsage
	}
	return logs.NewClient(cfg), 0
}

func (l *logsRun) readFile(ctx context.Context, file string) int {
	title, what := file, "log file "+file
	if file == "-" {
		title, what = "(stdin)", "log events from standard input"
	}
	echoReason(l.e, what, l.flags.reason, l.appID)
	data, err := l.e.readInput(file)
	if err != nil {
		l.e.errorf("%v", err)
		return exitFail
	}
	lg, err := logs.Parse(data)
	if err != nil {
		l.e.errorf("%s: %v", title, err)
		return exitFail
	}
	if lg.Partial() {
		l.e.infof("warning: %s holds part of the events (it has a NextToken): later events are missing", title)
	}
	return l.write(ctx, lg)
}

func (l *logsRun) readAPI(ctx context.Context, q logs.Query) int {
	echoReason(l.e, q.Describe(), l.flags.reason, l.appID)
	c, code := l.client(ctx)
	if c == nil {
		return code
	}
	lg, err := c.Events(ctx, q)
	if err != nil {
		l.e.errorf("%v", err)
		return exitForAPI(err)
	}
	return l.write(ctx, lg)
}

// write decrypts a whole log, writes it and reports on stderr.
func (l *logsRun) write(ctx context.Context, lg *logs.Log) int {
	fails := l.dec.Events(ctx, lg.Events())
	var err error
	if l.timeline != nil {
		err = l.timeline.WriteGrouped(lg.Events(), lg.Messages())
	} else {
		err = lg.WriteJSON(l.out, "    ")
	}
	if err == nil {
		err = l.out.Flush()
	}
	code := l.report(lg.Report(), fails)
	if err != nil {
		l.e.errorf("%v", err)
		return worse(code, exitFail)
	}
	if len(lg.Records) == 0 {
		l.e.infof("no log events")
	}
	return code
}

// report writes what reading and decryption found to stderr and returns
// the exit code it calls for.
func (l *logsRun) report(rep logs.Report, fails []execdata.Failure) int {
	for _, t := range rep.Truncations {
		l.e.infof("warning: %s", t.Describe())
	}
	code := reportFailures(l.e, fails, "")
	for _, err := range rep.Errors {
		l.e.errorf("%v", err)
		code = worse(code, exitFail)
	}
	switch {
	case rep.Others == 1 && rep.OthersWithTokens > 0:
		l.e.infof("1 log message is not a Step Functions event and passes through as it is; tokens in it are not decrypted")
	case rep.Others == 1:
		l.e.infof("1 log message is not a Step Functions event and passes through as it is")
	case rep.OthersWithTokens > 0:
		l.e.infof("%d log messages are not Step Functions events and pass through as they are; tokens in %d of them are not decrypted", rep.Others, rep.OthersWithTokens)
	case rep.Others > 0:
		l.e.infof("%d log messages are not Step Functions events and pass through as they are", rep.Others)
	}
	return code
}

// followAPI tails the log group until the context ends (an interrupt).
func (l *logsRun) followAPI(ctx context.Context, q logs.Query) int {
	// A batch being decrypted when the interrupt comes is finished and
	// written; a second interrupt ends the command at once.
	decCtx := context.WithoutCancel(ctx)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	echoReason(l.e, q.Describe()+", following until interrupted", l.flags.reason, l.appID)
	c, code := l.client(ctx)
	if c == nil {
		return code
	}
	code = exitOK
	var line []byte
	err := c.Follow(ctx, q, l.flags.interval, func(lg *logs.Log) error {
		fails := l.dec.Events(decCtx, lg.Events())
		var err error
		if l.timeline != nil {
			err = l.timeline.WriteGrouped(lg.Events(), lg.Messages())
		} else {
			for i := range lg.Records {
				line = append(lg.AppendRecord(line[:0], i), '\n')
				if _, err = l.out.Write(line); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = l.out.Flush()
		}
		code = worse(code, l.report(lg.Report(), fails))
		return err
	})
	if err != nil {
		l.e.errorf("%v", err)
		return worse(code, exitForAPI(err))
	}
	l.e.infof("stopped following %s", q.LogGroup)
	return code
}
