package scim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// PathUsers is the Users endpoint, at WSO2 IS's path.
const PathUsers = "/scim2/Users"

// Limits of a request.
const (
	maxBodyBytes = 64 << 10
	// DefaultCount and MaxCount bound a page of a query (RFC 7644 §3.4.2.4).
	DefaultCount = 100
	MaxCount     = 1000
)

// Config holds what the endpoint depends on.
type Config struct {
	// Store holds the users. The revocations a change of a user makes
	// (a password change, a disable, a deletion) go through a
	// revocation.Engine on it, with the clock Now.
	Store store.Store
	Auth  *adminauth.Authorizer
	// BaseURL is the server's external URL (the issuer); meta.location and
	// Location are built from it.
	BaseURL string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Users serves /scim2/Users.
type Users struct {
	cfg    Config
	engine *revocation.Engine
	base   string
}

// New returns the Users endpoint for cfg.
func New(cfg Config) *Users {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Users{
		cfg:    cfg,
		engine: &revocation.Engine{Store: cfg.Store, Now: cfg.Now},
		base:   strings.TrimSuffix(cfg.BaseURL, "/") + PathUsers,
	}
}

// Mount registers the endpoint on mux.
func (s *Users) Mount(mux *http.ServeMux) {
	mux.Handle("POST "+PathUsers, s.handle(s.create))
	mux.Handle("GET "+PathUsers, s.handle(s.query))
	mux.Handle("GET "+PathUsers+"/{id}", s.handle(s.get))
	mux.Handle("PUT "+PathUsers+"/{id}", s.handle(s.replace))
	mux.Handle("PATCH "+PathUsers+"/{id}", s.handle(s.patch))
	mux.Handle("DELETE "+PathUsers+"/{id}", s.handle(s.delete))
}

// handle authorises the request, runs h and writes the error it returns.
func (s *Users) handle(h func(http.ResponseWriter, *http.Request, adminauth.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.cfg.Auth.Authorize(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			writeError(w, r, s.cfg.Logger, err)
		}
	})
}

// readBody reads a request body of at most maxBodyBytes sent as
// application/scim+json or application/json (RFC 7644 §3.1). Other types
// are refused: a browser cannot send these cross-site without a CORS
// preflight, which is never granted, so no page can ride on an admin's
// cached Basic credentials.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != ContentType && mt != "application/json") {
		return nil, newError(http.StatusUnsupportedMediaType, "", "the body must be application/scim+json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, newError(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
		}
		return nil, errSyntax("could not read the request body")
	}
	// A NUL (JSON \u0000) is in no user attribute, and PostgreSQL text
	// cannot hold it.
	if bytes.Contains(body, []byte(`\u0000`)) {
		return nil, errSyntax("the body holds a NUL character")
	}
	return body, nil
}

// create is POST /scim2/Users (RFC 7644 §3.3): 201 with the new user and
// its Location. userName and password are required; active defaults to
// true. A userName that is taken is 409 uniqueness.
func (s *Users) create(w http.ResponseWriter, r *http.Request, _ adminauth.Principal) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	c, err := decodeUser(body)
	if err != nil {
		return err
	}
	if c.userName == nil {
		return errValue("userName is required")
	}
	if c.password == nil {
		return errValue("password is required")
	}
	u, err := identity.NewUser(*c.userName, *c.password, false, s.cfg.Now())
	if err != nil {
		return invalidUser(err)
	}
	if c.active != nil {
		u.Disabled = !*c.active
	}
	c.profile.apply(&u)
	if err := s.cfg.Store.CreateUser(r.Context(), u); errors.Is(err, store.ErrAlreadyExists) {
		return newError(http.StatusConflict, TypeUniqueness, "userName is taken")
	} else if err != nil {
		return fmt.Errorf("scim: create user: %w", err)
	}
	res := resource(u, s.base)
	w.Header().Set("Location", res.Meta.Location)
	return writeJSON(w, http.StatusCreated, res)
}

// invalidUser turns identity's refusal of a username or password into
// invalidValue; anything else is a failure.
func invalidUser(err error) error {
	var inv *identity.ErrInvalidUser
	if errors.As(err, &inv) {
		return errValue(strings.TrimPrefix(inv.Error(), "identity: "))
	}
	return err
}

// get is GET /scim2/Users/{id} (RFC 7644 §3.4.1).
func (s *Users) get(w http.ResponseWriter, r *http.Request, _ adminauth.Principal) error {
	u, err := s.byID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resource(u, s.base))
}

func (s *Users) byID(ctx context.Context, id string) (store.User, error) {
	u, err := s.cfg.Store.GetUserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errNotFound()
	}
	if err != nil {
		return store.User{}, fmt.Errorf("scim: get user: %w", err)
	}
	return u, nil
}

