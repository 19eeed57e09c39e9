package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
)

// TestWithOAuth2ClientLibrary drives issuance with golang.org/x/oauth2, a
// real client library, so our idea of RFC 6749 is checked against someone
// else's; then revokes and introspects over HTTP.
func TestWithOAuth2ClientLibrary(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("library"))
	// A client authenticates with the method it is registered for.
	postID, postSecret := h.client(registry.Spec{Name: "library-post", AuthMethod: registry.AuthPost})
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, h.srv.Client())

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		id, secret, form, auth := id, secret, "", basic(id, secret)
		if style == oauth2.AuthStyleInParams {
			id, secret = postID, postSecret
			form, auth = "&client_id="+id+"&client_secret="+url.QueryEscape(secret), ""
		}
		cc := clientcredentials.Config{
			ClientID: id, ClientSecret: secret,
			TokenURL:  h.srv.URL + oauth.PathToken,
			Scopes:    []string{"read", "write"},
			AuthStyle: style,
		}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials with auth style %v: %v", style, err)
		}
		if tok.TokenType != "Bearer" || !tok.Valid() || time.Until(tok.Expiry) < 59*time.Minute {
			t.Errorf("token %+v", tok)
		}
		if !h.active(tok.AccessToken) {
			t.Fatal("issued token is not active")
		}
		r := h.post(oauth.PathRevoke, "token="+url.QueryEscape(tok.AccessToken)+form, auth)
		checkRevokedOK(t, r)
		if h.active(tok.AccessToken) {
			t.Error("token still active after revocation")
		}
	}

	// Password grant and an automatic refresh through the library's
	// TokenSource.
	h.user("kim", "correct horse battery")
	conf := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{
		TokenURL: h.srv.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader,
	}}
	tok, err := conf.PasswordCredentialsToken(ctx, "kim", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token from the password grant")
	}
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute) // make the library refresh
	fresh, err := conf.TokenSource(ctx, &stale).Token()
	if err != nil {
		t.Fatalf("refresh through the library: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Error("the library's refresh did not rotate the tokens")
	}
	checkRevokedOK(t, h.post(oauth.PathRevoke, "token="+url.QueryEscape(fresh.RefreshToken), basic(id, secret)))
	for _, s := range []string{tok.AccessToken, fresh.AccessToken, fresh.RefreshToken} {
		if h.active(s) {
			t.Error("a token of the revoked family is active")
		}
	}
	// The library now gets invalid_grant from a refresh.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
		t.Error("a revoked refresh token still refreshes")
	} else if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != oautherr.CodeInvalidGrant || re.Response.StatusCode != http.StatusBadRequest {
		t.Errorf("error %v; want invalid_grant 400", err)
	}
}
