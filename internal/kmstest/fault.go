package kmstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

// The kinds of fault. Error answers have the shape of the KMS JSON 1.1
// protocol: an HTTP status, Content-Type application/x-amz-json-1.1 and a
// body {"__type": "<code>", "message": "..."}, which the AWS SDKs turn into
// an API error with that code.
const (
	// Throttle answers HTTP 400 with ThrottlingException, which the SDKs'
	// standard retryers retry.
	Throttle FaultKind = iota + 1
	// AccessDenied answers HTTP 400 with AccessDeniedException.
	AccessDenied
	// Delay forwards the request after the fault's Delay.
	Delay
	// WrongKeyLength forwards the request and replaces the base64 Plaintext
	// of a successful response (GenerateDataKey, Decrypt) with 16 bytes, as
	// a faulty or hostile KMS might. Other responses pass unchanged.
	WrongKeyLength
	// Unavailable answers HTTP 503 with ServiceUnavailableException.
	Unavailable
	// Disconnect closes the connection without answering.
	Disconnect
)

var faultNames = map[FaultKind]string{
	Throttle:       "Throttle",
	AccessDenied:   "AccessDenied",
	Delay:          "Delay",
	WrongKeyLength: "WrongKeyLength",
	Unavailable:    "Unavailable",
	Disconnect:     "Disconnect",
}

// String returns the name of the kind, such as "Throttle".
func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault describes a fault for [Server.Inject].
type Fault struct {
	// Op is the KMS operation the fault applies to, such as "Decrypt";
	// "" applies it to every operation.
	Op string
	// Kind is what the fault does.
	Kind FaultKind
	// Count is how many matching requests the fault applies to; 0 applies
	// it until [Server.ClearFaults].
	Count int
	// Delay is waited before the fault acts, for every kind; for kind Delay
	// it is the whole effect. The wait ends early if the client gives up.
	Delay time.Duration
}

type activeFault struct {
	Fault
	left int // requests still to fault when Count > 0
}

// Inject makes the proxy apply f to the next matching requests. It exists
// only for fault-injection tests: the faults imitate failures of KMS or the
// network that local-kms cannot produce. When several injected faults match
// a request, the one injected first applies. Inject panics on an unknown
// Kind or a negative Count or Delay.
func (s *Server) Inject(f Fault) {
	if _, ok := faultNames[f.Kind]; !ok || f.Count < 0 || f.Delay < 0 {
		panic(fmt.Sprintf("kmstest: invalid fault %+v", f))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &activeFault{Fault: f, left: f.Count})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the fault for a request to op, using up one of its
// count. s.mu must be held.
func (s *Server) takeFault(op string) (Fault, bool) {
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		if f.Count > 0 {
			f.left--
			if f.left == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// rewriteKey marks, in a request's context, a request whose response the
// proxy must rewrite for a WrongKeyLength fault.
type rewriteKey struct{}

// applyFault answers r as f says.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
	switch f.Kind {
	case Delay:
		s.forward.ServeHTTP(w, r)
	case WrongKeyLength:
		s.forward.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rewriteKey{}, true)))
	case Throttle:
		writeError(w, http.StatusBadRequest, "ThrottlingException", "kmstest: injected fault: rate exceeded")
	case AccessDenied:
		writeError(w, http.StatusBadRequest, "AccessDeniedException", "kmstest: injected fault: access denied")
	case Unavailable:
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "kmstest: injected fault: service unavailable")
	case Disconnect:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("kmstest: proxy connection cannot be hijacked")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

// writeError writes an error answer in the KMS JSON 1.1 protocol.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]string{"__type": code, "message": message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// wrongLengthPlaintext replaces a data key in WrongKeyLength answers.
var wrongLengthPlaintext = base64.StdEncoding.EncodeToString(make([]byte, 16))

// rewriteResponse applies a WrongKeyLength fault to a forwarded response.
func rewriteResponse(resp *http.Response) error {
	if resp.Request.Context().Value(rewriteKey{}) == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) == nil {
		if _, ok := fields["Plaintext"]; ok {
			fields["Plaintext"], _ = json.Marshal(wrongLengthPlaintext)
			data, err = json.Marshal(fields)
			if err != nil {
				return err
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Header.Set("Content-Length", strconv.Itoa(len(data)))
	return nil
}
