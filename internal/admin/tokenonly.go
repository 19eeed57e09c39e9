package admin

import (
	"log/slog"
	"net/http"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
)

// bearerChallenge is the WWW-Authenticate value of a request TokenOnly
// refuses.
const bearerChallenge = `Bearer realm="tokend"`

// TokenOnly serves h only to a request carrying the admin token as a Bearer
// token (RFC 6750 §2.1): for what the public listener must not show to
// anyone else, such as the metrics (live token counts, failed
// authentications). Others get 401 invalid_token with a Bearer challenge
// (RFC 6750 §3), logged at debug. An authorizer without a token refuses
// every request.
func TokenOnly(authz *adminauth.Authorizer, h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authz.IsAdminToken(r) {
			oautherr.Write(w, r, log, oautherr.Unauthorized(bearerChallenge))
			return
		}
		h.ServeHTTP(w, r)
	})
}
