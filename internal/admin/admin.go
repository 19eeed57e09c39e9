package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
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
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	return &API{cfg: cfg, engine: &revocation.Engine{Store: cfg.Store, Now: cfg.Now}}
}

// Mount registers the endpoints on mux.
func (a *API) Mount(mux *http.ServeMux) {
	mux.Handle("POST "+PathRevocations, a.handle(a.revoke))
	mux.Handle("GET "+PathRevocations, a.handle(a.events))
	mux.Handle("POST "+PathGlobalTokenRevocation, a.handle(a.globalRevoke))
	a.mountSessions(mux)
}

// handle authorises the request (package adminauth), runs h, and writes
// any error it returns: the one place errors become responses.
func (a *API) handle(h func(http.ResponseWriter, *http.Request, adminauth.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.cfg.Auth.Authorize(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			oautherr.Write(w, r, a.cfg.Logger, err)
		}
	})
}

// nulEscape is how JSON writes a NUL character, which no field holds and a
// store may refuse (PostgreSQL text cannot hold it).
var nulEscape = []byte(`\u0000`)

// readJSON decodes the request body, a JSON object of at most
// maxBodyBytes, into v. The body must be sent as application/json
// (oautherr.RequireJSON says why). With strict, members v does not know are
// refused.
func readJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	if err := oautherr.RequireJSON(r, oautherr.CodeInvalidRequest); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return oautherr.BodyTooLarge(maxBodyBytes)
		}
		return oautherr.InvalidRequest("could not read the request body")
	}
	if bytes.Contains(body, nulEscape) {
		return oautherr.InvalidRequest("the body holds a NUL character, which no field may")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return oautherr.InvalidRequest("the body is not a valid JSON request: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return oautherr.InvalidRequest("the body holds more than one JSON value")
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
