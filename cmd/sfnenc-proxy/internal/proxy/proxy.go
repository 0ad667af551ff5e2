// Package proxy serves the Lambda Runtime API to a runtime and forwards it
// to the real one, with the middleware's contract between the two: the
// runtime's GET .../invocation/next gets the event decrypted by contract,
// its POST .../response goes on encrypted by the rules, and its POST
// .../error goes on as errorType and a sealed or redacted errorMessage only.
//
// The contract itself is lambdamw's ([lambdamw.Contract]): one
// implementation behind two doors. lambda.Start is the first door; this
// proxy is the second, and it adapts the Runtime API's two halves (the
// runtime's next, then its response or error) to one call of
// [lambdamw.Contract.Invoke], whose handler hands the plaintext to the
// waiting next and waits for the runtime's answer. The proxy speaks HTTP
// and imports no aws-lambda-go package: the Contract takes bytes, a
// request id and a context, and returns bytes or a [lambdamw.Failure].
//
// Everything else passes through unchanged: every header of next (request
// id, deadline, function ARN, trace id, client context, Cognito identity,
// tenant id, and any header added later), init errors, restore errors and
// any other path. Three things are refused rather than passed on: a
// streamed response (it cannot be sealed), an answer for an invocation the
// proxy did not hand out, and an error report's fields other than
// errorType and errorMessage (Node.js's trace and Python's stackTrace
// repeat the message or hold values) with the
// Lambda-Runtime-Function-XRay-Error-Cause header.
//
// The answer to GET .../restore/next is the restore signal of SnapStart:
// before passing it on, the proxy replaces its contract by a new one, so no
// data key, keyset or AWS credential of before the snapshot is used again.
//
// Entry points: [New], and [Server.ServeHTTP].
package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sfnenc/sfnenc/lambdamw"
)

// The Runtime API's headers that the proxy reads or writes.
const (
	hdrRequestID    = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline     = "Lambda-Runtime-Deadline-Ms"
	hdrErrorType    = "Lambda-Runtime-Function-Error-Type"
	hdrResponseMode = "Lambda-Runtime-Function-Response-Mode"
)

// maxBody bounds what the proxy reads of a runtime's response or error: a
// synchronous Lambda response is at most 6 MB. The contract refuses a
// result over the Step Functions limit anyway (sfnenc.ResultTooLarge).
const maxBody = 6 << 20

// Server is the proxied Runtime API. It is safe for concurrent requests,
// and serves concurrent invocations (Lambda Managed Instances).
type Server struct {
	upstream    string // host:port of the real Runtime API
	client      *http.Client
	passthrough *httputil.ReverseProxy
	newContract func() *lambdamw.Contract
	contract    atomic.Pointer[lambdamw.Contract]
	built       chan struct{} // closed once the first contract is built
	closing     chan struct{}
	closeOnce   sync.Once

	mu      sync.Mutex
	pending map[string]*invocation // by request id, from next to the answer
}

// New returns a proxy to the Runtime API at upstream (host:port, as in
// AWS_LAMBDA_RUNTIME_API). newContract builds the contract (reading the
// configuration, loading the AWS configuration); it is called now, in a
// goroutine of its own, so that the runtime can start meanwhile: the
// first event waits for it. It is called again after each restore from a
// snapshot.
func New(upstream string, newContract func() *lambdamw.Contract) *Server {
	tr := &http.Transport{
		Proxy:               nil, // loopback: never through HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	s := &Server{
		upstream:    upstream,
		client:      &http.Client{Transport: tr},
		newContract: newContract,
		closing:     make(chan struct{}),
		built:       make(chan struct{}),
		pending:     map[string]*invocation{},
	}
	s.passthrough = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", upstream, upstream
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.logger().LogAttrs(r.Context(), slog.LevelError, "sfnenc-proxy: Runtime API unreachable",
				slog.String("path", r.URL.Path), slog.String("error", err.Error()))
			apiError(w, http.StatusBadGateway, "Runtime.Unavailable", "sfnenc-proxy: the Runtime API did not answer")
		},
	}
	go func() {
		s.contract.Store(newContract())
		close(s.built)
	}()
	return s
}

