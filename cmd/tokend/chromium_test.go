package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is headless Chromium with one tab, driven by chromedp, doing
// what a person does, a step at a time, each step with a deadline. It
// writes screenshots to shots when that is set.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	// noScripts: the tab runs no script of a page's (disableScripts).
	noScripts bool
}

func newBrowser(t *testing.T, chrome, shots string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		// CI runs as root, where Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		// tokend's certificate is the self-signed one serve made on
		// first start, which no browser trusts.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(laptopWidth, laptopHeight),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as the
	// context of that run: it gets no deadline, the steps get theirs.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", chrome, err)
	}
	return &browser{t: t, ctx: ctx, shots: shots}
}

// step runs one action with the step's deadline and returns its value; what
// names the step in the failure.
func step[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v\nthe browser is at %s, showing:\n%s", what, err, b.peek(chromedp.Location()), b.peek(chromedp.Text("body")))
	}
	return v
}

// peek reads something for a failure's message, briefly, and never fails.
func (b *browser) peek(a chromedp.Action[string]) string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return v
}

// heading is the page's h1, for a failure's message.
func (b *browser) heading() string { return b.peek(chromedp.Text("h1")) }

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step(b, what, chromedp.Steps(actions...))
}

// load runs actions that load a page (a navigation, a click on a form's
// button) and waits until it has loaded, following redirects; an error
// status fails the test.
func (b *browser) load(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepWait)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v\nthe browser is at %s", what, err, b.peek(chromedp.Location()))
	}
	if resp.Status >= 400 {
		b.t.Fatalf("%s: %d at %s, showing:\n%s", what, resp.Status, resp.URL, b.peek(chromedp.Text("body")))
	}
}

func (b *browser) open(what, url string) {
	b.t.Helper()
	b.load(what, chromedp.Navigate(url))
}

func (b *browser) location() string {
	b.t.Helper()
	return step(b, "read the location", chromedp.Location())
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return step(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// expectPage fails unless the page's heading holds heading and its style
// sheet was applied: a Content-Security-Policy that blocked it would
// leave a page nobody should trust with a password.
func (b *browser) expectPage(heading string) {
	b.t.Helper()
	if h := b.text("h1"); !strings.Contains(h, heading) {
		b.t.Fatalf("the page's heading is %q; want %q, at %s", h, heading, b.location())
	}
	const styled = `[...document.styleSheets].some(s => s.cssRules.length > 0)`
	if !step(b, "look for the style sheet", chromedp.Evaluate[bool](styled)) {
		b.t.Errorf("the page %q has no style sheet applied", heading)
	}
}

// shot writes a PNG of the whole page, at the viewport's width, as name.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png := step(b, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d KB)", path, len(png)/1024)
}

func (b *browser) laptop() {
	b.t.Helper()
	b.do("a laptop's viewport", chromedp.EmulateViewport(laptopWidth, laptopHeight))
}

// phone shows the page as a phone width CSS pixels wide would, at scale
// device pixels to the CSS pixel, checks that it fits the screen's width,
// and takes its picture as name.
func (b *browser) phone(name string, width int64, scale float64) {
	b.t.Helper()
	b.do("a phone's viewport", chromedp.EmulateViewport(width, phoneHeight,
		chromedp.EmulateScale(scale), chromedp.EmulateMobile, chromedp.EmulateTouch))
	const fits = `document.documentElement.scrollWidth <= window.innerWidth`
	if !step(b, "measure the page", chromedp.Evaluate[bool](fits)) {
		b.t.Errorf("on a phone %d pixels wide the page %q scrolls sideways", width, b.text("h1"))
	}
	b.shot(name)
	b.laptop()
}

// signInWithPassword opens the login URL of the app with no session,
// signs in on the sign-in page and allows on the consent page. The
// browser ends at the relying party's callback.
func (b *browser) signInWithPassword(authURL, app string, scopes []string) {
	b.t.Helper()
	b.laptop()
	b.open("open the relying party's login URL", authURL)
	b.expectPage("Sign in")
	if lead := b.text(".lead"); !strings.Contains(lead, app) {
		b.t.Errorf("the sign-in page does not say which application is asking: %q", lead)
	}
	b.expectAccessible("the sign-in page")
	b.pictures("signin")
	b.signIn()
	b.allow(app, scopes, "consent")
}

// signIn types the person's username and password on the sign-in page
// and presses Sign in.
func (b *browser) signIn() {
	b.t.Helper()
	b.do("type the username and the password",
		chromedp.SendKeys(chromedp.ID("username"), rpUser),
		chromedp.SendKeys(chromedp.ID("password"), rpPassword))
	b.load("press Sign in", chromedp.Click(chromedp.CSS(`button[name="action"][value="sign_in"]`)))
}

// allow answers the consent page of the app, which asks for scopes: Allow,
// with "Remember this decision" ticked; shot names its picture, none when
// empty.
func (b *browser) allow(app string, scopes []string, shot string) {
	b.t.Helper()
	b.expectPage("Allow " + app)
	b.expectScopesInWords(scopes)
	b.do("tick Remember this decision", chromedp.Click(chromedp.ID("remember")))
	b.expectAccessible("the consent page")
	if shot != "" {
		b.pictures(shot)
	}
	b.load("press Allow", chromedp.Click(chromedp.CSS(`button[name="action"][value="allow"]`)))
}

// expectScopesInWords checks that the consent page lists what the
// application asks for, the scopes raw, one line each, and in words rather
// than as the protocol's scope values.
func (b *browser) expectScopesInWords(raw []string) {
	b.t.Helper()
	var lines []string
	for _, l := range strings.Split(b.text("ul.scopes"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(raw) || slices.ContainsFunc(lines, func(l string) bool { return slices.Contains(raw, l) }) {
		b.t.Errorf("the consent page lists %q for the scopes %q; want each in words", lines, raw)
	}
	b.t.Logf("the consent page asks for: %s", strings.Join(lines, "; "))
}

// signOut opens the relying party's logout URL and confirms on the page.
func (b *browser) signOut(logoutURL string) {
	b.t.Helper()
	b.open("open the relying party's logout URL", logoutURL)
	b.expectPage("Sign out")
	if lead := b.text(".lead"); !strings.Contains(lead, rpUser) {
		b.t.Errorf("the sign-out page does not say who is signed in: %q", lead)
	}
	b.expectAccessible("the sign-out page")
	b.pictures("signout")
	b.load("press Sign out", chromedp.Click(chromedp.CSS(`button[name="action"][value="sign_out"]`)))
}

// signedOutPage opens the end-session endpoint once signed out: with the
// session's cookie gone there is nothing to confirm, and the page says
// so.
func (b *browser) signedOutPage(endSession string) {
	b.t.Helper()
	b.open("open the end-session endpoint signed out", endSession)
	b.expectPage("signed out")
	b.expectAccessible("the signed-out page")
	b.pictures("signed-out")
}

// errorPage opens the authorization endpoint for a client that does not
// exist: tokend cannot send the browser back to any app, and says so on
// its error page, with status 400.
func (b *browser) errorPage(authorize string) {
	b.t.Helper()
	b.do("open the authorization endpoint for no client", chromedp.Navigate(authorize+"?response_type=code&client_id=nobody"))
	b.expectPage("")
	if h := b.heading(); h == "" {
		b.t.Fatal("the error page has no heading")
	}
	b.expectAccessible("the error page")
	b.pictures("error")
}
