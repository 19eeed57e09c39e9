package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// The device of the device flow test, and its verification page's path,
// as package web serves it.
const (
	deviceName = "Living-room TV"
	devicePath = "/device"
)

// countingTransport counts the device's requests to the token endpoint:
// its polls.
type countingTransport struct {
	base  http.RoundTripper
	polls atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/token") {
		c.polls.Add(1)
	}
	return c.base.RoundTrip(r)
}

// TestDeviceInABrowser drives the device authorization grant (RFC 8628)
// end to end against the real binary: a device, a public client that the
// CLI registered, starts it with golang.org/x/oauth2 and polls the token
// endpoint while headless Chromium opens verification_uri_complete, signs
// in, finds the code filled in, continues to the consent page of the
// device's app, and allows it; the device then gets its tokens, which
// UserInfo accepts as the person's. axe-core checks each device page.
func TestDeviceInABrowser(t *testing.T) {
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
	var c struct {
		ID string `json:"client_id"`
	}
	out := in.tokend("", "client", "create", "--json", "--name", deviceName, "--auth-method", "none",
		"--grant", "urn:ietf:params:oauth:grant-type:device_code", "--grant", "refresh_token")
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ID == "" {
		t.Fatalf("client create printed %q: %v", out, err)
	}
	transport := &countingTransport{base: trustingClient(t, in).Transport}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: transport, Timeout: stepWait})
	conf := oauth2.Config{ClientID: c.ID, Scopes: []string{"openid", "profile"}, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: in.base + "/oauth2/device_authorize", TokenURL: in.base + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInParams}}
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.VerificationURI != in.base+devicePath || !strings.HasPrefix(da.VerificationURIComplete, da.VerificationURI+"?") {
		t.Errorf("verification_uri %q, verification_uri_complete %q", da.VerificationURI, da.VerificationURIComplete)
	}
	tokens := make(chan *oauth2.Token, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Errorf("the device's polling ended with %v", err)
		}
		tokens <- tok
	}()
	b := newBrowser(t, chrome, screenshotDir(t))
	t.Logf("tokend, the device's request and Chromium ready in %s; the device shows %s", time.Since(began).Round(time.Millisecond), da.UserCode)

	b.verifyDevice(da)
	tok := receive(t, tokens, "the device's tokens")
	if tok == nil {
		t.FailNow()
	}
	t.Logf("the device got its tokens after %d polls", transport.polls.Load())
	b.deviceTokenWorks(in, tok)
	t.Logf("the whole device flow took %s", time.Since(began).Round(time.Millisecond))
}

// verifyDevice is the person's side: the link, the sign-in, the code,
// the consent, the confirmation.
func (b *browser) verifyDevice(da *oauth2.DeviceAuthResponse) {
	b.t.Helper()
	b.laptop()
	b.open("open verification_uri_complete", da.VerificationURIComplete)
	b.expectPage("Sign in")
	b.signIn()
	b.expectPage("Connect a device")
	code := step(b, "read the code field", chromedp.Evaluate[string](`document.getElementById("user_code").value`))
	if code != da.UserCode {
		b.t.Errorf("the code field holds %q; the device shows %q", code, da.UserCode)
	}
	b.expectAccessible("the device code page")
	b.pictures("device")
	b.load("press Continue", chromedp.Click(chromedp.CSS(`button[name="action"][value="continue"]`)))
	b.expectPage("Allow " + deviceName)
	if lead := b.text(".lead"); !strings.Contains(lead, da.UserCode) || !strings.Contains(lead, rpUser) {
		b.t.Errorf("the device consent page's lead says %q; want the code and the person", lead)
	}
	b.expectScopesInWords([]string{"openid", "profile"})
	b.expectAccessible("the device consent page")
	b.pictures("device-consent")
	b.load("press Allow", chromedp.Click(chromedp.CSS(`button[name="action"][value="allow"]`)))
	b.expectPage("You can go back to your device")
	b.expectAccessible("the device confirmation page")
	b.pictures("device-done")
}

// deviceTokenWorks checks the device's tokens: an ID Token, and an access
// token that UserInfo answers as the person's.
func (b *browser) deviceTokenWorks(in *instance, tok *oauth2.Token) {
	b.t.Helper()
	if id, _ := tok.Extra("id_token").(string); id == "" {
		b.t.Error("the device got no ID Token for openid")
	}
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, in.base+"/oauth2/userinfo", nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := trustingClient(b.t, in).Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var claims struct {
		Username string `json:"preferred_username"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil || resp.StatusCode != http.StatusOK || claims.Username != rpUser {
		b.t.Errorf("userinfo with the device's token: %d, preferred_username %q (%v); want %q", resp.StatusCode, claims.Username, err, rpUser)
	}
}
