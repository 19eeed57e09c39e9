package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin of the console test.
const (
	adminUser     = "root"
	adminPassword = "a long admin passphrase"
)

// TestConsoleInABrowser drives headless Chromium through the admin console
// against the real binary. A person signs in to two apps; an admin, created
// with --admin, signs in at /console, finds the person, opens their page,
// bulk-revokes one app's grants of theirs after the page has said how many
// it will revoke, then presses "Revoke everything" and confirms; the log
// page, open in another tab with its script running, shows each revocation
// as it happens without being reloaded, and introspection finds every
// token of the person inactive. A person who is not an admin gets the 403
// page. axe-core checks every page of the console on the way.
func TestConsoleInABrowser(t *testing.T) {
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
	in.tokend(adminPassword+"\n", "user", "add", "--password-stdin", "--admin", "--name", "The Administrator", adminUser)
	photos := newRPFlow(t, in, newRelyingParty(t, rpName), false)
	recipes := newRPFlow(t, in, newRelyingParty(t, rp2Name), true)
	person := newBrowser(t, chrome, "")
	photo := person.signInTo(photos, true)
	recipe := person.signInTo(recipes, false)
	t.Logf("tokend, two apps, Chromium and the person's tokens ready in %s", time.Since(began).Round(time.Millisecond))

	// Signed in (to the apps), but no admin: the 403 page.
	person.do("the person opens the console", chromedp.Navigate(in.base+consolePath))
	person.expectPage("This page is for administrators")
	person.expectAccessible("the console's 403 page")

	b := newBrowser(t, chrome, screenshotDir(t))
	b.open("open the console", in.base+consolePath)
	b.expectPage("Sign in")
	b.signInAs(adminUser, adminPassword, "the admin console")
	b.expectPage("Admin console")
	b.expectAccessible("the console's home")
	b.pictures("console")

	logTab := b.newTab()
	logTab.openLiveLog(in)

	b.do("search for the person", chromedp.SendKeys(chromedp.ID("q"), "ali"))
	b.load("press Search", chromedp.Click(chromedp.CSS(`form.search button`)))
	b.expectAccessible("the console's search results")
	b.load("open the person's page", chromedp.Click(chromedp.Search(`//a[normalize-space()="`+rpUser+`"]`)))
	b.expectPage(rpUser)
	b.expectAccessible("the console's user page")
	b.pictures("console-user")
	b.open("open the app's page", in.base+consolePath+"/clients/"+url.PathEscape(photos.conf.ClientID))
	b.expectPage(rpName)
	if live := b.text(".facts dd"); !strings.HasPrefix(live, "1 grant") {
		t.Errorf("the app's page says it has %q live; want the person's 1 grant", live)
	}
	b.expectAccessible("the console's client page")
	b.pictures("console-client")

	b.bulkRevoke(in, recipes.conf.ClientID)
	logTab.expectLiveRow(rpUser, rp2Name, "admin")
	for _, tok := range recipe.tokens() {
		if recipes.active(tok) {
			t.Errorf("a token of %s is still active after the bulk revocation: %.12s…", rp2Name, tok)
		}
	}
	for _, tok := range photo.tokens() {
		if !photos.active(tok) {
			t.Errorf("a token of %s, which the bulk revocation did not cover, is inactive: %.12s…", rpName, tok)
		}
	}
	t.Log("bulk revocation of one app's grants: counted first, then revoked; the live log shows it")

	// A change that revokes nothing is in the log too, as a row of no app
	// and no grant: a user who holds none disabled, from the CLI.
	in.tokend("a passphrase for bob\n", "user", "add", "--password-stdin", "bob")
	in.tokend("", "user", "disable", "bob")
	logTab.expectLiveRow("bob", "", "user_disabled")
	if g := logTab.text("#log-rows tr.new td:nth-child(6)"); g != "0" {
		t.Errorf("the live log counts %q grants for a disable that revoked none; want 0", g)
	}

	b.revokeEverything(in, logTab, photos, photo)
	logTab.poll("the chart to count both revocations", `document.getElementById("chart").textContent === "The last hour: 2 revocations"`)
	logTab.poll("the live counts to say no token is left", `document.getElementById("live-tokens").textContent === "0"`)
	logTab.expectAccessible("the live log, with rows its script added")
	logTab.pictures("console-log")
	t.Log("Revoke everything: the tokens are inactive, and the log tab showed it without a reload")

	b.cancelDelete(in)
	b.rotateSecret(in, photos.conf.ClientID)
	b.newTab().logWithoutScripts(in)
	t.Logf("the whole test took %s", time.Since(began).Round(time.Millisecond))
}

