package oauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tokend/tokend/internal/httperr"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/statuslist"
)

// PathStatusLists is where the Token Status Lists are served, one per
// number: /oauth2/statuslists/{id} (statuslist.URI).
const PathStatusLists = "/oauth2/statuslists/"

func (e *Endpoints) mountStatusLists(mux *http.ServeMux) {
	if e.cfg.StatusLists == nil {
		return
	}
	mux.Handle("GET "+PathStatusLists+"{id}", e.handle(e.statusList))
}

// statusList serves a Status List Token (draft-ietf-oauth-status-list §8):
// a JWT signed with the active key whose status_list holds one bit per
// JWT access token, 1 when it is revoked. It needs no authentication:
// resource servers fetch it as they fetch the JWKS, and it tells nothing
// about a token but one bit at an index only its holder knows. Since
// anyone may ask, a list that holds no reserved index, by this instance or
// another sharing the store (StatusIndexes.ListReserved), is 404 before
// anything is signed: no token points at it.
func (e *Endpoints) statusList(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return oautherr.NotFound("no such status list")
	}
	if !acceptsStatusListJWT(r.Header.Get("Accept")) {
		return oautherr.New(oautherr.CodeInvalidRequest, http.StatusNotAcceptable, "status lists are served as %s only", statuslist.MediaType)
	}
	if e.cfg.Feed != nil && !e.cfg.Feed.Current(StaleFeed) {
		// The lists are kept current by the feed's hub: one that cannot
		// read the log would serve bits missing the revocations made
		// meanwhile on other instances, and sign them as fresh.
		return oautherr.TemporarilyUnavailable(httperr.OutageRetryAfter, errors.New("the revocation log has not been read for a while"))
	}
	reserved := false
	if e.cfg.StatusIndexes != nil {
		if reserved, err = e.cfg.StatusIndexes.ListReserved(r.Context(), n); err != nil {
			return err
		}
	}
	if !reserved {
		return oautherr.NotFound("no such status list")
	}
	jwt, _, err := e.cfg.StatusLists.Token(r.Context(), n)
	if errors.Is(err, statuslist.ErrNoSuchList) {
		return oautherr.NotFound("no such status list")
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", statuslist.MediaType)
	h.Set("Access-Control-Allow-Origin", "*")
	// The ttl claim says how long the list may be cached; HTTP caches
	// are told the same.
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(e.cfg.StatusLists.TTL().Seconds())))
	_, err = w.Write(jwt)
	return err
}

// acceptsStatusListJWT reports whether an Accept header admits the JWT
// form (no header, */*, application/*, or the type itself).
func acceptsStatusListJWT(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "*/*", "application/*", statuslist.MediaType:
			return true
		}
	}
	return false
}
