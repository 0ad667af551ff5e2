package awsapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// HTTPClient is what an AWS SDK client sends its requests with (its
// HTTPClient option).
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// WholeBody is an HTTPClient that reads the body of each successful response
// in full before the SDK decodes it, so that a body the network cuts off is
// a connection error, which the SDK's retryer retries, rather than a page
// that cannot be decoded. A request whose context holds a *Body (see
// WithBody) also gets the body kept there.
type WholeBody struct {
	Next HTTPClient
}

// Body holds the body of the successful response to a request made with a
// context from WithBody: callers read from the raw response what the SDK
// does not decode, such as members it does not know.
type Body struct {
	Bytes []byte
}

// bodyKey is the context key of the *Body a response body is kept in.
type bodyKey struct{}

// WithBody returns a context under which WholeBody keeps the body of a
// successful response in b.
func WithBody(ctx context.Context, b *Body) context.Context {
	return context.WithValue(ctx, bodyKey{}, b)
}

// Do sends the request with c.Next and reads the body of a successful
// response. A body cut off is a connection error.
func (c WholeBody) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.Next.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	kept, ok := r.Context().Value(bodyKey{}).(*Body)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, &cutError{err}
	}
	if ok {
		kept.Bytes = b
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// cutError is a response body that was cut off. The SDK's retryer retries
// it as a connection error.
type cutError struct{ err error }

func (e *cutError) Error() string         { return "response cut off: " + e.err.Error() }
func (e *cutError) Unwrap() error         { return e.err }
func (e *cutError) ConnectionError() bool { return true }
