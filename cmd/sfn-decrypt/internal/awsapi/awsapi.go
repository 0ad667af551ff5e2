// Package awsapi holds what the AWS API clients of sfn-decrypt share: the
// kinds of failure that callers branch on, an *Error that reports a failed
// call by its operation and resource (never data), the classification of
// AWS SDK errors into kinds (Classify, NewError), the configuration every
// client is made from (Config), an HTTP client for the SDK that reads each
// response body whole (WholeBody), the walk through an API's pages
// (Service.Pages), and the parsing of Step Functions ARNs (StatesResource).
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Kinds of failure of an AWS API call, wrapped by an *Error, for callers to
// branch on.
var (
	// ErrNotFound: what the call names (an execution, a state machine, a
	// log group) does not exist.
	ErrNotFound = errors.New("does not exist")
	// ErrDenied: the caller may not read it (IAM, or the KMS key of the
	// workflow or log group), or the credentials are not valid.
	ErrDenied = errors.New("access denied")
	// ErrThrottled: the service throttled the requests past the retries.
	ErrThrottled = errors.New("throttled past the retries")
	// ErrRejected: the service refused the request as invalid (an ARN,
	// parameter or page token it does not accept, an Express state
	// machine for Step Functions' history).
	ErrRejected = errors.New("request rejected")
	// ErrBadResponse: a response was cut off or is not what the API
	// sends.
	ErrBadResponse = errors.New("invalid or truncated response")
	// ErrUnavailable: the service could not be reached.
	ErrUnavailable = errors.New("unreachable")
)

// DefaultMaxAttempts is how many times a request is tried when the AWS
// configuration sets no maximum (AWS_MAX_ATTEMPTS, max_attempts): more than
// the SDK's default of 3, as reading many histories or log pages meets the
// APIs' rate limits (FilterLogEvents has a low request quota). Retries back
// off exponentially, with jitter.
const DefaultMaxAttempts = 10

// Error reports a failed AWS API call. It names the operation and the
// resource, never data.
type Error struct {
	Pkg      string // the package that made the call, which starts the message ("history")
	Op       string // the operation, such as "GetExecutionHistory"
	Resource string // the ARN or name of what was read
	Page     int    // the page being read, from 1
	Kind     error  // one of the kinds of failure, or nil
	Err      error
}

// Error names the operation, the resource, the page and the kind of failure.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s %s", e.Pkg, e.Op, e.Resource)
	if e.Page > 1 {
		s += fmt.Sprintf(" (page %d)", e.Page)
	}
	if e.Kind != nil {
		s += ": " + e.Kind.Error()
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// Service is an AWS API as one package calls it: the name that starts its
// error messages and the error codes of the API's own.
type Service struct {
	// Pkg is the calling package's name, which starts error messages.
	Pkg string
	// Codes are the API's own error codes by kind, beyond those every AWS
	// API answers with (see Classify).
	Codes Codes
}

// Codes are error codes of an AWS API by their kind of failure; a code
// stands under one kind at most.
type Codes map[error][]string

// kind returns the kind of code, or nil.
func (c Codes) kind(code string) error {
	for k, codes := range c {
		if slices.Contains(codes, code) {
			return k
		}
	}
	return nil
}

// NewError returns the *Error of a failed call of op on resource, at page,
// with the kind Classify gives err. The message of an error that may quote
// the response (and so data) is replaced.
func (s Service) NewError(op, resource string, page int, err error) error {
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		err = &quietError{"the response could not be decoded (cut off, or not JSON)", err}
	}
	return &Error{Pkg: s.Pkg, Op: op, Resource: resource, Page: page, Kind: Classify(err, s.Codes), Err: err}
}

// BadResponse returns the *Error of a call of op on resource whose response,
// at page, is not what the API sends.
func (s Service) BadResponse(op, resource string, page int, err error) error {
	return &Error{Pkg: s.Pkg, Op: op, Resource: resource, Page: page, Kind: ErrBadResponse, Err: err}
}

// quietError replaces the message of an error that may hold data.
type quietError struct {
	msg string
	err error
}

func (e *quietError) Error() string { return e.msg }
func (e *quietError) Unwrap() error { return e.err }

// commonCodes are the error codes that every AWS API answers with:
// authentication and request throttling.
var commonCodes = Codes{
	ErrDenied: {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
		"InvalidClientTokenId", "MissingAuthenticationToken"},
	ErrThrottled: {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "ServiceQuotaExceededException"},
}

// Classify returns the kind of failure of an AWS SDK error, or nil if it is
// none of them (a cancelled context, say). An error code of the API is
// looked up in codes, then among the codes every AWS API shares; a code
// found in neither has no kind.
func Classify(err error, codes Codes) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if k := codes.kind(ae.ErrorCode()); k != nil {
			return k
		}
		return commonCodes.kind(ae.ErrorCode())
	}
	var qe *ratelimit.QuotaExceededError
	var de *smithy.DeserializationError
	var ce *cutError
	switch {
	case errors.As(err, &qe):
		return ErrThrottled
	case errors.As(err, &de), errors.As(err, &ce):
		return ErrBadResponse
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return ErrUnavailable
	}
	return nil
}

// StatesResource parses the ARN of a Step Functions resource and returns its
// region and resource ("execution:orders:o-1", say); ok is false if a is not
// an ARN of the "states" service with a region.
//
// An ARN holds none of '"', '\' and space: such an ARN names nothing AWS
// makes, and would end the filter pattern or the message it is quoted in.
func StatesResource(a string) (region, resource string, ok bool) {
	if strings.ContainsAny(a, "\"\\ ") {
		return "", "", false
	}
	p, err := arn.Parse(a)
	if err != nil || p.Service != "states" || p.Region == "" {
		return "", "", false
	}
	return p.Region, p.Resource, true
}

// ResourceType returns the type of a Step Functions resource: what comes
// before its first ':' ("execution", "express", "stateMachine").
func ResourceType(resource string) string {
	typ, _, _ := strings.Cut(resource, ":")
	return typ
}

// Config returns cfg (credentials, endpoints such as AWS_ENDPOINT_URL_SFN,
// application id, retry mode) as every API reader of sfn-decrypt makes its
// client from it: a request is tried DefaultMaxAttempts times unless the
// configuration says otherwise, and, with wholeBody, each response body is
// read whole (WholeBody) before the SDK decodes it. A reader that streams a
// large body (an S3 object) goes without.
func Config(cfg aws.Config, wholeBody bool) aws.Config {
	cfg = cfg.Copy()
	if cfg.RetryMaxAttempts == 0 {
		cfg.RetryMaxAttempts = DefaultMaxAttempts
	}
	if wholeBody {
		next := cfg.HTTPClient
		if next == nil {
			next = awshttp.NewBuildableClient()
		}
		cfg.HTTPClient = WholeBody{Next: next}
	}
	return cfg
}

// Pages walks the pages of a paginated call of op on resource: it calls
// fetch with the page number (from 1) and the token of the page (nil for
// the first), until fetch returns an empty next token. A token equal to the
// one before (the listing does not move), or more than maxPages pages, is a
// bad response. Tokens are compared exactly, as the API gives them. An error
// of fetch is returned as it is.
func (s Service) Pages(op, resource string, maxPages int, fetch func(page int, token *string) (next string, err error)) error {
	var token *string
	for page := 1; ; page++ {
		next, err := fetch(page, token)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if token != nil && next == *token {
			return s.BadResponse(op, resource, page, errors.New("the same page token twice"))
		}
		if page >= maxPages {
			return s.BadResponse(op, resource, page, errors.New("too many pages"))
		}
		token = &next
	}
}
