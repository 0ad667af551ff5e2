package main

// What the commands that read execution data (history, logs, results, view)
// share: their flags' checks, the reason they send to AWS, and how they
// report the tokens they left in place.

import (
	"errors"
	"flag"
	"fmt"
	"golang.org/x/term"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
)

// parseSince reads --since: an RFC 3339 time, a date (midnight UTC), or a
// duration before now (Go syntax, or a number of days such as 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && days >= 0 && fmt.Sprint(days) == n {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q is not a time (RFC 3339 or YYYY-MM-DD) or a duration (36h, 7d)", s)
}

// maxReasonLen is the longest application id the AWS SDKs recommend.
const maxReasonLen = 50

// applicationID checks --reason and returns the AWS SDK application id it
// becomes: characters the user agent does not allow become '-', as the SDK
// itself would make them. what names what is read, for the message that asks
// for a reason ("this history").
func applicationID(reason, what string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", fmt.Errorf("--reason is required: say why you read %s (a ticket id, say); it is sent to AWS as the SDK application id and recorded by CloudTrail", what)
	}
	if n := utf8.RuneCountInString(reason); n > maxReasonLen {
		return "", fmt.Errorf("--reason is %d characters long; the AWS SDK application id holds at most %d: use a ticket id or a short phrase", n, maxReasonLen)
	}
	alnum := false
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			alnum = true
			return r
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
			return r
		}
		return '-'
	}, reason)
	if !alnum {
		return "", errors.New("--reason must hold a letter or digit")
	}
	return id, nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments, and returns the positional arguments. Everything after "--" is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// echoReason says on stderr what is read, and why: the reason and the
// application id it is sent as.
func echoReason(e *env, what, reason, appID string) {
	e.infof("reading %s; reason %q (sent as AWS SDK application id %q)", what, strings.TrimSpace(reason), appID)
}

// reportFailures lists tokens left in place on stderr, each line prefixed
// by prefix, and returns the exit code they call for: 2 if there were no
// AWS credentials, otherwise 1 if KMS was unavailable for any, otherwise 3
// if there are any. Failures of one cause (KMS down fails every token) make
// one line with their count and the first of them, in the order the causes
// first appear.
func reportFailures(e *env, fails []execdata.Failure, prefix string) int {
	var t tally
	t.add(fails...)
	return t.report(e, prefix)
}

// maxCauses bounds the causes a tally keeps apart; failures of further
// causes are counted under the last.
const maxCauses = 64

// tally counts tokens left in place by cause, keeping the first of each
// and the exit code they call for, in memory bounded by the causes, not the
// tokens: a reader of a stream of any length (results) adds as it goes.
type tally struct {
	causes []string
	by     map[string]*causeCount
	code   int
}

type causeCount struct {
	n     int
	first execdata.Failure
}

func (t *tally) add(fails ...execdata.Failure) {
	if t.by == nil {
		t.by = map[string]*causeCount{}
	}
	for _, f := range fails {
		c := f.Cause()
		cc, ok := t.by[c]
		if !ok && len(t.causes) == maxCauses {
			cc = t.by[t.causes[maxCauses-1]]
		} else if !ok {
			cc = &causeCount{first: f}
			t.by[c] = cc
			t.causes = append(t.causes, c)
		}
		cc.n++
		switch {
		case f.NoCredentials():
			t.code = exitUsage
		case f.Unavailable():
			t.code = worse(t.code, exitFail)
		default:
			t.code = worse(t.code, exitTokens)
		}
	}
}

// report lists the tally on stderr, each line prefixed by prefix, and
// returns the exit code it calls for.
func (t *tally) report(e *env, prefix string) int {
	for _, c := range t.causes {
		cc := t.by[c]
		if cc.n == 1 {
			e.infof("not decrypted: %s%s", prefix, cc.first.Describe())
			continue
		}
		e.infof("not decrypted: %s%d tokens, %s; the first at %s", prefix, cc.n, c, cc.first.Where())
	}
	if t.code == exitUsage {
		e.errorf("no AWS credentials to call KMS%s", credentialsHint)
	}
	return t.code
}

// worse returns the more serious of two exit codes: 2, 1, 4, 3, 0.
func worse(a, b int) int {
	rank := func(c int) int {
		return map[int]int{exitOK: 0, exitTokens: 1, exitAPI: 2, exitFail: 3, exitUsage: 4}[c]
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// isTerminal reports whether stream is a terminal (a character device).
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	// A terminal, not any character device: /dev/null is one too, and a
	// script that gives it as stdin must not be asked questions.
	return ok && term.IsTerminal(int(f.Fd()))
}
