package oauth

import (
	"net/http"

	"github.com/tokend/tokend/internal/adminauth"
)

// adminActor is the actor the revocation log records for an admin request:
// "admin" for the admin token, the username for an admin user.
func adminActor(r *http.Request) string {
	if p, ok := adminauth.FromContext(r.Context()); ok {
		return p.Actor()
	}
	return "admin"
}
