package localsfn

import (
	"encoding/json"
	"fmt"
)

// History is an execution history in the JSON shape that
// `aws stepfunctions get-execution-history --output json` prints. Only the
// details the harness writes are decoded.
type History struct {
	Events []Event `json:"events"`
}

// Event is one history event. Exactly one of the details fields is set for
// the event types that have details.
type Event struct {
	Timestamp       string `json:"timestamp"`
	Type            string `json:"type"`
	ID              int64  `json:"id"`
	PreviousEventID int64  `json:"previousEventId"`

	ExecutionStarted        *DataDetails        `json:"executionStartedEventDetails,omitempty"`
	ExecutionSucceeded      *DataDetails        `json:"executionSucceededEventDetails,omitempty"`
	ExecutionFailed         *ErrorDetails       `json:"executionFailedEventDetails,omitempty"`
	StateEntered            *DataDetails        `json:"stateEnteredEventDetails,omitempty"`
	StateExited             *DataDetails        `json:"stateExitedEventDetails,omitempty"`
	TaskScheduled           *TaskDetails        `json:"taskScheduledEventDetails,omitempty"`
	TaskStarted             *TaskDetails        `json:"taskStartedEventDetails,omitempty"`
	TaskSubmitted           *TaskDetails        `json:"taskSubmittedEventDetails,omitempty"`
	TaskSucceeded           *TaskDetails        `json:"taskSucceededEventDetails,omitempty"`
	TaskFailed              *TaskDetails        `json:"taskFailedEventDetails,omitempty"`
	TaskTimedOut            *TaskDetails        `json:"taskTimedOutEventDetails,omitempty"`
	LambdaFunctionScheduled *DataDetails        `json:"lambdaFunctionScheduledEventDetails,omitempty"`
	LambdaFunctionSucceeded *DataDetails        `json:"lambdaFunctionSucceededEventDetails,omitempty"`
	LambdaFunctionFailed    *ErrorDetails       `json:"lambdaFunctionFailedEventDetails,omitempty"`
	LambdaFunctionTimedOut  *ErrorDetails       `json:"lambdaFunctionTimedOutEventDetails,omitempty"`
	MapStateStarted         *MapStateDetails    `json:"mapStateStartedEventDetails,omitempty"`
	MapIterationStarted     *MapIterationDetail `json:"mapIterationStartedEventDetails,omitempty"`
	MapIterationSucceeded   *MapIterationDetail `json:"mapIterationSucceededEventDetails,omitempty"`
	MapIterationFailed      *MapIterationDetail `json:"mapIterationFailedEventDetails,omitempty"`
}

// DataDetails holds the fields of the details that carry a state's or an
// execution's data.
type DataDetails struct {
	Name     string `json:"name,omitempty"`
	Resource string `json:"resource,omitempty"`
	Input    string `json:"input,omitempty"`
	Output   string `json:"output,omitempty"`
	RoleArn  string `json:"roleArn,omitempty"`
}

// ErrorDetails holds an error name and its cause.
type ErrorDetails struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
}

// TaskDetails holds the fields of the Task* event details.
type TaskDetails struct {
	ResourceType     string `json:"resourceType"`
	Resource         string `json:"resource"`
	Region           string `json:"region,omitempty"`
	Parameters       string `json:"parameters,omitempty"`
	Output           string `json:"output,omitempty"`
	Error            string `json:"error,omitempty"`
	Cause            string `json:"cause,omitempty"`
	TimeoutInSeconds int64  `json:"timeoutInSeconds,omitempty"`
}

// MapStateDetails holds the number of items of a Map state.
type MapStateDetails struct {
	Length int `json:"length"`
}

// MapIterationDetail names a Map state and the index of one iteration.
type MapIterationDetail struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// DecodeHistory decodes a history and checks its numbering: ids from 1 in
// order, each event's previousEventId the id before it.
func DecodeHistory(data []byte) (*History, error) {
	var h History
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("localsfn: history: %w", err)
	}
	for i, ev := range h.Events {
		if ev.ID != int64(i+1) || ev.PreviousEventID != int64(i) {
			return nil, fmt.Errorf("localsfn: history: event %d has id %d and previousEventId %d", i, ev.ID, ev.PreviousEventID)
		}
	}
	return &h, nil
}
