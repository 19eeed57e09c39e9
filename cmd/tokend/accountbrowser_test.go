package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The second app of the account test, the one the person removes.
const rp2Name = "Recipe Box"

// The account page's paths, as package web serves them.
const (
	accountPath       = "/account"
	accountSignInPath = "/account/sign-in"
)

// removedWords is how the account page's history says an app was removed
// by the person.
const removedWords = "You removed the app’s access"

// TestAccountInABrowser drives headless Chromium through the account page
// against the real binary: a person signs in to two apps, sees both on
// /account, removes one (its confirmation page included), after which
// only that app's tokens are inactive at introspection and the history
// says so; from a second browser, with cookies of its own, the person
// signs in, and the first browser signs that session out, which sends the
// second back to sign-in; and that browser, with scripts turned off, signs
// in to the removed app again and removes it again, as the pages need no
// script; last, the first browser changes the password, which ends the
// second's session and every grant of the person, its own session going
// on. axe-core checks every page on the way.
func TestAccountInABrowser(t *testing.T) {
	t.Parallel() // its own tokend, data folder, port, relying parties and Chromium
	chrome := chromiumPath(t)
	began := time.Now()
	var in *instance
	t.Cleanup(func() {
		if t.Failed() && in != nil {
			t.Logf("tokend's log:\n%s", in.out)
		}
	})
	in = startTokendAt(t, t.TempDir(), freeLocalhost(t))
	addPerson(in)
	photos := newRPFlow(t, in, newRelyingParty(t, rpName), false)
	// The removed app stays connected when the person is not signed in:
	// its refresh token outlives any session's end, so the removal is seen
	// to end a grant that signing out would leave.
	recipes := newRPFlow(t, in, newRelyingParty(t, rp2Name), true)
	b := newBrowser(t, chrome, screenshotDir(t))
	t.Logf("tokend, two relying parties and Chromium ready in %s", time.Since(began).Round(time.Millisecond))

	photo := b.signInTo(photos, true)
	recipe := b.signInTo(recipes, false)
	if recipe.tok.RefreshToken == "" {
		t.Fatalf("%s asked for offline_access and got no refresh token", rp2Name)
	}
	if b.exists("#"+noScriptID) != 0 {
		t.Error("the relying party's noscript paragraph is an element in a browser that runs scripts")
	}
	t.Log("signed in to both apps in one session, tokens exchanged")

	b.openAccount(in)
	if got, want := b.apps(), []string{rpName, rp2Name}; !slices.Equal(got, want) {
		t.Fatalf("the account page lists the apps %q; want %q", got, want)
	}
	b.expectAccessible("the account page")
	b.removeApp(rp2Name, "remove-access")
	b.expectRemoved(1, photos, photo, recipes, recipe)
	t.Log("removed one app on the account page: its tokens are inactive, the other's active, the history says so")

	b2 := b.newContext()
	b2.openAccount(in)
	t.Logf("a second browser, with cookies of its own, signed in on the account page")
	// The pictures are taken now, when every section has something in
	// it: an app, two sessions, a removal in the history.
	b.openAccount(in)
	b.expectAccessible("the account page, with two sessions and a history")
	b.pictures("account")
	b.signOutOtherSession()
	b2.open("open the account page, signed out from the other browser", in.base+accountPath)
	if loc := b2.location(); !strings.HasPrefix(loc, in.base+accountSignInPath) {
		t.Fatalf("after its session was signed out from the other browser, the account page is at %s, showing %q; want the sign-in page",
			loc, b2.heading())
	}
	t.Log("the first browser signed the second's session out: the second is sent to sign in")

	b2.disableScripts()
	again := b2.signInTo(recipes, true)
	if b2.exists("#"+noScriptID) != 1 {
		t.Fatal("the relying party's noscript paragraph is not an element: the browser still runs scripts")
	}
	b2.openAccount(in)
	b2.removeApp(rp2Name, "")
	b2.expectRemoved(2, photos, photo, recipes, again)
	t.Log("with scripts off, signed in to the app again and removed it again")

	b.changePassword(in, b2, photos, photo)
	t.Logf("a password change on the account page ended the other browser's session and every grant; the whole test took %s",
		time.Since(began).Round(time.Millisecond))
}

// changePassword changes the person's password on the account page: the
// session of other, another browser, ends (its account page sends it to
// sign in), this browser's goes on, and every token of the person, those
// of l at f among them, is inactive at introspection.
func (b *browser) changePassword(in *instance, other *browser, f *rpFlow, l login) {
	b.t.Helper()
	b.openAccount(in)
	b.do("type the current password and the new one twice",
		chromedp.SendKeys(chromedp.ID("current_password"), rpPassword),
		chromedp.SendKeys(chromedp.ID("new_password"), "a new and longer passphrase"),
		chromedp.SendKeys(chromedp.ID("new_password_again"), "a new and longer passphrase"))
	b.load("press Change password", chromedp.Click(chromedp.CSS(`button[value="change_password"]`)))
	b.expectPage("Your account")
	if msg := b.flash(); !strings.Contains(msg, "password was changed") {
		b.t.Errorf("after the password change the account page says %q", msg)
	}
	other.open("open the account page in the other browser", in.base+accountPath)
	if loc := other.location(); !strings.HasPrefix(loc, in.base+accountSignInPath) {
		b.t.Errorf("after the password change the other browser's account page is at %s, showing %q; want the sign-in page", loc, other.heading())
	}
	b.open("open the account page again", in.base+accountPath)
	b.expectPage("Your account")
	for _, tok := range l.tokens() {
		if f.active(tok) {
			b.t.Errorf("a token of %s is still active after the password change: %.12s…", f.rp.name, tok)
		}
	}
}

