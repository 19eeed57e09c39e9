package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/tokend/tokend/internal/httperr"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// view is what a page's template shows. Each page uses some of it.
type view struct {
	Title  string // the document's title
	Assets assets
	// The form: where it posts, its CSRF token and the hidden fields it
	// carries.
	Action string
	CSRF   string
	Hidden []hidden
	// Client is the name of the application the user is signing in to.
	Client   string
	Username string
	// LoginHint prefills the username of the sign-in page.
	LoginHint string
	// Alert is a message shown above the sign-in form.
	Alert string
	// Scopes are the consent page's scopes, in plain words.
	Scopes []string
	// Heading and Message are the error page's, and the signed-out page's.
	Heading string
	Message string
	// Wide: the page needs a wider card (the account page's lists).
	Wide bool
	// Account is the account page's content.
	Account *accountView
	// Confirm is the confirmation page's button; Back, where its cancel
	// link goes.
	Confirm string
	Back    string
	// TypeLabel is the label of the confirmation page's field where the
	// name of what is deleted is typed; "" for none.
	TypeLabel string
	// Console is the admin console's content.
	Console *consoleView
	// UserCode is the device verification page's user code, as typed or
	// as shown (XXXX-XXXX).
	UserCode string
}

// The pages, each a template of its own on the base layout.
var (
	signInPage    = parsePage("signin.html")
	consentPage   = parsePage("consent.html")
	errorPage     = parsePage("error.html")
	logoutPage    = parsePage("logout.html")
	signedOutPage = parsePage("signedout.html")
	accountPage   = parsePage("account.html")
	confirmPage   = parsePage("confirm.html")

	deviceCodePage    = parsePage("devicecode.html")
	deviceConsentPage = parsePage("deviceconsent.html")
	deviceDonePage    = parsePage("devicedone.html")

	consoleSearchPage = parsePage("console.html")
	consoleUserPage   = parsePage("consoleuser.html")
	consoleClientPage = parsePage("consoleclient.html")
	consoleSecretPage = parsePage("consolesecret.html")
	consoleRevokePage = parsePage("consolerevoke.html")
	consoleLogPage    = parsePage("consolelog.html")
)

func parsePage(name string) *template.Template {
	return template.Must(template.New(name).ParseFS(templateFiles, "templates/base.html", "templates/"+name))
}

// render writes the page t of v with status. The page is rendered whole
// before anything is written, so a failure is an error answer rather than
// half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, v view) {
	v.Assets = siteAssets
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", v); err != nil {
		p.log.LogAttrs(r.Context(), slog.LevelError, "render page", slog.String("page", t.Name()), slog.String("cause", err.Error()))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Something went wrong on our side.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// showError shows e on the error page.
func (p *Pages) showError(w http.ResponseWriter, r *http.Request, e *pageError) {
	httperr.SetHeaders(w.Header(), nil, e.retryAfter)
	p.render(w, r, errorPage, e.status, view{Title: e.heading, Heading: e.heading, Message: e.message})
}

// formView is the view of a page with a form posting to action, with the
// browser's CSRF token, whose cookie is set when it has none.
func formView(w http.ResponseWriter, r *http.Request, action string, fields []hidden) (view, error) {
	token, err := csrfToken(w, r)
	if err != nil {
		return view{}, err
	}
	return view{Action: action, CSRF: token, Hidden: fields}, nil
}

// scopeWords are the scopes a consent page shows in plain words; any other
// is shown as it is.
var scopeWords = map[string]string{
	"openid":         "Confirm that it is you",
	"profile":        "Your name and username",
	"email":          "Your email address",
	"offline_access": "Stay connected when you are not signed in",
}

// describeScope returns the scope's values in plain words, in order.
func describeScope(scope string) []string {
	var out []string
	for _, v := range strings.Fields(scope) {
		if w, ok := scopeWords[v]; ok {
			out = append(out, w)
		} else {
			out = append(out, v)
		}
	}
	return out
}

// clientName is how a page names the client: its name, or its ID when it
// has none.
func clientName(name, id string) string {
	if strings.TrimSpace(name) != "" {
		return name
	}
	return id
}

// assets are the paths the pages link their style sheet, icon and the
// live log's script at.
type assets struct{ CSS, Icon, LiveLog string }

// asset is a file served under pathAssets.
type asset struct {
	body        []byte
	contentType string
}

// servedAssets are the assets by the name they are served at: the file's
// name with the first 12 hex digits of its SHA-256 before the extension,
// so that a changed file has a new URL and each can be cached for a year.
var servedAssets, siteAssets = loadAssets()

func loadAssets() (map[string]asset, assets) {
	served := map[string]asset{}
	paths := map[string]string{}
	for name, contentType := range map[string]string{"tokend.css": "text/css; charset=utf-8", "tokend.svg": "image/svg+xml",
		"livelog.js": "text/javascript; charset=utf-8"} {
		b, err := assetFiles.ReadFile("assets/" + name)
		if err != nil {
			panic("web: embedded asset " + name + ": " + err.Error())
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		served[hashed] = asset{body: b, contentType: contentType}
		paths[name] = pathAssets + hashed
	}
	return served, assets{CSS: paths["tokend.css"], Icon: paths["tokend.svg"], LiveLog: paths["livelog.js"]}
}

// serveAsset serves an asset with a year's cache: its URL changes with it.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := servedAssets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}