// revokeEverything presses Revoke everything on the person's page and
// confirms; the log tab shows it, and the person's tokens, those of l at f
// among them, are inactive.
func (b *browser) revokeEverything(in *instance, logTab *browser, f *rpFlow, l login) {
	b.t.Helper()
	b.open("open the person's page", in.base+consolePath+"/users/"+rpUser)
	b.load("press Revoke everything", chromedp.Click(chromedp.Search(`//form[input[@value="revoke_all"]]/button`)))
	b.expectPage("Revoke every token of " + rpUser + "?")
	b.expectAccessible("the console's confirmation page")
	b.load("confirm Revoke everything", chromedp.Click(chromedp.CSS(`button.danger`)))
	b.expectPage(rpUser)
	logTab.expectLiveRow(rpUser, f.rp.name, "")
	for _, tok := range l.tokens() {
		if f.active(tok) {
			b.t.Errorf("a token of the person is still active at introspection after Revoke everything: %.12s…", tok)
		}
	}
}

// cancelDelete opens the confirmation of the person's deletion, where the
// username must be typed, and cancels it.
func (b *browser) cancelDelete(in *instance) {
	b.t.Helper()
	b.open("open the person's page", in.base+consolePath+"/users/"+rpUser)
	b.load("press Delete", chromedp.Click(chromedp.Search(`//form[input[@value="delete"]]/button`)))
	b.expectPage("Delete " + rpUser + "?")
	b.expectAccessible("the console's deletion confirmation, with its typed name")
	b.load("press Cancel", chromedp.Click(chromedp.CSS(`a.button`)))
	b.expectPage(rpUser)
}

// logWithoutScripts opens the log in a tab that runs no script: the page
// is the same, with the revocations so far, and says a reload shows newer
// ones.
func (b *browser) logWithoutScripts(in *instance) {
	b.t.Helper()
	b.disableScripts()
	b.open("open the log with scripts off", in.base+consolePath+"/log")
	b.expectPage("Revocation log")
	if n := b.exists("#log-rows tr"); n < 2 {
		b.t.Errorf("with scripts off the log shows %d rows; want the bulk revocation's and Revoke everything's", n)
	}
	if s := b.text("#live-state"); !strings.Contains(s, "Reload the page") {
		b.t.Errorf("with scripts off the log page says %q; want that a reload shows newer revocations", s)
	}
}

// rotateSecret rotates the secret of the client id through its
// confirmation page, and reads the page that shows the new one.
func (b *browser) rotateSecret(in *instance, id string) {
	b.t.Helper()
	b.open("open the app's page", in.base+consolePath+"/clients/"+url.PathEscape(id))
	b.load("press Rotate the secret", chromedp.Click(chromedp.Search(`//form[input[@value="rotate_secret"]]/button`)))
	b.expectAccessible("the console's rotation confirmation")
	b.load("confirm the rotation", chromedp.Click(chromedp.CSS(`button.danger`)))
	b.expectPage("The new secret of")
	if secret := step(b, "read the new secret", chromedp.Value(chromedp.ID("secret"))); len(secret) < 20 {
		b.t.Errorf("the new secret shown is %q", secret)
	}
	b.expectAccessible("the console's new secret")
}

// consolePath is the console's, as package web serves it.
const consolePath = "/console"

// signInAs signs in on a sign-in page of the site's own (the account's or
// the console's), which says what it is for.
func (b *browser) signInAs(user, password, what string) {
	b.t.Helper()
	b.expectPage("Sign in")
	if lead := b.text(".lead"); !strings.Contains(lead, what) {
		b.t.Errorf("the sign-in page does not say it is for %s: %q", what, lead)
	}
	b.do("type the username and the password",
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password))
	b.load("press Sign in", chromedp.Click(chromedp.CSS(`button[name="action"][value="sign_in"]`)))
}