// query is GET /scim2/Users (RFC 7644 §3.4.2): with filter=userName eq
// "name" the user of that name, or none; without a filter every user, by
// userName, a page at a time (startIndex from 1, count up to MaxCount).
// Any other filter is 400 invalidFilter.
func (s *Users) query(w http.ResponseWriter, r *http.Request, _ adminauth.Principal) error {
	q := r.URL.Query()
	start, err := intParam(q, "startIndex", 1)
	if err != nil {
		return err
	}
	count, err := intParam(q, "count", DefaultCount)
	if err != nil {
		return err
	}
	start = max(start, 1)                // RFC 7644 §3.4.2.4: less than 1 is 1
	count = min(max(count, 0), MaxCount) // negative is 0
	var users []store.User
	if fs, ok := q["filter"]; ok {
		if len(fs) != 1 {
			return newError(http.StatusBadRequest, TypeInvalidFilter, "filter is repeated")
		}
		name, err := ParseFilter(fs[0])
		if err != nil {
			return newError(http.StatusBadRequest, TypeInvalidFilter, `only the filter userName eq "value" is supported`)
		}
		u, err := s.cfg.Store.GetUser(r.Context(), name)
		switch {
		case err == nil:
			users = []store.User{u}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("scim: find user: %w", err)
		}
	} else if users, err = s.cfg.Store.ListUsers(r.Context()); err != nil {
		return fmt.Errorf("scim: list users: %w", err)
	}
	resp := ListResponse{Schemas: []string{SchemaListResponse}, TotalResults: len(users), StartIndex: start, Resources: []User{}}
	if start <= len(users) {
		page := users[start-1:]
		page = page[:min(len(page), count)]
		for _, u := range page {
			resp.Resources = append(resp.Resources, resource(u, s.base))
		}
	}
	resp.ItemsPerPage = len(resp.Resources)
	return writeJSON(w, http.StatusOK, resp)
}

// intParam reads an optional integer query parameter.
func intParam(q url.Values, name string, def int) (int, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(vs[0])
	if len(vs) != 1 || err != nil {
		return 0, errValue(name + " must be one integer")
	}
	return n, nil
}

// replace is PUT /scim2/Users/{id} (RFC 7644 §3.5.1). userName is required
// (a different one renames the user); a password replaces the password;
// active, when given, sets it. An omitted active or password is left as it
// is (RFC 7644 §3.5.1 lets the server keep values the client does not
// assert): a client that forgets active must not re-enable a user.
func (s *Users) replace(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	c, err := decodeUser(body)
	if err != nil {
		return err
	}
	if c.userName == nil {
		return errValue("userName is required")
	}
	u, err := s.apply(r.Context(), r.PathValue("id"), c, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resource(u, s.base))
}

// apply makes the changes c to the user id in one store transaction that
// also revokes every grant of the user when the password changes or the
// user is disabled. The new password is hashed first: UpdateUser's
// callback runs on the store's single writer.
func (s *Users) apply(ctx context.Context, id string, c changes, p adminauth.Principal) (store.User, error) {
	if c.userName != nil {
		if err := identity.ValidUsername(*c.userName); err != nil {
			return store.User{}, invalidUser(err)
		}
	}
	var hash string
	if c.password != nil {
		h, err := identity.HashNewPassword(*c.password)
		if err != nil {
			return store.User{}, invalidUser(err)
		}
		hash = h
	}
	now := s.cfg.Now()
	// Disabling the user outranks a password change as the reason: both
	// revoke the same grants, in one event each. Other changes revoke
	// nothing, but an enable and a change of claims are logged as subject
	// entries (Engine.ChangeUser). The change is logged at the user's new
	// UpdatedAt.
	update := s.engine.At(now).ChangeUser
	switch {
	case c.active != nil && !*c.active:
		update = s.engine.At(now).DisableUser
	case c.password != nil:
		update = s.engine.At(now).ChangePassword
	}
	// The store keys users by name; the ID is checked inside the
	// transaction, and a rename in between is retried.
	for range 3 {
		cur, err := s.byID(ctx, id)
		if err != nil {
			return store.User{}, err
		}
		var updated store.User
		_, err = update(ctx, cur.Username, p.Actor(), func(u store.User) (store.User, error) {
			if u.ID != id {
				return u, errRenamed
			}
			if c.userName != nil {
				u.Username = *c.userName
			}
			if hash != "" {
				u.PasswordHash = hash
			}
			if c.active != nil {
				u.Disabled = !*c.active
			}
			c.profile.apply(&u)
			u.UpdatedAt = now
			updated = u
			return u, nil
		})
		switch {
		case err == nil:
			return updated, nil
		case errors.Is(err, errRenamed), errors.Is(err, store.ErrNotFound):
			continue // renamed or deleted meanwhile: look again
		case errors.Is(err, store.ErrAlreadyExists):
			return store.User{}, newError(http.StatusConflict, TypeUniqueness, "userName is taken")
		default:
			return store.User{}, fmt.Errorf("scim: update user: %w", err)
		}
	}
	return store.User{}, newError(http.StatusConflict, "", "the user changed during the update; retry")
}

var errRenamed = errors.New("scim: the user was renamed during the update")

// delete is DELETE /scim2/Users/{id} (RFC 7644 §3.6): 204. The user and
// every grant of the user go in one transaction. The store deletes by
// name: the user is looked up by ID just before, so only a rename and a
// re-creation of the same name by another admin request in that instant
// could misdirect it.
func (s *Users) delete(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	u, err := s.byID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	_, err = s.engine.DeleteUser(r.Context(), u.Username, p.Actor())
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound()
	}
	if err != nil {
		return fmt.Errorf("scim: delete user: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
