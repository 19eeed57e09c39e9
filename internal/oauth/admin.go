package oauth

import (
	"errors"
	"net/http"

	"github.com/tokend/tokend/internal/adminauth"
)

// AdminError turns a refusal of package adminauth into the *Error to send
// (401 with its WWW-Authenticate challenges, 403, or 429 with Retry-After);
// any other error, a store failure, is returned as it is.
func AdminError(err error) error {
	var ae *adminauth.Error
	if !errors.As(err, &ae) {
		return err
	}
	var oe *Error
	switch ae.Status {
	case http.StatusUnauthorized:
		oe = ErrUnauthorized("")
		oe.Description = ae.Reason
		oe.Header = ae.Header()
	case http.StatusTooManyRequests:
		oe = ErrTooManyRequests(ae.RetryAfter)
		oe.Code = CodeAccessDenied
	default:
		oe = ErrForbidden("%s", ae.Reason)
	}
	return oe.WithCause(err)
}

// adminActor is the actor the revocation log records for an admin request:
// "admin" for the admin token, the username for an admin user.
func adminActor(r *http.Request) string {
	if p, ok := adminauth.FromContext(r.Context()); ok {
		return p.Actor()
	}
	return "admin"
}