// pictures takes the page's pictures: name on a laptop, name-phone on the
// narrowest phones in common use, where phone also checks that it fits.
func (b *browser) pictures(name string) {
	b.t.Helper()
	b.shot(name)
	b.phone(name+"-phone", phoneWidth, 1)
}

// newTab is a second tab of the same browser: the same cookies.
func (b *browser) newTab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a new tab: %v", err)
	}
	nb := &browser{t: b.t, ctx: ctx, shots: b.shots}
	nb.laptop()
	return nb
}

// openLiveLog opens the console's log page and waits until its script has
// connected to the live log; it marks the page, so that a reload, which
// would lose the mark, can be told.
func (b *browser) openLiveLog(in *instance) {
	b.t.Helper()
	b.open("open the log", in.base+consolePath+"/log")
	b.expectPage("Revocation log")
	b.expectAccessible("the console's log")
	b.poll("the live log to connect", `document.getElementById("live-state").textContent.startsWith("Live")`)
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.tokendNotReloaded = true`))
	// As if the page had been open for two minutes: its chart starts two
	// minutes early, so the revocations to come fall past its last bar and
	// the script must slide the chart on to count them.
	b.do("age the chart by two minutes", chromedp.Evaluate[chromedp.Void](
		`(c => { c.dataset.start = String(Number(c.dataset.start) - 120); })(document.getElementById("chart-bars"))`))
}

// poll waits until the expression is true in the page.
func (b *browser) poll(what, expr string) {
	b.t.Helper()
	b.do("wait for "+what, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(stepWait))(ctx, t)
		return chromedp.Void{}, err
	})
}

// expectLiveRow waits until the log's top row is a revocation of user's
// grant of app, with reason unless it is empty, added by the page's
// script, and the live region has said so.
func (b *browser) expectLiveRow(user, app, reason string) {
	b.t.Helper()
	cond := `(() => { const r = document.querySelector("#log-rows tr.new"); if (!r) return false;
		const c = [...r.cells].map(c => c.textContent);
		return c[4] === ` + jsString(user) + ` && c[3] === ` + jsString(app) + ` && (` + jsString(reason) + ` === "" || c[1] === ` + jsString(reason) + `); })()`
	b.poll("the revocation of "+user+"'s "+app+" in the live log", cond)
	b.poll("the live region to announce it", `document.getElementById("live-announce").textContent.includes("new revocation")`)
	b.expectNotReloaded()
	b.do("clear the live region", chromedp.Evaluate[chromedp.Void](`document.getElementById("live-announce").textContent = ""`))
	b.t.Logf("the live log shows: %s", strings.Join(strings.Fields(b.text("#log-rows tr.new")), " "))
}

// expectNotReloaded fails the test if the page was loaded again since
// openLiveLog marked it.
func (b *browser) expectNotReloaded() {
	b.t.Helper()
	if !step(b, "look for the mark", chromedp.Evaluate[bool](`window.tokendNotReloaded === true`)) {
		b.t.Fatal("the log page was reloaded: its rows came with the page, not from the live log")
	}
}

// jsString is s as a JavaScript string literal (s holds no quote or
// backslash: the test's own names).
func jsString(s string) string { return `"` + s + `"` }

// bulkRevoke counts, then revokes, the person's grants of the client id on
// the bulk revocation page.
func (b *browser) bulkRevoke(in *instance, clientID string) {
	b.t.Helper()
	b.open("open bulk revocation", in.base+consolePath+"/revoke")
	b.expectPage("Bulk revocation")
	b.expectAccessible("the console's bulk revocation")
	b.do("type the username and the client ID",
		chromedp.SendKeys(chromedp.ID("username"), rpUser),
		chromedp.SendKeys(chromedp.ID("client_id"), clientID))
	b.load("press Count", chromedp.Click(chromedp.CSS(`button[value="count"]`)))
	if h := b.text("h2#count"); !strings.HasPrefix(h, "This will revoke 1 grant (") {
		b.t.Fatalf("the count says %q; want 1 grant", h)
	}
	b.expectAccessible("the console's bulk revocation count")
	b.pictures("console-bulk")
	b.load("press Revoke", chromedp.Click(chromedp.CSS(`button[value="revoke"]`)))
	if msg := b.flash(); !strings.Contains(msg, "were revoked") {
		b.t.Errorf("after the bulk revocation the page says %q", msg)
	}
}
