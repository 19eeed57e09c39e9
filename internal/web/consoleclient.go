package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// The console's actions on a client.
const (
	actionRotateSecret  = "rotate_secret"
	actionDisableClient = "disable_client"
	actionEnableClient  = "enable_client"
	actionDeleteClient  = "delete_client"
)

// The flash messages of a client's page.
const (
	flashClientDisabled = "client_disabled"
	flashClientEnabled  = "client_enabled"
	flashClientDeleted  = "client_deleted"
)

func init() {
	consoleFlashes[flashClientDisabled] = consoleFlash{text: "The client was disabled: the token endpoint refuses it and its tokens are inactive until it is enabled. Nothing was revoked."}
	consoleFlashes[flashClientEnabled] = consoleFlash{text: "The client was enabled; its tokens that have not expired work again."}
	consoleFlashes[flashClientDeleted] = consoleFlash{text: "The client was deleted, and every token issued to it revoked."}
}

// consoleClientView is a client's page.
type consoleClientView struct {
	Name, ID, Path string
	AuthMethod     string
	GrantTypes     []string
	RedirectURIs   []string
	TokenFormat    string
	Public         bool
	Disabled       bool
	Created        string
	Live           store.Stats
	// Secret is the new secret, on the answer to its rotation only.
	Secret string
}

// consoleClient is a client's page (GET) and its actions (POST).
func (p *Pages) consoleClient(w http.ResponseWriter, r *http.Request) error {
	vals, si, ok, err := p.consoleRequest(w, r)
	if !ok || err != nil {
		return err
	}
	c, err := p.cfg.Store.GetClient(r.Context(), r.PathValue("client_id"))
	if err != nil {
		return notFound(err, "client")
	}
	if r.Method == http.MethodPost {
		return p.consoleClientAction(w, r, si, c, vals)
	}
	cv, err := p.consoleClientView(r, c)
	if err != nil {
		return err
	}
	return p.consolePage(w, r, si, vals, consoleClientPage, cv.Name+" · Admin console", &consoleView{Client: cv})
}

// consoleClientView reads what the page of c shows.
func (p *Pages) consoleClientView(r *http.Request, c store.Client) (*consoleClientView, error) {
	live, err := p.cfg.Store.CountMatching(r.Context(), store.Filter{ClientID: c.ID}, p.cfg.Now())
	if err != nil {
		return nil, err
	}
	format := c.TokenFormat
	if format == "" {
		format = "opaque"
	}
	return &consoleClientView{Name: clientName(c.Name, c.ID), ID: c.ID, Path: consoleClientPath(c.ID),
		AuthMethod: c.AuthMethod, GrantTypes: c.GrantTypes, RedirectURIs: c.RedirectURIs, TokenFormat: format,
		Public: c.Public(), Disabled: c.Disabled, Created: when(c.CreatedAt), Live: live}, nil
}

// consoleClientAction does one action of the client's page with the admin
// as actor. A rotated secret is shown on the answer itself, once: it is
// never in a URL, a log or the store.
func (p *Pages) consoleClientAction(w http.ResponseWriter, r *http.Request, si signedIn, c store.Client, form url.Values) error {
	action, _ := single(form, "action", maxParamBytes)
	actor, back := si.user.Username, consoleClientPath(c.ID)
	ctx := r.Context()
	var flash string
	switch action {
	case actionRotateSecret:
		return p.rotateSecret(w, r, si, c)
	case actionDisableClient, actionEnableClient:
		disable, now := action == actionDisableClient, p.cfg.Now()
		// As the CLI does: disabling refuses the client and its tokens
		// without revoking them, so enabling it brings them back; nothing
		// is in the revocation log, the log line names the admin.
		if _, err := p.cfg.Store.UpdateClient(ctx, c.ID, func(c store.Client) (store.Client, error) {
			c.Disabled, c.UpdatedAt = disable, now
			return c, nil
		}, nil); err != nil {
			return notFound(err, "client")
		}
		flash = flashClientEnabled
		if disable {
			flash = flashClientDisabled
		}
		p.logAdmin(r, "console: client "+strings.TrimSuffix(action, "_client")+"d", actor, c.ID)
	case actionDeleteClient:
		if typed, _ := single(form, "confirm", maxParamBytes); typed != c.ID {
			flash = flashTypeMismatch
			break
		}
		if _, err := p.cfg.Engine.DeleteClient(ctx, c.ID, actor); err != nil {
			return notFound(err, "client")
		}
		p.logAdmin(r, "console: client deleted", actor, c.ID)
		flash, back = flashClientDeleted, PathConsole
	default:
		return unreadableForm()
	}
	consoleBack(w, back, flash)
	return nil
}

// errPublicClient refuses to give a public client a secret.
var errPublicClient = errors.New("a public client has no secret")

// rotateSecret gives c a new secret, revoking every grant obtained with
// the old one (Engine.RotateSecret), and shows the secret on the answer.
func (p *Pages) rotateSecret(w http.ResponseWriter, r *http.Request, si signedIn, c store.Client) error {
	secret, stored, err := registry.NewSecret("")
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	res, err := p.cfg.Engine.RotateSecret(r.Context(), c.ID, si.user.Username, func(c store.Client) (store.Client, error) {
		if c.Public() {
			return c, errPublicClient
		}
		c.SecretHash, c.UpdatedAt = stored, now
		return c, nil
	})
	switch {
	case errors.Is(err, errPublicClient):
		return badRequest("A public client has no secret", "This client authenticates with its client ID alone, so it has no secret to rotate. Nothing was changed.")
	case err != nil:
		return notFound(err, "client")
	}
	p.logAdmin(r, "console: client secret rotated", si.user.Username, c.ID, slog.Int("grants", res.Grants))
	cv, err := p.consoleClientView(r, c)
	if err != nil {
		return err
	}
	cv.Secret = secret
	return p.consolePage(w, r, si, nil, consoleSecretPage, "New secret · Admin console", &consoleView{Client: cv})
}

// clientConfirmation is what the confirmation of do on c asks.
func clientConfirmation(c store.Client, do string) (confirmation, error) {
	name := clientName(c.Name, c.ID)
	fields := []hidden{{Name: "action", Value: do}}
	switch do {
	case actionRotateSecret:
		if c.Public() {
			break
		}
		return confirmation{heading: "Rotate the secret of " + name + "?",
			message: "The old secret stops working now, and every token issued to " + name + " is revoked. The new secret is shown once, on the next page: the client must be given it.",
			button:  "Rotate the secret", fields: fields}, nil
	case actionDisableClient:
		return confirmation{heading: "Disable " + name + "?",
			message: "The token endpoint refuses " + name + " and its tokens are inactive until it is enabled. Nothing is revoked: enabling it brings them back.",
			button:  "Disable " + name, fields: fields}, nil
	case actionDeleteClient:
		return confirmation{heading: "Delete " + name + "?",
			message: name + " is deleted for good and every token issued to it revoked. This cannot be undone.",
			button:  "Delete " + name, fields: fields, typed: "Type " + c.ID + " to confirm"}, nil
	}
	return confirmation{}, brokenLink()
}
