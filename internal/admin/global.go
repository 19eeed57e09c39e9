package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// Subject Identifier formats of RFC 9493 §3.2 that name a tokend user.
const (
	FormatOpaque  = "opaque"  // {"id": user ID}: the sub of the user's tokens
	FormatEmail   = "email"   // {"email": ...}: a user whose username is that address
	FormatAccount = "account" // {"uri": "acct:NAME@HOST"} (RFC 7565)
	FormatIssSub  = "iss_sub" // {"iss": our issuer, "sub": user ID}
)

// globalRequest is a Global Token Revocation request
// (draft-parecki-oauth-global-token-revocation-05 §3.2). Members other than
// sub_id are ignored, as the draft may grow.
type globalRequest struct {
	SubID *subjectIdentifier `json:"sub_id"`
}

// subjectIdentifier is an RFC 9493 Subject Identifier; which members are
// needed depends on Format.
type subjectIdentifier struct {
	Format string `json:"format"`
	ID     string `json:"id"`
	Email  string `json:"email"`
	URI    string `json:"uri"`
	Iss    string `json:"iss"`
	Sub    string `json:"sub"`
}

// errNoSuchUser: the identifier is well formed but names no user (404).
var errNoSuchUser = errors.New("admin: no user matches the subject identifier")

// globalRevoke is POST /global-token-revocation
// (draft-parecki-oauth-global-token-revocation-05 §3): it revokes every
// live grant of the user the sub_id names, refresh and access tokens alike
// (§3.3), and answers 204 (§3.4.1); 400 for a malformed request or an
// unsupported identifier format, 404 when no user matches (§3.4.2). The
// user must sign in again for new tokens, which the password grant always
// asks for.
func (a *API) globalRevoke(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	var req globalRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.SubID == nil {
		return oautherr.InvalidRequest("sub_id is required")
	}
	u, err := a.resolve(r.Context(), *req.SubID)
	switch {
	case errors.Is(err, errNoSuchUser):
		return oautherr.NotFound("user not found")
	case err != nil:
		return err
	}
	res, err := a.engine.RevokeGlobal(r.Context(), u.ID, p.Actor())
	if err != nil {
		return fmt.Errorf("admin: global token revocation: %w", err)
	}
	a.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "global token revocation",
		slog.String("actor", p.Actor()), slog.String("subject", u.ID), slog.String("format", req.SubID.Format),
		slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resolve finds the user a Subject Identifier names. A malformed or
// unsupported identifier is an *oautherr.Error (400); no match is
// errNoSuchUser.
func (a *API) resolve(ctx context.Context, id subjectIdentifier) (store.User, error) {
	need := func(member, v string) error {
		if v == "" {
			return oautherr.InvalidRequest("sub_id of format %q needs %q", id.Format, member)
		}
		return nil
	}
	switch id.Format {
	case FormatOpaque:
		if err := need("id", id.ID); err != nil {
			return store.User{}, err
		}
		return a.userByID(ctx, id.ID)
	case FormatIssSub:
		if err := need("iss", id.Iss); err != nil {
			return store.User{}, err
		}
		if err := need("sub", id.Sub); err != nil {
			return store.User{}, err
		}
		if strings.TrimSuffix(id.Iss, "/") != a.cfg.Issuer {
			return store.User{}, errNoSuchUser // a subject of another issuer is none of ours
		}
		return a.userByID(ctx, id.Sub)
	case FormatEmail:
		if err := need("email", id.Email); err != nil {
			return store.User{}, err
		}
		return a.userByName(ctx, id.Email)
	case FormatAccount:
		if err := need("uri", id.URI); err != nil {
			return store.User{}, err
		}
		return a.account(ctx, id.URI)
	case "":
		return store.User{}, oautherr.InvalidRequest("sub_id needs a format")
	default:
		return store.User{}, oautherr.InvalidRequest("unsupported subject identifier format %q; supported: %s, %s, %s, %s",
			id.Format, FormatOpaque, FormatEmail, FormatAccount, FormatIssSub)
	}
}

// account resolves an acct URI (RFC 7565): "acct:NAME@HOST" names the user
// whose username is NAME@HOST (an email-shaped username) or, when HOST is
// the issuer's host (with or without its port), the user NAME.
func (a *API) account(ctx context.Context, uri string) (store.User, error) {
	rest, ok := strings.CutPrefix(uri, "acct:")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at <= 0 || at == len(rest)-1 {
		return store.User{}, oautherr.InvalidRequest("sub_id uri must be an acct URI, acct:name@host")
	}
	name, err := url.PathUnescape(rest[:at])
	if err != nil {
		return store.User{}, oautherr.InvalidRequest("sub_id uri is not a valid acct URI")
	}
	host := rest[at+1:]
	u, err := a.userByName(ctx, name+"@"+host)
	if !errors.Is(err, errNoSuchUser) {
		return u, err
	}
	if iss, perr := url.Parse(a.cfg.Issuer); perr == nil && (strings.EqualFold(host, iss.Host) || strings.EqualFold(host, iss.Hostname())) {
		return a.userByName(ctx, name)
	}
	return store.User{}, errNoSuchUser
}

func (a *API) userByID(ctx context.Context, id string) (store.User, error) {
	u, err := a.cfg.Store.GetUserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errNoSuchUser
	}
	return u, err
}

// userByName finds a user by username; an email address is also tried in
// lower case, as addresses are in practice case-insensitive.
func (a *API) userByName(ctx context.Context, name string) (store.User, error) {
	u, err := a.cfg.Store.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) && strings.ToLower(name) != name && strings.Contains(name, "@") {
		u, err = a.cfg.Store.GetUser(ctx, strings.ToLower(name))
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errNoSuchUser
	}
	return u, err
}