// current returns the contract, once it is built.
func (s *Server) current() *lambdamw.Contract {
	<-s.built
	return s.contract.Load()
}

// Close makes invocations that wait for the runtime's answer give up: the
// runtime is gone.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }

func (s *Server) logger() *slog.Logger { return s.current().Logger() }

// Logger returns the logger of the contract (SFNENC_LOG_LEVEL), for the
// proxy's own records.
func (s *Server) Logger() *slog.Logger { return s.logger() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A path the Runtime API might read otherwise than the proxy does
	// (dot segments, doubled or encoded slashes) is refused rather than
	// passed on: a result must not reach the API around the contract.
	if r.URL.RawPath != "" || path.Clean(r.URL.Path) != r.URL.Path {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "sfnenc-proxy: the path is not in its plain form")
		return
	}
	const prefix = "/2018-06-01/runtime/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		s.passthrough.ServeHTTP(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && rest == "invocation/next":
		s.next(w, r)
	case r.Method == http.MethodGet && rest == "restore/next":
		s.restore(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "invocation/"):
		id, kind, ok := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		switch {
		case ok && kind == "response":
			s.answer(w, r, id, false)
		case ok && kind == "error":
			s.answer(w, r, id, true)
		default:
			// Nothing else is posted about an invocation.
			apiError(w, http.StatusBadRequest, "InvalidRequest", "sfnenc-proxy: no such Runtime API call")
		}
	default:
		s.passthrough.ServeHTTP(w, r)
	}
}

// invocation is one event between next and the runtime's answer.
type invocation struct {
	plain  chan []byte // the decrypted event, for next
	answer chan answer // the runtime's response or error, for the contract
	done   chan struct{}
	out    []byte             // the encrypted result, once done
	fail   *lambdamw.Failure  // or the failure to report, once done
	cancel context.CancelFunc // ends the invocation's context
}

type answer struct {
	body []byte
	err  error
}

// errNoAnswer and errStreaming are failures of the door (the proxy), not of
// the handler: their texts are the message Step Functions records.
var (
	errNoAnswer  = errors.New("sfnenc-proxy: the runtime gave no answer before the function's deadline")
	errGone      = errors.New("sfnenc-proxy: the runtime went away before it answered")
	errStreaming = errors.New("sfnenc-proxy: the function streamed its response (" + hdrResponseMode +
		": streaming), which cannot be encrypted by the rules: nothing of it was returned; response streaming is not supported behind sfnenc-proxy")
	errTooBig = fmt.Errorf("sfnenc-proxy: the function's response is over %d bytes", maxBody)
)

// next gets the next event from the Runtime API, decrypts it by contract
// and gives the runtime the plaintext with every header of the real
// answer. An event that breaks the contract or does not decrypt is
// reported to the Runtime API here, and the runtime waits for the next one.
func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	for {
		resp, err := s.forward(r.Context(), r.Method, r.URL.RequestURI(), r.Header, nil)
		if err != nil {
			if r.Context().Err() == nil {
				s.logger().LogAttrs(r.Context(), slog.LevelError, "sfnenc-proxy: Runtime API unreachable",
					slog.String("path", r.URL.Path), slog.String("error", err.Error()))
				apiError(w, http.StatusBadGateway, "Runtime.Unavailable", "sfnenc-proxy: the Runtime API did not answer")
			}
			return
		}
		id := resp.Header.Get(hdrRequestID)
		if resp.StatusCode != http.StatusOK || id == "" {
			// Not an event (an error of the API): as it came.
			copyResponse(w, resp)
			return
		}
		event, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			// The event is lost with the connection; the API times the
			// invocation out.
			s.logger().LogAttrs(r.Context(), slog.LevelError, "sfnenc-proxy: event unreadable",
				slog.String("requestId", id), slog.String("error", err.Error()))
			apiError(w, http.StatusBadGateway, "Runtime.Unavailable", "sfnenc-proxy: the event could not be read from the Runtime API")
			return
		}
		inv, ok := s.start(id, resp.Header.Get(hdrDeadline), event)
		if !ok {
			// Two events with one request id: the runtime could not
			// answer them apart. Refuse the second.
			s.report(r.Context(), id, &lambdamw.Failure{Type: lambdamw.ErrorTypeDecrypt,
				Message: "sfnenc-proxy: a second event with the request id of one in progress"})
			continue
		}
		select {
		case plain := <-inv.plain:
			h := w.Header()
			for k, vs := range resp.Header {
				if !hopByHop(k) {
					h[k] = vs
				}
			}
			h.Set("Content-Length", strconv.Itoa(len(plain)))
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(plain)
			return
		case <-inv.done:
			// The contract refused the event before the handler: the
			// proxy reports it, and fetches the next for the runtime.
			s.finish(id)
			s.report(r.Context(), id, inv.fail)
		}
	}
}

