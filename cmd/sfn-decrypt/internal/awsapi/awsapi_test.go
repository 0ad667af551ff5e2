package awsapi

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestClassify(t *testing.T) {
	own := Codes{ErrNotFound: {"ExecutionDoesNotExist"}, ErrThrottled: {"LimitExceededException"}}
	apiErr := func(code string) error {
		return &smithy.OperationError{ServiceID: "SFN", OperationName: "Op", Err: &smithy.GenericAPIError{Code: code}}
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"own code", apiErr("ExecutionDoesNotExist"), ErrNotFound},
		{"own throttling code", apiErr("LimitExceededException"), ErrThrottled},
		{"common denied", apiErr("AccessDeniedException"), ErrDenied},
		{"common throttled", apiErr("ThrottlingException"), ErrThrottled},
		{"unknown code", apiErr("ServiceUnavailableException"), nil},
		{"retry quota", &smithy.OperationError{Err: &ratelimit.QuotaExceededError{}}, ErrThrottled},
		{"undecodable", &smithy.OperationError{Err: &smithy.DeserializationError{Err: errors.New("x")}}, ErrBadResponse},
		{"cut off", &smithy.OperationError{Err: fmt.Errorf("send: %w", &cutError{errors.New("unexpected EOF")})}, ErrBadResponse},
		{"cancelled", &smithy.OperationError{Err: context.Canceled}, nil},
		{"connection", &smithy.OperationError{Err: errors.New("dial tcp: refused")}, ErrUnavailable},
		{"not an SDK error", errors.New("x"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Classify(tt.err, own), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("Classify() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewError(t *testing.T) {
	s := Service{Pkg: "logs", Codes: Codes{ErrNotFound: {"ResourceNotFoundException"}}}
	tests := []struct {
		name string
		err  error
		page int
		want string
		kind error
	}{
		{"kind", &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "gone"}, 1,
			"logs: FilterLogEvents /g: does not exist: api error ResourceNotFoundException: gone", ErrNotFound},
		{"no kind, page", errors.New("boom"), 3, "logs: FilterLogEvents /g (page 3): boom", nil},
		{"response quoted", &smithy.DeserializationError{Err: errors.New(`invalid character 's' in "secret"`)}, 2,
			"logs: FilterLogEvents /g (page 2): invalid or truncated response: the response could not be decoded (cut off, or not JSON)", ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.NewError("FilterLogEvents", "/g", tt.page, tt.err)
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("%v does not wrap %v", err, tt.kind)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap its cause", err)
			}
		})
	}
}

func TestStatesResource(t *testing.T) {
	tests := []struct {
		arn, region, typ string
		ok               bool
	}{
		{"arn:aws:states:eu-west-2:111122223333:execution:orders:o-1", "eu-west-2", "execution", true},
		{"arn:aws:states:us-east-1:111122223333:express:orders:e:1", "us-east-1", "express", true},
		{"arn:aws:states:us-east-1:111122223333:stateMachine:orders", "us-east-1", "stateMachine", true},
		{"arn:aws:states::111122223333:execution:orders:o-1", "", "", false},
		{"arn:aws:lambda:us-east-1:111122223333:function:f", "", "", false},
		{"nope", "", "", false},
		// Characters no ARN holds, that would end a quoted filter
		// pattern or message.
		{`arn:aws:states:us-east-1:111122223333:execution:orders:o"1`, "", "", false},
		{`arn:aws:states:us-east-1:111122223333:execution:orders:o\1`, "", "", false},
		{"arn:aws:states:us-east-1:111122223333:execution:orders:o 1", "", "", false},
	}
	for _, tt := range tests {
		region, res, ok := StatesResource(tt.arn)
		if region != tt.region || ResourceType(res) != tt.typ || ok != tt.ok {
			t.Errorf("StatesResource(%q) = %q, %q, %v; want %q, type %q, %v", tt.arn, region, res, ok, tt.region, tt.typ, tt.ok)
		}
	}
}

func TestPages(t *testing.T) {
	svc := Service{Pkg: "test"}
	tests := []struct {
		name    string
		tokens  []string // the next token each page returns
		max     int
		pages   int
		wantErr error
	}{
		{"one page", []string{""}, 10, 1, nil},
		{"three pages", []string{"a", "b", ""}, 10, 3, nil},
		// A service that answers the token it was given would loop
		// forever.
		{"the same token twice", []string{"a", "a", ""}, 10, 2, ErrBadResponse},
		// Tokens are compared exactly: one differing in case is a new
		// page.
		{"tokens differ in case", []string{"a", "A", ""}, 10, 3, nil},
		{"too many pages", []string{"a", "b", "c", ""}, 2, 2, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := svc.Pages("List", "r", tt.max, func(page int, token *string) (string, error) {
				if page != len(got)+1 {
					t.Fatalf("page %d after %d pages", page, len(got))
				}
				if (page == 1) != (token == nil) || page > 1 && *token != tt.tokens[page-2] {
					t.Fatalf("page %d got token %v", page, token)
				}
				got = append(got, tt.tokens[page-1])
				return tt.tokens[page-1], nil
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Pages() = %v, want %v", err, tt.wantErr)
			}
			if len(got) != tt.pages {
				t.Errorf("fetched %d pages, want %d", len(got), tt.pages)
			}
		})
	}
	stop := errors.New("stop")
	if err := svc.Pages("List", "r", 10, func(int, *string) (string, error) { return "x", stop }); err != stop {
		t.Errorf("the error of fetch came back as %v", err)
	}
}
