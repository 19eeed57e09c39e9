package httperr

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/store"
)

// OutageRetryAfter is what an answer to a store outage asks the client to
// wait before it tries again.
const OutageRetryAfter = time.Second

// Kind is what went wrong, as far as the answer is concerned.
type Kind int

const (
	// Internal is an unexpected failure: 500, its cause logged, never shown.
	Internal Kind = iota
	// Unavailable: the store could not be reached or did not commit, so
	// nothing was done: 503 with Retry-After (RFC 7009 §2.2.1), never a
	// success and never a 500 the client would not retry.
	Unavailable
	// Refused: package adminauth refused the caller: 401 with its
	// challenges, 403, or 429 with Retry-After.
	Refused
	// ClientGone: the client closed the connection (or a write to it
	// failed) before the answer: nothing is written (Status is 0), and it
	// is no fault of the server's.
	ClientGone
)

// Answer is the HTTP answer an error calls for.
type Answer struct {
	Kind   Kind
	Status int
	// Detail is safe to show the caller.
	Detail     string
	RetryAfter time.Duration
	// Header holds the headers the answer must carry (WWW-Authenticate).
	Header http.Header
}

// Of returns the answer to err, an error that reached an HTTP handler from
// below it, for a request whose context is ctx.
func Of(ctx context.Context, err error) Answer {
	var refused *adminauth.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return Answer{Kind: ClientGone, Detail: "the client went away"}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Answer{Kind: Unavailable, Status: http.StatusServiceUnavailable,
			Detail: "the server is temporarily unable to handle the request", RetryAfter: OutageRetryAfter}
	case errors.As(err, &refused):
		return Answer{Kind: Refused, Status: refused.Status, Detail: refused.Reason,
			RetryAfter: refused.RetryAfter, Header: refused.Header()}
	default:
		return Answer{Kind: Internal, Status: http.StatusInternalServerError, Detail: "internal error"}
	}
}

// SetHeaders adds to h the headers an answer carries besides its body:
// extra (WWW-Authenticate challenges) and, when retryAfter is set,
// Retry-After in whole seconds, rounded up (RFC 9110 §10.2.3).
func SetHeaders(h, extra http.Header, retryAfter time.Duration) {
	for k, vs := range extra {
		h[k] = vs
	}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
}