// signInTo signs in to the app of f and exchanges the code: with the
// password on the sign-in page when there is no session yet, and through
// the consent page, which the app asks for until allowed.
func (b *browser) signInTo(f *rpFlow, password bool) login {
	b.t.Helper()
	req := f.newRequest()
	b.laptop()
	b.open("open the login URL of "+f.rp.name, req.url)
	if password {
		b.expectPage("Sign in")
		b.signIn()
	}
	b.allow(f.rp.name, f.conf.Scopes, "")
	return f.exchange(req, f.callback(b, req))
}

// openAccount opens the account page, signing in on its sign-in page
// when the browser has no session.
func (b *browser) openAccount(in *instance) {
	b.t.Helper()
	b.open("open the account page", in.base+accountPath)
	if strings.HasPrefix(b.location(), in.base+accountSignInPath) {
		b.expectPage("Sign in")
		b.expectAccessible("the account's sign-in page")
		b.signIn()
	}
	b.expectPage("Your account")
}

// texts are the texts of the elements sel selects, none when there are
// none.
func (b *browser) texts(sel string) []string {
	b.t.Helper()
	nodes := step(b, "find "+sel, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, strings.TrimSpace(step(b, "read "+sel, chromedp.Text(chromedp.NodeIDs{n.NodeID}))))
	}
	return out
}

// exists is how many elements sel selects, without waiting for one.
func (b *browser) exists(sel string) int {
	b.t.Helper()
	return len(step(b, "find "+sel, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0))))
}

// apps are the names the account page lists under Connected apps.
func (b *browser) apps() []string {
	b.t.Helper()
	return b.texts(`section[aria-labelledby="apps"] .item-head strong`)
}

// flash is the message the account page shows after an action.
func (b *browser) flash() string {
	b.t.Helper()
	return strings.Join(b.texts(`.notice, .alert`), " | ")
}

// removeApp presses the app's Remove access on the account page, reads
// the confirmation page, and confirms; shot names its picture, none when
// empty. The browser ends back on the account page.
func (b *browser) removeApp(app, shot string) {
	b.t.Helper()
	button := `//section[@aria-labelledby="apps"]//li[.//strong[normalize-space()="` + app + `"]]//button`
	b.load("press Remove access for "+app, chromedp.Click(chromedp.Search(button)))
	b.expectPage("Remove access for " + app + "?")
	if lead := b.text(".lead"); !strings.Contains(lead, app) {
		b.t.Errorf("the confirmation page does not name the app: %q", lead)
	}
	b.expectAccessible("the account's confirmation page")
	if shot != "" {
		b.pictures(shot)
	}
	b.load("confirm Remove access", chromedp.Click(chromedp.CSS(`button.danger`)))
	b.expectPage("Your account")
	if msg := b.flash(); !strings.Contains(msg, "access was removed") {
		b.t.Errorf("after Remove access the account page says %q", msg)
	}
}

// expectRemoved checks the account page and introspection after the
// removal of the app of gone, the times-th: the app is no longer listed,
// the history shows each removal, the tokens of gone are inactive and
// those of kept still active.
func (b *browser) expectRemoved(times int, keptFlow *rpFlow, kept login, goneFlow *rpFlow, gone login) {
	b.t.Helper()
	app := goneFlow.rp.name
	if got, want := b.apps(), []string{keptFlow.rp.name}; !slices.Equal(got, want) {
		b.t.Errorf("after removing %s the account page lists the apps %q; want %q", app, got, want)
	}
	var removals int
	for _, h := range b.texts(`section[aria-labelledby="history"] li`) {
		if strings.Contains(h, app) && strings.Contains(h, removedWords) {
			removals++
		}
	}
	if removals != times {
		b.t.Errorf("the history shows %d removals of %s (%q); want %d", removals, app, removedWords, times)
	}
	for _, tok := range gone.tokens() {
		if goneFlow.active(tok) {
			b.t.Errorf("a token of the removed %s is still active at introspection: %.12s…", app, tok)
		}
	}
	for _, tok := range kept.tokens() {
		if !keptFlow.active(tok) {
			b.t.Errorf("a token of %s, which was not removed, is inactive at introspection: %.12s…", keptFlow.rp.name, tok)
		}
	}
	goneFlow.logoutToken(gone, "the removal of "+app)
}

// signOutOtherSession signs out, from the account page, the one session
// that is not this browser's, through its confirmation page.
func (b *browser) signOutOtherSession() {
	b.t.Helper()
	const sessions = `section[aria-labelledby="sessions"] li`
	if n := b.exists(sessions); n != 2 {
		b.t.Fatalf("the account page lists %d sessions; want this browser's and the other's", n)
	}
	const other = `//form[input[@name="do" and @value="end_session"]]/button`
	b.load("press Sign out for the other session", chromedp.Click(chromedp.Search(other)))
	b.expectPage("Sign out")
	b.expectAccessible("the account's sign-out confirmation")
	b.load("confirm Sign out", chromedp.Click(chromedp.CSS(`button.danger`)))
	b.expectPage("Your account")
	if msg := b.flash(); !strings.Contains(msg, "session was signed out") {
		b.t.Errorf("after signing the other session out the account page says %q", msg)
	}
	if n := b.exists(sessions); n != 1 {
		b.t.Errorf("after signing the other session out the account page lists %d sessions; want 1", n)
	}
}

// newContext is a second browser in the same Chromium: a browser context
// of its own, as a private window is, with its own cookies.
func (b *browser) newContext() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a new browser context: %v", err)
	}
	nb := &browser{t: b.t, ctx: ctx}
	nb.laptop()
	return nb
}

// disableScripts turns scripts off in the browser's tab, as a person may
// in their browser's settings.
func (b *browser) disableScripts() {
	b.t.Helper()
	b.do("turn scripts off", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	})
	b.noScripts = true
}
