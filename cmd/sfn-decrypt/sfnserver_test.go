package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sfnServer is a local endpoint that speaks the AWS Step Functions JSON 1.0
// protocol (X-Amz-Target: AWSStepFunctions.<Operation>, see jsonEndpoint)
// and serves recorded pages of GetExecutionHistory and ListExecutions, for
// the real SDK client pointed at it with AWS_ENDPOINT_URL_SFN. Its faults
// (throttling, errors, cut-off and invalid pages) imitate what the service
// and the network do.
type sfnServer struct {
	jsonEndpoint[sfnRequest]
	rec   recording
	pages map[string][][]byte // execution ARN -> wire pages
}

// recording is what an sfnServer serves, as JSON (sfn.json in scripts).
type recording struct {
	// Histories by execution ARN: a history file (relative to the
	// recording's directory) served in pages of PageSize events, or an
	// error code to answer with.
	Histories map[string]recordedHistory `json:"histories"`
	// Executions by state machine ARN, most recent first.
	Executions map[string]recordedList `json:"executions"`
	Faults     []*sfnFault             `json:"faults"`
}

type recordedHistory struct {
	File     string `json:"file"`
	PageSize int    `json:"pageSize"`
	Error    string `json:"error"`
	// Status and Definition (ASL text) answer DescribeExecution and
	// DescribeStateMachineForExecution.
	Status     string `json:"status"`
	Definition string `json:"definition"`
}

type recordedList struct {
	PageSize int `json:"pageSize"`
	Items    []struct {
		ExecutionArn string `json:"executionArn"`
		Status       string `json:"status"`
		StartDate    string `json:"startDate"` // RFC 3339
	} `json:"items"`
	Error string `json:"error"`
}

// sfnFault makes the server answer matching requests with a fault.
type sfnFault struct {
	Op   string `json:"op"`   // operation, or "" for any
	ARN  string `json:"arn"`  // execution or state machine ARN, or "" for any
	Page int    `json:"page"` // 1-based page, or 0 for any
	// Kind: "error" (Code, Status), "truncate" (the body is cut off below
	// its Content-Length), "badjson" (a complete body that is not JSON).
	Kind   string `json:"kind"`
	Code   string `json:"code"`
	Status int    `json:"status"`
	Count  int    `json:"count"` // how many requests; 0 for all
	used   int
}

type sfnRequest struct {
	Op, ARN, NextToken, UserAgent string
	IncludeExecutionData          *bool
	Status                        string
}

func (r sfnRequest) String() string {
	ied := "unset"
	if r.IncludeExecutionData != nil {
		ied = strconv.FormatBool(*r.IncludeExecutionData)
	}
	return fmt.Sprintf("%s arn=%s token=%s includeExecutionData=%s status=%s ua=%s", r.Op, r.ARN, r.NextToken, ied, r.Status, r.UserAgent)
}

// startSFN starts a server for rec; relative history files are read from
// dir. It stops when the test ends.
func startSFN(t testing.TB, rec recording, dir string) *sfnServer {
	t.Helper()
	return startEndpoint(t, newSFNServer, rec, dir)
}

// newSFNServer starts a server for rec; log, if not nil, gets a line per
// request.
func newSFNServer(rec recording, dir string, log io.Writer) (*sfnServer, error) {
	s := &sfnServer{rec: rec, pages: map[string][][]byte{}, jsonEndpoint: jsonEndpoint[sfnRequest]{
		log: log, target: "AWSStepFunctions.", contentType: "application/x-amz-json-1.0", errorType: "com.amazonaws.swf.service.v2.model#",
	}}
	for arn, h := range rec.Histories {
		if h.File == "" {
			continue
		}
		pages, err := wirePages(inDir(dir, h.File), h.PageSize)
		if err != nil {
			return nil, err
		}
		s.pages[arn] = pages
	}
	s.start(s.serve)
	return s, nil
}