// start registers an invocation and runs the contract for it in its own
// goroutine. It returns false if an invocation with that id is in
// progress.
func (s *Server) start(id, deadline string, event []byte) (*invocation, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	if ms, err := strconv.ParseInt(deadline, 10, 64); err == nil && ms > 0 {
		ctx, cancel = context.WithDeadline(context.Background(), time.UnixMilli(ms))
	}
	inv := &invocation{
		plain:  make(chan []byte, 1),
		answer: make(chan answer, 1),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	s.mu.Lock()
	if _, dup := s.pending[id]; dup {
		s.mu.Unlock()
		cancel()
		return nil, false
	}
	s.pending[id] = inv
	s.mu.Unlock()

	c := s.current()
	go func() {
		defer close(inv.done)
		defer cancel()
		inv.out, inv.fail = c.Invoke(ctx, id, event, func(ctx context.Context, plain []byte) ([]byte, error) {
			inv.plain <- plain
			select {
			case a := <-inv.answer:
				return a.body, a.err
			case <-ctx.Done():
				s.drop(id, inv)
				return nil, errNoAnswer
			case <-s.closing:
				s.drop(id, inv)
				return nil, errGone
			}
		})
	}()
	return inv, true
}

// take removes the invocation with id from the pending ones and returns
// it, or nil if there is none: each invocation is answered once.
func (s *Server) take(id string) *invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.pending[id]
	delete(s.pending, id)
	return inv
}

func (s *Server) finish(id string) { s.take(id) }

// drop forgets inv, given up on, unless its id was taken since.
func (s *Server) drop(id string, inv *invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[id] == inv {
		delete(s.pending, id)
	}
}

// answer takes the runtime's response (or error, if isError) for the
// invocation id, has the contract encrypt (or seal) it, and sends the
// outcome to the Runtime API, whose answer goes back to the runtime.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	inv := s.take(id)
	if inv == nil {
		// Nothing of an invocation this proxy did not hand out may pass:
		// it could hold plaintext of another.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		apiError(w, http.StatusBadRequest, "InvalidRequestID",
			"sfnenc-proxy: no invocation with this request id is in progress")
		return
	}
	var a answer
	switch {
	case !isError && strings.EqualFold(strings.TrimSpace(r.Header.Get(hdrResponseMode)), "streaming"):
		a.err = errStreaming
	default:
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		switch {
		case err != nil:
			a.err = errGone
		case len(body) > maxBody:
			a.err = errTooBig
		case isError:
			a.err = runtimeError(body, r.Header.Get(hdrErrorType))
		default:
			a.body = body
		}
	}
	// Whatever is left of the body (a refused stream) is not read.
	r.Body.Close()
	inv.answer <- a
	<-inv.done
	if a.err == errStreaming {
		s.logger().LogAttrs(r.Context(), slog.LevelError, "sfnenc-proxy: streamed response refused",
			slog.String("requestId", id))
	}

	var resp *http.Response
	var err error
	if inv.fail != nil {
		resp, err = s.postError(r.Context(), id, inv.fail)
	} else {
		hdr := r.Header.Clone()
		for k := range hdr {
			if hopByHop(k) {
				delete(hdr, k)
			}
		}
		resp, err = s.forward(r.Context(), http.MethodPost, "/2018-06-01/runtime/invocation/"+id+"/response", hdr, inv.out)
	}
	if err != nil {
		s.logger().LogAttrs(r.Context(), slog.LevelError, "sfnenc-proxy: Runtime API unreachable",
			slog.String("requestId", id), slog.String("error", err.Error()))
		apiError(w, http.StatusBadGateway, "Runtime.Unavailable", "sfnenc-proxy: the Runtime API did not answer")
		return
	}
	copyResponse(w, resp)
}

