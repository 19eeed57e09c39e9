package oautherr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// TestFrom: every error an endpoint may return becomes the answer of RFC
// 6749 §5.2 that its kind calls for.
func TestFrom(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		code       string
		status     int
		retryAfter time.Duration
	}{
		{"an OAuth error, wrapped", fmt.Errorf("x: %w", oautherr.InvalidGrant("no")), oautherr.CodeInvalidGrant, 400, 0},
		{"a store outage", fmt.Errorf("x: %w", store.ErrUnavailable), oautherr.CodeTemporarilyUnavailable, 503, time.Second},
		{"a deadline", context.DeadlineExceeded, oautherr.CodeTemporarilyUnavailable, 503, time.Second},
		{"admin credentials refused", &adminauth.Error{Status: 401, Reason: "no", Challenges: []string{`Bearer realm="tokend"`}}, oautherr.CodeInvalidToken, 401, 0},
		{"not an admin", &adminauth.Error{Status: 403, Reason: "no"}, oautherr.CodeAccessDenied, 403, 0},
		{"admin guessing", &adminauth.Error{Status: 429, Reason: "no", RetryAfter: 7 * time.Second}, oautherr.CodeAccessDenied, 429, 7 * time.Second},
		{"anything else", errors.New("boom"), oautherr.CodeServerError, 500, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := oautherr.From(t.Context(), tc.err)
			if got.Code != tc.code || got.Status != tc.status || got.RetryAfter != tc.retryAfter {
				t.Errorf("got %s %d retry %s; want %s %d retry %s", got.Code, got.Status, got.RetryAfter, tc.code, tc.status, tc.retryAfter)
			}
			if tc.status == http.StatusUnauthorized && got.Header.Get("WWW-Authenticate") == "" {
				t.Error("a 401 without a challenge")
			}
		})
	}
}