// wirePages reads a history in the AWS CLI's shape and makes the pages the
// API would send: events as the service writes them (timestamps as epoch
// seconds), pageSize events a page.
func wirePages(path string, pageSize int) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if pageSize <= 0 {
		pageSize = 1000
	}
	var pages [][]byte
	for i := 0; i < len(h.Events) || i == 0; i += pageSize {
		end := min(i+pageSize, len(h.Events))
		var evs []json.RawMessage
		for _, e := range h.Events[i:end] {
			// The service sends members in the order the CLI prints them,
			// with the timestamp in epoch seconds.
			var c bytes.Buffer
			if err := json.Compact(&c, e); err != nil {
				return nil, err
			}
			raw := c.Bytes()
			var head struct {
				Timestamp string `json:"timestamp"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return nil, fmt.Errorf("%s: timestamp: %v", path, err)
			}
			tm, err := time.Parse(time.RFC3339Nano, head.Timestamp)
			if err != nil {
				return nil, err
			}
			old := []byte(`"timestamp":"` + head.Timestamp + `"`)
			if !bytes.HasPrefix(raw, []byte("{"+string(old))) {
				return nil, fmt.Errorf("%s: the timestamp is not the first member of an event", path)
			}
			epoch := strconv.FormatFloat(float64(tm.UnixMilli())/1000, 'E', -1, 64)
			evs = append(evs, bytes.Replace(raw, old, []byte(`"timestamp":`+epoch), 1))
		}
		page, err := json.Marshal(map[string]any{"events": evs})
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
	}
	return pages, nil
}

func (s *sfnServer) serve(w http.ResponseWriter, r *http.Request, op string) {
	var in struct {
		ExecutionArn         string `json:"executionArn"`
		StateMachineArn      string `json:"stateMachineArn"`
		NextToken            string `json:"nextToken"`
		IncludeExecutionData *bool  `json:"includeExecutionData"`
		StatusFilter         string `json:"statusFilter"`
		MaxResults           int    `json:"maxResults"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.fail(w, 400, "SerializationException", err.Error())
		return
	}
	arn := in.ExecutionArn + in.StateMachineArn
	req := sfnRequest{Op: op, ARN: arn, NextToken: in.NextToken, UserAgent: r.Header.Get("User-Agent"),
		IncludeExecutionData: in.IncludeExecutionData, Status: in.StatusFilter}
	s.mu.Lock()
	s.record(req)
	page, ok := pageOf(in.NextToken)
	if !ok {
		s.mu.Unlock()
		s.fail(w, 400, "InvalidToken", "Invalid Token: '"+in.NextToken+"'")
		return
	}
	f := s.fault(op, arn, page)
	s.mu.Unlock()

	var body []byte
	switch op {
	case "GetExecutionHistory":
		h, ok := s.rec.Histories[arn]
		switch {
		case !ok:
			s.fail(w, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+arn+"'")
			return
		case h.Error != "":
			s.fail(w, 400, h.Error, "recorded error")
			return
		case in.IncludeExecutionData == nil || !*in.IncludeExecutionData:
			// The service's default is true, but the command must ask.
			s.fail(w, 400, "ValidationException", "includeExecutionData must be true in these tests")
			return
		}
		pages := s.pages[arn]
		if page > len(pages) {
			s.fail(w, 400, "InvalidToken", "Invalid Token")
			return
		}
		body = pages[page-1]
		if page < len(pages) {
			body = withNextToken(body, page+1)
		}
	case "DescribeExecution", "DescribeStateMachineForExecution":
		h, ok := s.rec.Histories[arn]
		switch {
		case !ok:
			s.fail(w, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+arn+"'")
			return
		case h.Error != "":
			s.fail(w, 400, h.Error, "recorded error")
			return
		}
		machine := strings.Replace(arn[:strings.LastIndexByte(arn, ':')], ":execution:", ":stateMachine:", 1)
		if op == "DescribeExecution" {
			body, _ = json.Marshal(map[string]any{"executionArn": arn, "stateMachineArn": machine, "status": h.Status, "startDate": 1715000000})
		} else {
			body, _ = json.Marshal(map[string]any{"stateMachineArn": machine, "name": "orders", "definition": h.Definition,
				"roleArn": "arn:aws:iam::111122223333:role/orders", "updateDate": 1715000000})
		}
	case "ListExecutions":
		l, ok := s.rec.Executions[arn]
		switch {
		case !ok:
			s.fail(w, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '"+arn+"'")
			return
		case l.Error != "":
			s.fail(w, 400, l.Error, "recorded error")
			return
		}
		type item struct {
			ExecutionArn    string  `json:"executionArn"`
			StateMachineArn string  `json:"stateMachineArn"`
			Name            string  `json:"name"`
			Status          string  `json:"status"`
			StartDate       float64 `json:"startDate"`
		}
		var items []item
		for _, it := range l.Items {
			if in.StatusFilter != "" && it.Status != in.StatusFilter {
				continue
			}
			tm, err := time.Parse(time.RFC3339, it.StartDate)
			if err != nil {
				s.fail(w, 500, "InternalError", err.Error())
				return
			}
			items = append(items, item{it.ExecutionArn, arn, it.ExecutionArn[strings.LastIndexByte(it.ExecutionArn, ':')+1:], it.Status, float64(tm.Unix())})
		}
		size := l.PageSize
		if size <= 0 {
			size = 100
		}
		start, end := pageBounds(page, size, len(items))
		out := map[string]any{"executions": items[start:end]}
		if end < len(items) {
			out["nextToken"] = fmt.Sprintf("page-%d", page+1)
		}
		body, _ = json.Marshal(out)
	default:
		s.fail(w, 400, "UnknownOperationException", "not recorded: "+op)
		return
	}
	if f == nil {
		f = &sfnFault{}
	}
	s.reply(w, body, f.Kind, f.Code, f.Status)
}

// fault returns the first fault that matches a request and counts it.
func (s *sfnServer) fault(op, arn string, page int) *sfnFault {
	for _, f := range s.rec.Faults {
		if (f.Op == "" || f.Op == op) && (f.ARN == "" || f.ARN == arn) && (f.Page == 0 || f.Page == page) && (f.Count == 0 || f.used < f.Count) {
			f.used++
			return f
		}
	}
	return nil
}

func withNextToken(page []byte, next int) []byte {
	b := bytes.Clone(bytes.TrimSuffix(page, []byte("}")))
	return append(b, fmt.Sprintf(`,"nextToken":"page-%d"}`, next)...)
}
