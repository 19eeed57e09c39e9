package web

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/httperr"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// pathAssets is where the style sheet and the icon are served, each under
// a name that holds its content's hash.
const pathAssets = "/assets/"

// DefaultSessionTTL is how long a browser session lasts from sign-in when
// Config.SessionTTL is zero: a working day, after which the user signs in
// again.
const DefaultSessionTTL = 12 * time.Hour

// Config holds what the pages depend on.
type Config struct {
	// Issuer is the server's issuer identifier, sent as iss in every
	// authorization response (RFC 9207).
	Issuer string
	// AuthorizePath and EndSessionPath are where the authorization
	// endpoint and sign-out are served: oauth.PathAuthorize and
	// oauth.PathEndSession, which the metadata advertises. The HTTP areas
	// do not import each other, so the program that wires both hands them
	// over; both are required.
	AuthorizePath  string
	EndSessionPath string
	Store          store.Store
	// JWT verifies the id_token_hint of a sign-out (RP-Initiated Logout);
	// nil refuses every hint.
	JWT *token.JWTs
	// Feed follows the revocation log: the console's live log reads it.
	// nil: the log page is the page as loaded, with no script.
	Feed *feed.Hub
	// Engine ends sessions; nil: an engine on Store.
	Engine *revocation.Engine
	// UserLimiter counts password guesses per user and per address: the
	// one the password grant and admin HTTP Basic share, so that guesses
	// are limited whichever endpoint they are sent to.
	UserLimiter *ratelimit.Limiter
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionTTL is how long a session lasts from sign-in; zero:
	// DefaultSessionTTL. It is not extended by use.
	SessionTTL time.Duration
}

// Pages serves the authorization endpoint, its sign-in and consent pages,
// sign-out, and the account page.
type Pages struct {
	cfg       Config
	log       *slog.Logger
	passwords *identity.Passwords
	// slots bounds the password checks of the sign-in page running at once:
	// each is an argon2id run, and a storm of sign-ins must leave the CPU to
	// the token endpoints. A sign-in waits at most slotWait for one.
	slots    chan struct{}
	slotWait time.Duration
}

// signInSlotWait is how long a sign-in waits for a password check slot
// before it is told the server is busy: a person waits a moment without
// noticing, a storm does not pile up.
const signInSlotWait = 2 * time.Second

// New returns the pages for cfg. It panics without the paths, which only
// a program that does not wire the pages can leave out.
func New(cfg Config) *Pages {
	if cfg.AuthorizePath == "" || cfg.EndSessionPath == "" {
		panic("web: Config.AuthorizePath and Config.EndSessionPath are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Engine == nil {
		cfg.Engine = &revocation.Engine{Store: cfg.Store, JWT: cfg.JWT, Now: cfg.Now}
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	return &Pages{
		cfg:       cfg,
		log:       cfg.Logger,
		passwords: &identity.Passwords{Users: cfg.Store, Limiter: cfg.UserLimiter},
		slots:     make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		slotWait:  signInSlotWait,
	}
}

// Mount registers the pages and their assets on mux.
func (p *Pages) Mount(mux *http.ServeMux) {
	p.mountPage(mux, p.cfg.AuthorizePath, p.authorize)
	p.mountPage(mux, p.cfg.EndSessionPath, p.logout)
	p.mountPage(mux, PathAccount, p.account)
	p.mountPage(mux, pathAccountSignIn, p.signInFor(pathAccountSignIn, PathAccount, "your account"))
	p.mountPage(mux, pathAccountConfirm, p.accountConfirm)
	p.mountConsole(mux)
	p.mountDevice(mux)
	mux.HandleFunc("GET "+pathAssets+"{name}", serveAsset)
}

// mountPage mounts h for GET and POST at path, and a 405 page for every
// other method.
func (p *Pages) mountPage(mux *http.ServeMux, path string, h func(http.ResponseWriter, *http.Request) error) {
	mux.Handle("GET "+path, p.handle(h))
	mux.Handle("POST "+path, p.handle(h))
	mux.Handle(path, p.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", "GET, POST")
		return &pageError{status: http.StatusMethodNotAllowed, heading: "This page cannot do that",
			message: "The page was asked for in a way it does not answer. Go back to the application and try again."}
	}))
}

