package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// jsonEndpoint is a local endpoint that speaks an AWS JSON protocol (POST /,
// X-Amz-Target: <target><Operation>, Content-Type: application/x-amz-json-1.0
// or 1.1, signed with Signature Version 4). No AWS service runs offline; the
// Step Functions and CloudWatch Logs endpoints of the tests (sfnServer,
// logsServer) are built on it so that the real SDK clients, pointed at them
// with the standard endpoint variables, are exercised. It checks requests,
// records them as R (and logs one line per request), and writes answers:
// pages, errors in the protocol's shape, and the faults (cut-off and invalid
// pages) that imitate what the network does.
type jsonEndpoint[R fmt.Stringer] struct {
	URL string
	srv *httptest.Server
	log io.Writer // optional: one line per request

	target      string // the X-Amz-Target prefix, such as "AWSStepFunctions."
	contentType string // "application/x-amz-json-1.0" or "...-1.1"
	errorType   string // what comes before the code in an error's "__type"

	mu       sync.Mutex
	requests []R
}

// endpoint is a started jsonEndpoint, whatever it serves.
type endpoint interface {
	Close()
	url() string
}

// start starts serving: a request of the protocol goes to handle with its
// operation, any other is answered with a SerializationException.
func (e *jsonEndpoint[R]) start(handle func(w http.ResponseWriter, r *http.Request, op string)) {
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), e.target)
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != e.contentType ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			e.fail(w, 400, "SerializationException", "not a signed JSON "+strings.TrimPrefix(e.contentType, "application/x-amz-json-")+" request")
			return
		}
		handle(w, r, op)
	}))
	e.URL = e.srv.URL
}

func (e *jsonEndpoint[R]) Close() { e.srv.Close() }

func (e *jsonEndpoint[R]) url() string { return e.URL }

// Requests returns the requests served so far.
func (e *jsonEndpoint[R]) Requests() []R {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]R(nil), e.requests...)
}

// record adds a request to those served. e.mu must be held.
func (e *jsonEndpoint[R]) record(req R) {
	e.requests = append(e.requests, req)
	if e.log != nil {
		fmt.Fprintln(e.log, req)
	}
}

// fail answers with an error in the protocol's shape.
func (e *jsonEndpoint[R]) fail(w http.ResponseWriter, status int, code, msg string) {
	if status == 0 {
		status = 400
	}
	w.Header().Set("Content-Type", e.contentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.errorType + code, "message": msg})
}

// reply answers with body, or as a fault of the given kind says: "error"
// (code, status), "truncate" (the body is cut off below its Content-Length),
// "badjson" (a complete body that is not JSON). An empty kind is no fault.
func (e *jsonEndpoint[R]) reply(w http.ResponseWriter, body []byte, kind, code string, status int) {
	switch kind {
	case "error":
		e.fail(w, status, code, "injected fault")
		return
	case "badjson":
		body = body[:len(body)/2]
	case "truncate":
		// Announce the whole body, send half, and close the connection.
		w.Header().Set("Content-Type", e.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(200)
		w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", e.contentType)
	w.Write(body)
}

// pageOf reads a page token that the endpoints give ("page-N"): the page it
// names, 1 for no token, or false for a token they did not give.
func pageOf(token string) (int, bool) {
	if token == "" {
		return 1, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(token, "page-"))
	if err != nil || !strings.HasPrefix(token, "page-") {
		return 0, false
	}
	return n, true
}

// pageBounds returns where page (from 1) starts and ends among n items, size
// a page.
func pageBounds(page, size, n int) (start, end int) {
	start = min((page-1)*size, n)
	return start, min(start+size, n)
}

// inDir returns path, relative to dir if it is not absolute.
func inDir(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// startEndpoint starts an endpoint for the recording rec, whose relative
// files are read from dir, with newEndpoint. It fails the test if the
// endpoint cannot start, and stops it when the test ends.
func startEndpoint[Rec any, S endpoint](t testing.TB, newEndpoint func(Rec, string, io.Writer) (S, error), rec Rec, dir string) S {
	t.Helper()
	s, err := newEndpoint(rec, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
