package sfnclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fakeSFN is a local HTTP endpoint that speaks the Step Functions JSON 1.0
// protocol (X-Amz-Target: AWSStepFunctions.<Operation>) for the operations
// the tests use, and records every request body it receives. No Step
// Functions service runs offline, so the tests point the real SDK client at
// it. Its state machines pass their input through: an execution's output is
// its input.
type fakeSFN struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	execs    map[string]map[string]any // execution ARN -> its input and output
	n        int
	// activityInput is what GetActivityTask hands out.
	activityInput string
	// failFirst makes the next n requests fail with a throttling error,
	// which the SDK retries.
	failFirst int
}

// recorded is one request as the endpoint received it.
type recorded struct {
	Op   string
	Body string
}

func newFakeSFN() *fakeSFN {
	f := &fakeSFN{execs: map[string]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeSFN) Close() { f.srv.Close() }

// Requests returns the requests received so far.
func (f *fakeSFN) Requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeSFN) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "not a Step Functions JSON 1.0 request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, recorded{Op: op, Body: string(body)})
	if f.failFirst > 0 {
		f.failFirst--
		fail(w, http.StatusBadRequest, "ThrottlingException", "slow down")
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", "body is not JSON")
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	now := float64(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix())
	newExec := func() map[string]any {
		f.n++
		name := str("name")
		if name == "" {
			name = fmt.Sprintf("exec-%d", f.n)
		}
		e := map[string]any{
			"executionArn":    "arn:aws:states:eu-west-2:111122223333:execution:orders:" + name,
			"stateMachineArn": str("stateMachineArn"),
			"name":            name,
			"status":          "SUCCEEDED",
			"startDate":       now,
			"stopDate":        now,
		}
		if v, ok := in["input"]; ok {
			e["input"], e["output"] = v, v
		}
		f.execs[e["executionArn"].(string)] = e
		return e
	}
	var out any
	switch op {
	case "StartExecution":
		e := newExec()
		out = map[string]any{"executionArn": e["executionArn"], "startDate": now}
	case "StartSyncExecution":
		out = newExec()
	case "DescribeExecution":
		e, ok := f.execs[str("executionArn")]
		if !ok {
			fail(w, http.StatusBadRequest, "ExecutionDoesNotExist", "no such execution")
			return
		}
		out = e
	case "SendTaskSuccess", "SendTaskFailure":
		out = map[string]any{}
	case "StopExecution":
		out = map[string]any{"stopDate": now}
	case "GetActivityTask":
		out = map[string]any{"taskToken": "token-1", "input": f.activityInput}
	default:
		fail(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// client returns a Step Functions client of the real SDK pointed at the
// fake, with optFns (such as sfnclient.WithEncryption) applied.
func (f *fakeSFN) client(optFns ...func(*sfn.Options)) *sfn.Client {
	cfg := aws.Config{
		Region:      "eu-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSFNTEST", "sfn-test-secret", ""),
	}
	opts := append([]func(*sfn.Options){
		func(o *sfn.Options) { o.BaseEndpoint = aws.String(f.srv.URL) },
		noHostPrefix,
	}, optFns...)
	return sfn.NewFromConfig(cfg, opts...)
}

// noHostPrefix keeps StartSyncExecution from sending its request to
// "sync-" + the endpoint's host, which does not resolve on loopback.
func noHostPrefix(o *sfn.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("test.NoHostPrefix",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
	})
}
