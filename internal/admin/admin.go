package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// Paths of the endpoints.
const (
	PathRevocations                 = "/admin/revocations"
	PathGlobalTokenRevocation       = "/global-token-revocation"
	maxBodyBytes              int64 = 64 << 10
)

// Config holds what the admin API depends on.
type Config struct {
	Store store.Store
	Auth  *adminauth.Authorizer
	// Issuer is the server's issuer identifier; an iss_sub Subject
	// Identifier names one of our users only with this iss.
	Issuer string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// RetryAfter is what a 503 asks the client to wait; default 1s.
	RetryAfter time.Duration
}

// API serves the admin endpoints.
type API struct {
	cfg    Config
	engine *revocation.Engine
}

// New returns the admin API for cfg.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	return &API{cfg: cfg, engine: &revocation.Engine{Store: cfg.Store, Now: cfg.Now}}
}

// Mount registers the endpoints on mux.
func (a *API) Mount(mux *http.ServeMux) {
	mux.Handle("POST "+PathRevocations, a.handle(a.revoke))
	mux.Handle("GET "+PathRevocations, a.handle(a.events))
	mux.Handle("POST "+PathGlobalTokenRevocation, a.handle(a.globalRevoke))
}

// handle authorises the request (package adminauth), runs h, and writes
// any error it returns: the one place errors become responses.
func (a *API) handle(h func(http.ResponseWriter, *http.Request, adminauth.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.cfg.Auth.Authorize(r)
		if err == nil {
			err = h(w, r, p)
		} else {
			err = oauth.AdminError(err)
		}
		if err != nil {
			oauth.WriteError(w, r, a.cfg.Logger, a.storeError(err))
		}
	})
}

// storeError answers a store outage with 503 (nothing was done; retry).
func (a *API) storeError(err error) error {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return err
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return oauth.ErrTemporarilyUnavailable(a.cfg.RetryAfter, err)
	}
	return err
}

// nulEscape is how JSON writes a NUL character, which no field holds and a
// store may refuse (PostgreSQL text cannot hold it).
var nulEscape = []byte(`\u0000`)

// readJSON decodes the request body, a JSON object of at most
// maxBodyBytes, into v. The body must be sent as application/json
// (oauth.RequireJSON says why). With strict, members v does not know are
// refused.
func readJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	if err := oauth.RequireJSON(r, oauth.CodeInvalidRequest); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return oauth.ErrBodyTooLarge(maxBodyBytes)
		}
		return oauth.ErrInvalidRequest("could not read the request body")
	}
	if bytes.Contains(body, nulEscape) {
		return oauth.ErrInvalidRequest("the body holds a NUL character, which no field may")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return oauth.ErrInvalidRequest("the body is not a valid JSON request: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return oauth.ErrInvalidRequest("the body holds more than one JSON value")
	}
	return nil
}

// jsonProblem says what is wrong with a JSON body without echoing it.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		if typ.Field != "" {
			return "wrong type for " + typ.Field
		}
		return "wrong JSON type"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown member " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "malformed JSON"
	}
}

// writeJSON writes v with the no-store headers of every admin answer.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
