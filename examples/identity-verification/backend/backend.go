// Package backend holds the bank's backend services of the
// identity-verification example, as they would run next to the state
// machine:
//
//   - Intake receives credit applications and starts an execution for each;
//   - Webhook receives the identity provider's session results and completes
//     the waiting WaitIdentification task with SendTaskSuccess.
//
// Both hold personal data in plaintext and hand it to Step Functions. They
// do so through an AWS SDK Step Functions client made with the sfnclient
// option, which encrypts StartExecution input and SendTaskSuccess output by
// the sfnenc rules before they leave the process: the services' own code
// stays as it would be without encryption.
package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
)

// StepFunctions is the part of the AWS SDK Step Functions client the
// services use. *sfn.Client implements it.
type StepFunctions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// Started is the answer of Intake to an application.
type Started struct {
	ExecutionArn string `json:"executionArn"`
}

// Intake is the service that receives credit applications:
//
//	POST /applications  model.Application -> Started
//
// It starts one execution of the state machine per application, with the
// application as input.
type Intake struct {
	Client          StepFunctions
	StateMachineArn string
	// Logger receives one record per application (ids and ARNs only).
	Logger *slog.Logger

	mu   sync.Mutex
	sent []Sent
}

// Sent is one request the services sent to Step Functions, before the
// client option encrypted it: what an operator's sfn-decrypt must restore.
type Sent struct {
	// ExecutionArn of an Intake start, or TaskToken of a Webhook completion.
	ExecutionArn, TaskToken string
	// Document is the input or output document, exactly as passed to the
	// client.
	Document string
}

// Sent returns the executions started so far.
func (in *Intake) Sent() []Sent {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Sent(nil), in.sent...)
}

// ServeHTTP serves POST /applications.
func (in *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/applications" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var app model.Application
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&app); err != nil || app.CreditApplicationID == "" {
		http.Error(w, "bad application", http.StatusBadRequest)
		return
	}
	if app.CoApplicants == nil {
		app.CoApplicants = []model.CoApplicant{}
	}
	input, err := json.Marshal(app)
	if err != nil {
		http.Error(w, "bad application", http.StatusBadRequest)
		return
	}
	out, err := in.Client.StartExecution(r.Context(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(in.StateMachineArn),
		Name:            aws.String(app.CreditApplicationID + "-" + suffix()),
		Input:           aws.String(string(input)),
	})
	if err != nil {
		logger(in.Logger).Error("intake: start execution failed", "creditApplicationId", app.CreditApplicationID, "error", err)
		http.Error(w, "cannot start the identity check", http.StatusBadGateway)
		return
	}
	arn := aws.ToString(out.ExecutionArn)
	in.mu.Lock()
	in.sent = append(in.sent, Sent{ExecutionArn: arn, Document: string(input)})
	in.mu.Unlock()
	logger(in.Logger).Info("intake: execution started", "creditApplicationId", app.CreditApplicationID, "executionArn", arn)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Started{ExecutionArn: arn})
}

// Webhook is the service that completes the WaitIdentification task:
//
//	POST /identification-tasks  model.TaskRegistration (from the
//	                            wait-identification function)
//	POST /provider-callbacks    model.IdentificationResult (from the
//	                            identity provider)
//
// When it holds both the task token and the result of a session, in
// whichever order they came, it sends the result with SendTaskSuccess.
type Webhook struct {
	Client StepFunctions
	// Logger receives one record per completed task (ids only).
	Logger *slog.Logger

	mu      sync.Mutex
	tasks   map[string]model.TaskRegistration     // session id -> waiting task
	results map[string]model.IdentificationResult // session id -> result
	sent    []Sent
}

// Sent returns the task results sent so far.
func (wh *Webhook) Sent() []Sent {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return append([]Sent(nil), wh.sent...)
}

// ServeHTTP serves POST /identification-tasks and POST /provider-callbacks.
func (wh *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var session string
	wh.mu.Lock()
	if wh.tasks == nil {
		wh.tasks = map[string]model.TaskRegistration{}
		wh.results = map[string]model.IdentificationResult{}
	}
	wh.mu.Unlock()
	switch r.URL.Path {
	case "/identification-tasks":
		var reg model.TaskRegistration
		if err := json.NewDecoder(r.Body).Decode(&reg); err != nil || reg.TaskToken == "" || reg.SessionID == "" || reg.CreditApplicationID == "" {
			http.Error(w, "bad registration", http.StatusBadRequest)
			return
		}
		wh.mu.Lock()
		wh.tasks[reg.SessionID] = reg
		wh.mu.Unlock()
		session = reg.SessionID
	case "/provider-callbacks":
		var res model.IdentificationResult
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil || res.SessionID == "" {
			http.Error(w, "bad result", http.StatusBadRequest)
			return
		}
		wh.mu.Lock()
		wh.results[res.SessionID] = res
		wh.mu.Unlock()
		session = res.SessionID
	default:
		http.NotFound(w, r)
		return
	}
	if err := wh.complete(r.Context(), session); err != nil {
		logger(wh.Logger).Error("webhook: complete task failed", "sessionId", session, "error", err)
		http.Error(w, "cannot complete the task", http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// complete sends the result of session with SendTaskSuccess if both its
// task and its result are there. The result names the credit application
// of the task, as the workflow registered it, at its root: the business
// key of the class verification.
func (wh *Webhook) complete(ctx context.Context, session string) error {
	wh.mu.Lock()
	task, okTask := wh.tasks[session]
	res, okResult := wh.results[session]
	if !okTask || !okResult {
		wh.mu.Unlock()
		return nil
	}
	delete(wh.tasks, session)
	delete(wh.results, session)
	wh.mu.Unlock()
	token := task.TaskToken
	output, err := json.Marshal(model.TaskResult{CreditApplicationID: task.CreditApplicationID, IdentificationResult: res})
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	if _, err := wh.Client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{
		TaskToken: aws.String(token),
		Output:    aws.String(string(output)),
	}); err != nil {
		return fmt.Errorf("webhook: send task success: %w", err)
	}
	wh.mu.Lock()
	wh.sent = append(wh.sent, Sent{TaskToken: token, Document: string(output)})
	wh.mu.Unlock()
	logger(wh.Logger).Info("webhook: task completed", "sessionId", session, "outcome", res.Outcome)
	return nil
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
