package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// logsServer is a local endpoint that speaks the Amazon CloudWatch Logs
// JSON 1.1 protocol (X-Amz-Target: Logs_20140328.<Operation>, see
// jsonEndpoint) and serves recorded log groups through FilterLogEvents: with
// its filter pattern on execution_arn, its time range and its page tokens,
// for the real SDK client pointed at it with
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS. Its faults (throttling, errors, cut-off
// and invalid pages) imitate what the service and the network do. For
// --follow, a log group's events can appear over time: see
// recordedGroup.Reveal.
type logsServer struct {
	jsonEndpoint[logsRequest]
	rec    logsRecording
	events map[string][]wireLogEvent // by log group name
	polls  map[string]int            // first-page requests by log group
	// onPoll, if set, is called (without the lock) with a log group's
	// poll count at each first-page request, before it is answered.
	onPoll func(group string, poll int)
}

// logsRecording is what a logsServer serves, as JSON (logs.json in scripts).
type logsRecording struct {
	// Groups by log group name.
	Groups map[string]recordedGroup `json:"groups"`
	Faults []*logsFault             `json:"faults"`
}

// recordedGroup is a log group: the events of a saved "aws logs
// filter-log-events" or "get-log-events" document (relative to the
// recording's directory), served PageSize a page, or an error code to answer
// with.
type recordedGroup struct {
	File     string `json:"file"`
	PageSize int    `json:"pageSize"`
	Error    string `json:"error"`
	// Stream names the log stream of events that do not say (as
	// get-log-events prints them).
	Stream string `json:"stream"`
	// Reveal, if set, makes events appear over time: at the i-th poll (a
	// request without a page token, from 1) only the first Reveal[i-1]
	// events of the file exist; after the last entry, all do.
	Reveal []int `json:"reveal"`
}

// logsFault makes the server answer matching requests with a fault.
type logsFault struct {
	Group string `json:"group"` // log group name, or "" for any
	Page  int    `json:"page"`  // 1-based page, or 0 for any
	Poll  int    `json:"poll"`  // 1-based poll, or 0 for any
	// Kind: "error" (Code, Status), "truncate" (the body is cut off below
	// its Content-Length), "badjson" (a complete body that is not JSON).
	Kind   string `json:"kind"`
	Code   string `json:"code"`
	Status int    `json:"status"`
	Count  int    `json:"count"` // how many requests; 0 for all
	used   int
}

// wireLogEvent is a log event as FilterLogEvents sends it.
type wireLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type logsRequest struct {
	Op, Group, Pattern, NextToken, UserAgent string
	Start, End                               *int64
	Poll                                     int
}

func (r logsRequest) String() string {
	t := func(p *int64) string {
		if p == nil {
			return "unset"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("%s group=%s pattern=%q start=%s end=%s token=%s poll=%d ua=%s", r.Op, r.Group, r.Pattern, t(r.Start), t(r.End), r.NextToken, r.Poll, r.UserAgent)
}

// startLogs starts a server for rec; relative files are read from dir. It
// stops when the test ends.
func startLogs(t testing.TB, rec logsRecording, dir string) *logsServer {
	t.Helper()
	return startEndpoint(t, newLogsServer, rec, dir)
}

// newLogsServer starts a server for rec; log, if not nil, gets a line per
// request.
func newLogsServer(rec logsRecording, dir string, log io.Writer) (*logsServer, error) {
	s := &logsServer{rec: rec, events: map[string][]wireLogEvent{}, polls: map[string]int{}, jsonEndpoint: jsonEndpoint[logsRequest]{
		log: log, target: "Logs_20140328.", contentType: "application/x-amz-json-1.1",
	}}
	for name, g := range rec.Groups {
		if g.File == "" {
			continue
		}
		evs, err := readLogEvents(inDir(dir, g.File), g.Stream)
		if err != nil {
			return nil, err
		}
		s.events[name] = evs
	}
	s.start(s.serve)
	return s, nil
}

// Polls returns the number of first-page requests for a log group so far.
func (s *logsServer) Polls(group string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls[group]
}

// readLogEvents reads the events of a saved document, filling in what
// get-log-events leaves out (stream, event id) as FilterLogEvents gives it.
func readLogEvents(path, stream string) ([]wireLogEvent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Events []struct {
			LogStreamName *string `json:"logStreamName"`
			Timestamp     int64   `json:"timestamp"`
			Message       string  `json:"message"`
			IngestionTime *int64  `json:"ingestionTime"`
			EventID       *string `json:"eventId"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var evs []wireLogEvent
	for i, e := range doc.Events {
		w := wireLogEvent{LogStreamName: stream, Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.Timestamp, EventID: fmt.Sprintf("%056d", i+1)}
		if e.LogStreamName != nil {
			w.LogStreamName = *e.LogStreamName
		}
		if e.IngestionTime != nil {
			w.IngestionTime = *e.IngestionTime
		}
		if e.EventID != nil {
			w.EventID = *e.EventID
		}
		evs = append(evs, w)
	}
	return evs, nil
}

// executionFilter is the one filter pattern the server understands.
var executionFilter = regexp.MustCompile(`^\{ \$\.execution_arn = "([^"]*)" \}$`)

func (s *logsServer) serve(w http.ResponseWriter, r *http.Request, op string) {
	if op != "FilterLogEvents" {
		s.fail(w, 400, "UnknownOperationException", "not recorded: "+op)
		return
	}
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		FilterPattern      string `json:"filterPattern"`
		StartTime          *int64 `json:"startTime"`
		EndTime            *int64 `json:"endTime"`
		NextToken          string `json:"nextToken"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.fail(w, 400, "SerializationException", err.Error())
		return
	}
	group := in.LogGroupName
	if (in.LogGroupName == "") == (in.LogGroupIdentifier == "") {
		s.fail(w, 400, "InvalidParameterException", "give logGroupName or logGroupIdentifier")
		return
	}
	if id := in.LogGroupIdentifier; id != "" {
		// An ARN, arn:aws:logs:REGION:ACCOUNT:log-group:NAME, or a name.
		group = id
		if i := strings.Index(id, ":log-group:"); strings.HasPrefix(id, "arn:") && i >= 0 {
			group = id[i+len(":log-group:"):]
		}
	}
	req := logsRequest{Op: op, Group: group, Pattern: in.FilterPattern, NextToken: in.NextToken, UserAgent: r.Header.Get("User-Agent"),
		Start: in.StartTime, End: in.EndTime}
	s.mu.Lock()
	if in.NextToken == "" {
		s.polls[group]++
	}
	req.Poll = s.polls[group]
	s.record(req)
	onPoll := s.onPoll
	s.mu.Unlock()
	if onPoll != nil && in.NextToken == "" {
		onPoll(group, req.Poll)
	}

	page, ok := pageOf(in.NextToken)
	if !ok {
		s.fail(w, 400, "InvalidParameterException", "The specified nextToken is invalid.")
		return
	}
	var execARN string
	if in.FilterPattern != "" {
		m := executionFilter.FindStringSubmatch(in.FilterPattern)
		if m == nil {
			s.fail(w, 400, "InvalidParameterException", "Invalid filter pattern")
			return
		}
		execARN = m[1]
	}
	s.mu.Lock()
	f := s.fault(group, page, req.Poll)
	s.mu.Unlock()

	g, ok := s.rec.Groups[group]
	switch {
	case !ok:
		s.fail(w, 400, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	case g.Error != "":
		s.fail(w, 400, g.Error, "recorded error")
		return
	}
	all := s.events[group]
	if n := len(g.Reveal); n > 0 && req.Poll <= n {
		all = all[:min(g.Reveal[req.Poll-1], len(all))]
	}
	var sel []wireLogEvent
	for _, e := range all {
		if in.StartTime != nil && e.Timestamp < *in.StartTime || in.EndTime != nil && e.Timestamp > *in.EndTime {
			continue
		}
		if execARN != "" {
			var m struct {
				ExecutionARN string `json:"execution_arn"`
			}
			if json.Unmarshal([]byte(e.Message), &m) != nil || m.ExecutionARN != execARN {
				continue
			}
		}
		sel = append(sel, e)
	}
	size := g.PageSize
	if size <= 0 {
		size = 10000
	}
	start, end := pageBounds(page, size, len(sel))
	out := map[string]any{"events": sel[start:end], "searchedLogStreams": []any{}}
	if end < len(sel) {
		out["nextToken"] = fmt.Sprintf("page-%d", page+1)
	}
	body, _ := json.Marshal(out)
	if f == nil {
		f = &logsFault{}
	}
	s.reply(w, body, f.Kind, f.Code, f.Status)
}

// fault returns the first fault that matches a request and counts it.
func (s *logsServer) fault(group string, page, poll int) *logsFault {
	for _, f := range s.rec.Faults {
		if (f.Group == "" || f.Group == group) && (f.Page == 0 || f.Page == page) && (f.Poll == 0 || f.Poll == poll) && (f.Count == 0 || f.used < f.Count) {
			f.used++
			return f
		}
	}
	return nil
}