// Headers of every page: the page loads nothing but its own style sheet
// and images (no script, no inline style), may not be framed, and sends
// no Referer, which would carry the authorization request's parameters to
// whatever the page links to. The CSP has no form-action directive:
// Chrome applies it to the redirect that follows a form's POST, which
// goes to the client.
//
// The console's log page alone runs a script, its own, served from the
// assets: hdrCSPLive adds script-src 'self' (no inline script, no eval)
// and connect-src 'self' (its stream) to that page's policy only, so
// every other page, the sign-in page first, still runs no script at all,
// whatever an injection might manage to write into it.
var (
	hdrCSP       = []string{"default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"}
	hdrCSPLive   = []string{"default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"}
	hdrNoStore   = []string{"no-store"}
	hdrNoCache   = []string{"no-cache"}
	hdrNoReferer = []string{"no-referrer"}
)

// handle sets the headers of every page and turns an error into its
// answer: a pageError is shown, an authorization error is redirected to the
// client, and anything else (the store, a bug) is mapped by httperr and
// shown in plain words, its cause logged only.
func (p *Pages) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Content-Security-Policy"] = hdrCSP
		hd["Cache-Control"] = hdrNoStore
		hd["Pragma"] = hdrNoCache
		hd["Referrer-Policy"] = hdrNoReferer
		err := h(w, r)
		if err == nil {
			return
		}
		var pe *pageError
		var re *redirectError
		switch {
		case errors.As(err, &re):
			p.log.LogAttrs(r.Context(), slog.LevelDebug, "authorization error", slog.String("error", re.code), slog.String("description", re.description))
			redirect(w, re.location)
		case errors.As(err, &pe):
			p.log.LogAttrs(r.Context(), slog.LevelDebug, "page error", slog.Int("status", pe.status), slog.String("heading", pe.heading))
			p.showError(w, r, pe)
		default:
			p.storeError(w, r, err)
		}
	})
}

// storeError answers an error from below the pages: nothing when the
// browser went away, a page asking to try again when the store is out,
// else a page that says something went wrong and a log line with the
// cause.
func (p *Pages) storeError(w http.ResponseWriter, r *http.Request, err error) {
	a := httperr.Of(r.Context(), err)
	switch a.Kind {
	case httperr.ClientGone:
		return
	case httperr.Unavailable:
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "page: store unavailable", slog.String("cause", err.Error()))
		p.showError(w, r, &pageError{status: a.Status, retryAfter: a.RetryAfter, heading: "Try again in a moment",
			message: "The server cannot answer right now. Nothing was changed. Try again in a moment."})
	default:
		p.log.LogAttrs(r.Context(), slog.LevelError, "page: internal error", slog.String("cause", err.Error()))
		p.showError(w, r, &pageError{status: http.StatusInternalServerError, heading: "Something went wrong",
			message: "Something went wrong on our side. Nothing was changed. Try again later."})
	}
}

// redirect sends the browser to location with 303 See Other, which turns
// the POST of a page into a GET (RFC 9700 §4.12: never 307, which would
// repost the password to the client).
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}

// pageError is an error shown to the person on the error page, in plain
// words: a heading, a message, the status, and when to try again.
type pageError struct {
	status     int
	heading    string
	message    string
	retryAfter time.Duration
	cause      error
}

func (e *pageError) Error() string {
	if e.cause != nil {
		return e.heading + ": " + e.cause.Error()
	}
	return e.heading
}

func (e *pageError) Unwrap() error { return e.cause }

// badRequest is a pageError of status 400.
func badRequest(heading, message string) *pageError {
	return &pageError{status: http.StatusBadRequest, heading: heading, message: message}
}
