package ssfhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/store"
)

// Paths of the endpoints.
const (
	PathConfiguration = "/.well-known/ssf-configuration"
	PathStream        = "/ssf/stream"
	PathStatus        = "/ssf/status"
	PathVerify        = "/ssf/verify"
	PathAddSubject    = "/ssf/subjects/add"
	PathRemoveSubject = "/ssf/subjects/remove"
	// PathPoll is followed by the stream's ID: each poll stream has its
	// own endpoint_url (SSF 1.0 §6.1.2).
	PathPoll = "/ssf/poll/"
	// PathReceive is where tokend, as a receiver, takes SETs pushed to
	// it (RFC 8935) by the issuers it trusts.
	PathReceive = "/ssf/receive"

	maxBodyBytes int64 = 64 << 10
)

// Store is what the endpoints read: the access tokens and clients of the
// callers.
type Store interface {
	LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error)
	GetClient(ctx context.Context, id string) (store.Client, error)
}

// Config holds what the endpoints depend on.
type Config struct {
	Transmitter *ssf.Transmitter
	// Receiver takes pushed SETs at PathReceive; nil serves none.
	Receiver *ssf.Receiver
	Store    Store
	Auth     *adminauth.Authorizer
	Issuer   string
	// JWKSPath is the path of the server's JWKS, under Issuer.
	JWKSPath string
	Now      func() time.Time
	Logger   *slog.Logger
}

// API serves the endpoints.
type API struct{ cfg Config }

// New returns the API for cfg.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	return &API{cfg: cfg}
}

// PollEndpoint is the endpoint_url of poll stream id at issuer.
func PollEndpoint(issuer, id string) string { return strings.TrimSuffix(issuer, "/") + PathPoll + id }

// Mount registers the endpoints on mux.
func (a *API) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathConfiguration, a.configuration)
	mux.Handle("POST "+PathStream, a.handle(a.create))
	mux.Handle("GET "+PathStream, a.handle(a.read))
	mux.Handle("PATCH "+PathStream, a.handle(func(w http.ResponseWriter, r *http.Request, c ssf.Caller) error { return a.update(w, r, c, false) }))
	mux.Handle("PUT "+PathStream, a.handle(func(w http.ResponseWriter, r *http.Request, c ssf.Caller) error { return a.update(w, r, c, true) }))
	mux.Handle("DELETE "+PathStream, a.handle(a.delete))
	mux.Handle("GET "+PathStatus, a.handle(a.getStatus))
	mux.Handle("POST "+PathStatus, a.handle(a.setStatus))
	mux.Handle("POST "+PathVerify, a.handle(a.verify))
	mux.Handle("POST "+PathAddSubject, a.handle(func(w http.ResponseWriter, r *http.Request, c ssf.Caller) error { return a.subject(w, r, c, false) }))
	mux.Handle("POST "+PathRemoveSubject, a.handle(func(w http.ResponseWriter, r *http.Request, c ssf.Caller) error { return a.subject(w, r, c, true) }))
	mux.Handle("POST "+PathPoll+"{stream_id}", a.handle(a.poll))
	if a.cfg.Receiver != nil {
		mux.HandleFunc("POST "+PathReceive, a.receive)
	}
}

// receive takes a pushed SET (RFC 8935 §2): 202 when accepted, 400 with
// the §2.3 error when not. The SET's signature, by a trusted issuer's
// key, is its authentication.
func (a *API) receive(w http.ResponseWriter, r *http.Request) {
	refuse := func(code, description string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(ssf.ReceiveError{Err: code, Description: description})
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/secevent+jwt" {
		refuse(ssf.ErrCodeInvalidRequest, "the body must be application/secevent+jwt")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ssf.MaxSETBytes))
	if err != nil {
		refuse(ssf.ErrCodeInvalidRequest, "the body could not be read, or is too large")
		return
	}
	_, err = a.cfg.Receiver.Receive(r.Context(), strings.TrimSpace(string(body)))
	var re *ssf.ReceiveError
	switch {
	case errors.As(err, &re):
		a.cfg.Logger.InfoContext(r.Context(), "ssf SET refused", "err", re.Err, "description", re.Description)
		refuse(re.Err, re.Description)
	case err != nil:
		oautherr.Write(w, r, a.cfg.Logger, err)
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// configuration is the transmitter configuration (SSF 1.0 §7.1).
func (a *API) configuration(w http.ResponseWriter, r *http.Request) {
	iss := a.cfg.Issuer
	meta := map[string]any{
		"spec_version":               "1_0",
		"issuer":                     iss,
		"jwks_uri":                   iss + a.cfg.JWKSPath,
		"delivery_methods_supported": []string{ssf.MethodPush, ssf.MethodPoll},
		"configuration_endpoint":     iss + PathStream,
		"status_endpoint":            iss + PathStatus,
		"verification_endpoint":      iss + PathVerify,
		"add_subject_endpoint":       iss + PathAddSubject,
		"remove_subject_endpoint":    iss + PathRemoveSubject,
		// Access tokens of the OAuth 2.0 server this is (SSF 1.0 §7.1.1).
		"authorization_schemes": []map[string]string{{"spec_urn": "urn:ietf:rfc:6749"}},
		"default_subjects":      "ALL",
	}
	w.Header().Set("Cache-Control", "max-age=300")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(meta)
}

// handle authorises the request, runs h, and writes any error it
// returns: the one place errors become responses.
func (a *API) handle(h func(http.ResponseWriter, *http.Request, ssf.Caller) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.caller(r)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			oautherr.Write(w, r, a.cfg.Logger, answer(err))
		}
	})
}