// runtimeError reads a runtime's error report: its errorType and
// errorMessage, and nothing else. A body that is not such an object is the
// message (sealed or redacted like any).
func runtimeError(body []byte, typeHeader string) *lambdamw.Failure {
	var e struct {
		Type    *string `json:"errorType"`
		Message *string `json:"errorMessage"`
	}
	f := &lambdamw.Failure{Type: typeHeader, Message: string(body)}
	if json.Unmarshal(body, &e) == nil {
		f.Message = ""
		if e.Message != nil {
			f.Message = *e.Message
		}
		if e.Type != nil && *e.Type != "" {
			f.Type = *e.Type
		}
	}
	if f.Type == "" {
		f.Type = "Unknown"
	}
	return f
}

// report sends a failure of the invocation id to the Runtime API. Its
// answer goes nowhere: the runtime did not ask.
func (s *Server) report(ctx context.Context, id string, f *lambdamw.Failure) {
	resp, err := s.postError(context.WithoutCancel(ctx), id, f)
	if err != nil {
		s.logger().LogAttrs(ctx, slog.LevelError, "sfnenc-proxy: Runtime API unreachable",
			slog.String("requestId", id), slog.String("error", err.Error()))
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.logger().LogAttrs(ctx, slog.LevelWarn, "sfnenc-proxy: the Runtime API refused an error report",
			slog.String("requestId", id), slog.Int("status", resp.StatusCode))
	}
}

// postError sends f as the error of invocation id: errorType and
// errorMessage, and the error type header, nothing else.
func (s *Server) postError(ctx context.Context, id string, f *lambdamw.Failure) (*http.Response, error) {
	body, err := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{f.Message, f.Type})
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set(hdrErrorType, f.Type)
	return s.forward(ctx, http.MethodPost, "/2018-06-01/runtime/invocation/"+id+"/error", hdr, body)
}

// restore passes GET .../restore/next on. Its answer comes after the
// execution environment was restored from a snapshot (SnapStart): the
// proxy then drops the contract of before the snapshot, with its data
// keys, keysets and AWS credentials, and builds a new one before the
// runtime hears of the restore.
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	resp, err := s.forward(r.Context(), r.Method, r.URL.RequestURI(), r.Header, nil)
	if err != nil {
		// The restore may have happened without an answer reaching
		// us: drop everything anyway.
		s.reset(r.Context())
		if r.Context().Err() == nil {
			apiError(w, http.StatusBadGateway, "Runtime.Unavailable", "sfnenc-proxy: the Runtime API did not answer")
		}
		return
	}
	s.reset(r.Context())
	copyResponse(w, resp)
}

func (s *Server) reset(ctx context.Context) {
	<-s.built
	t := time.Now()
	s.contract.Store(s.newContract())
	s.logger().LogAttrs(ctx, slog.LevelInfo, "sfnenc-proxy: restored: data keys, keysets and AWS credentials of before the snapshot dropped",
		slog.Float64("resetMs", float64(time.Since(t).Microseconds())/1000))
}

// forward sends a request to the Runtime API with the given headers (hop
// by hop ones aside) and body.
func (s *Server) forward(ctx context.Context, method, uri string, hdr http.Header, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.upstream+uri, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range hdr {
		if !hopByHop(k) {
			req.Header[k] = vs
		}
	}
	return s.client.Do(req)
}

// copyResponse writes resp to w as it came (hop-by-hop headers aside).
func copyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	h := w.Header()
	for k, vs := range resp.Header {
		if !hopByHop(k) {
			h[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// apiError answers as the Runtime API answers an error.
func apiError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{msg, typ})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// hopByHop reports the headers that belong to one connection, and
// Content-Length, which the proxy sets for the body it sends.
func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}