// answer maps the transmitter's errors to the HTTP status SSF 1.0 §8
// names; the rest oautherr maps (a store outage is a 503).
func answer(err error) error {
	switch {
	case errors.Is(err, ssf.ErrInvalid):
		return oautherr.InvalidRequest("%s", strings.TrimPrefix(err.Error(), ssf.ErrInvalid.Error()+": "))
	case errors.Is(err, ssf.ErrNotFound):
		return oautherr.NotFound("no such stream for this receiver")
	}
	var soon *ssf.TooSoonError
	if errors.As(err, &soon) {
		e := oautherr.New("too_many_requests", http.StatusTooManyRequests, "%s", strings.TrimPrefix(err.Error(), "ssf: "))
		e.RetryAfter = soon.RetryAfter
		return e
	}
	return err
}

// caller is who calls: the admin token, a Bearer access token of a client
// allowed to manage streams, or an admin user's Basic credentials.
func (a *API) caller(r *http.Request) (ssf.Caller, error) {
	if a.cfg.Auth.IsAdminToken(r) {
		return ssf.Caller{Admin: true}, nil
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if _, err := a.cfg.Auth.Authorize(r); err != nil {
			return ssf.Caller{}, err
		}
		return ssf.Caller{Admin: true}, nil
	}
	const challenge = `Bearer realm="tokend", error="invalid_token"`
	rec, err := a.cfg.Store.LookupToken(r.Context(), store.HashToken(strings.TrimSpace(cred)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ssf.Caller{}, oautherr.Unauthorized(challenge)
	case err != nil:
		return ssf.Caller{}, err
	case rec.Kind != store.AccessToken || !rec.Active(a.cfg.Now()):
		return ssf.Caller{}, oautherr.Unauthorized(challenge)
	}
	client, err := a.cfg.Store.GetClient(r.Context(), rec.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ssf.Caller{}, oautherr.Unauthorized(challenge)
	case err != nil:
		return ssf.Caller{}, err
	case client.Disabled || !client.SSFStreams:
		return ssf.Caller{}, oautherr.Forbidden("the client may not manage Shared Signals streams")
	}
	return ssf.Caller{ClientID: client.ID}, nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	var req ssf.Request
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	cfg, err := a.cfg.Transmitter.Create(r.Context(), c, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, cfg)
}

// read returns one stream, or without stream_id the caller's list
// (SSF 1.0 §8.1.1.2).
func (a *API) read(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	id := r.URL.Query().Get("stream_id")
	if id == "" {
		list, err := a.cfg.Transmitter.List(r.Context(), c)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, list)
	}
	cfg, err := a.cfg.Transmitter.Get(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cfg)
}

func (a *API) update(w http.ResponseWriter, r *http.Request, c ssf.Caller, replace bool) error {
	var req ssf.Request
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	cfg, err := a.cfg.Transmitter.Update(r.Context(), c, req, replace)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cfg)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	if err := a.cfg.Transmitter.Delete(r.Context(), c, r.URL.Query().Get("stream_id")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getStatus(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	s, err := a.cfg.Transmitter.GetStatus(r.Context(), c, r.URL.Query().Get("stream_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (a *API) setStatus(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	var req ssf.Status
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	s, err := a.cfg.Transmitter.SetStatus(r.Context(), c, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (a *API) verify(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	var req struct {
		StreamID string `json:"stream_id"`
		State    string `json:"state"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.cfg.Transmitter.Verify(r.Context(), c, req.StreamID, req.State); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) subject(w http.ResponseWriter, r *http.Request, c ssf.Caller, remove bool) error {
	var req ssf.SubjectRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	var err error
	if remove {
		err = a.cfg.Transmitter.RemoveSubject(r.Context(), c, req)
	} else {
		err = a.cfg.Transmitter.AddSubject(r.Context(), c, req)
	}
	if err != nil {
		return err
	}
	// SSF 1.0 §8.1.3.2: an empty 200 (§8.1.3.3: 204 for a removal).
	status := http.StatusOK
	if remove {
		status = http.StatusNoContent
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return nil
}

// poll is the poll endpoint (RFC 8936 §2.4).
func (a *API) poll(w http.ResponseWriter, r *http.Request, c ssf.Caller) error {
	var req ssf.PollRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	resp, err := a.cfg.Transmitter.Poll(r.Context(), c, r.PathValue("stream_id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

// nulEscape is how JSON writes a NUL character, which no field holds and
// PostgreSQL text cannot.
var nulEscape = []byte(`\u0000`)

// readJSON decodes the body, a JSON object of at most maxBodyBytes sent as
// application/json (oautherr.RequireJSON says why), into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
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
		return oautherr.InvalidRequest("the body holds a NUL character, which no member may")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return oautherr.InvalidRequest("the body is not a valid JSON request")
	}
	if _, err := dec.Token(); err != io.EOF {
		return oautherr.InvalidRequest("the body holds more than one JSON value")
	}
	return nil
}

// writeJSON writes v with the no-store headers.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
