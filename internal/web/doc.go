// Package web is browser sign-in: the authorization endpoint (RFC 6749
// §4.1, with PKCE S256 required of every client, RFC 9207's iss, and
// OpenID Connect's nonce, prompt, max_age and login_hint), its sign-in and
// consent pages, browser sessions, and sign-out (OpenID Connect
// RP-Initiated Logout 1.0), and the account page, where a signed-in person
// sees the apps and sessions that hold access to their account and cuts
// it, changes their password and reads their history of revocations. It
// issues the authorization codes that the token endpoint's
// authorization_code grant (package oauth) exchanges.
//
// # Paths
//
//	GET, POST /oauth2/authorize   the authorization endpoint and its pages
//	GET, POST /oidc/logout        sign-out
//	GET, POST /account            the account page (PathAccount)
//	GET, POST /account/sign-in    its sign-in, which comes back to it
//	GET /account/confirm          the confirmation of a destructive action
//	GET, POST /console            the admin console's search (PathConsole)
//	GET, POST /console/sign-in    its sign-in, which comes back to it
//	GET /console/confirm          the confirmation of a console's action
//	GET, POST /console/users/{username}  a user's page and its actions
//	GET, POST /console/clients/{client_id}  a client's page and its actions
//	GET, POST /console/revoke     bulk revocation
//	GET /console/log              the revocation log
//	GET /console/log/stream       its live stream (PathConsoleLogStream)
//	GET /assets/{name}            the style sheet and the icon
//
// The first two are package oauth's PathAuthorize and PathEndSession, which
// its metadata advertises; the program hands them to New (Config).
//
// # Forms
//
// No instance keeps a pending request: each page's form posts back to its
// own path with the request's parameters as hidden fields, and every post
// is checked from scratch. Every form carries:
//
//	csrf_token  the value of the __Host-tokend-csrf cookie, set with the page
//	action      which button was pressed
//
// The sign-in and consent pages post to /oauth2/authorize with the
// authorization parameters (response_type, client_id, redirect_uri, scope,
// state, response_mode, code_challenge, code_challenge_method, nonce,
// prompt, max_age, login_hint, dpop_jkt, those that were sent; after a sign-in, the
// consent page forwards prompt without login, and no max_age, which the
// sign-in satisfied) and:
//
//	sign-in:  username, password; action=sign_in
//	consent:  remember=yes when "Remember this decision" is ticked;
//	          action=allow or action=deny
//
// The sign-out confirmation posts to /oidc/logout with id_token_hint,
// client_id, post_logout_redirect_uri and state, those that were sent, and
// action=sign_out.
//
// The account page's forms post to /account with action=remove_app and
// client_id, action=end_session and sid, action=end_others, or
// action=change_password with current_password, new_password and
// new_password_again; the first three come from /account/confirm, which
// the page's buttons open (GET, changing nothing). Each answers 303 to
// /account?m=<code>, a code the page maps to one of its fixed messages.
// Every action is for the signed-in person only and goes through the
// revocation engine: RemoveAccess, EndSession (a sid of another person is
// 403), ChangeOwnPassword.
//
// The admin console is for a user with the admin flag, signed in with the
// same session as the other pages; anyone else signed in is answered 403
// and shown nothing. A user's page posts to itself with action=end_session
// and sid, action=forget_consent and client_id, action=disable,
// action=enable, action=delete and confirm (the username, typed),
// action=reset_password with new_password and new_password_again, or
// action=revoke_all; all but enable and reset_password come from
// /console/confirm. A client's page posts to itself with
// action=rotate_secret, whose answer (200, not a redirect) shows the new
// secret once, action=disable_client, action=enable_client (neither
// revokes: as the CLI's, they refuse the client and its tokens, or stop
// refusing them), or action=delete_client and confirm (the client ID).
// Bulk revocation posts username and client_id (either or both) with
// action=count, which answers a page saying how many grants and tokens
// they select now (store.CountMatching) and revokes nothing; its button
// posts the same filter with action=revoke, which revokes them
// (Engine.RevokeBulk, reason admin) and answers 303 to /console/revoke.
// The log page reads reason, client_id and username from its query (a GET
// form): the last 100 matching events, newest first (store.SearchEvents),
// and the revocations of each minute of the last hour as an SVG of
// rectangles that the style sheet colours (the CSP allows no inline
// style). With Config.Feed set, the page loads its script (livelog.js,
// from the assets), which follows /console/log/stream: Server-Sent Events
// ("revocation", with the row's text, and "stats", the live counts) of the
// events after the page's (since, or Last-Event-ID) that match its filter,
// read through the feed's hub, for an admin's session, checked again at
// each heartbeat. The script adds rows with text nodes only; without it
// the page is the same, as loaded. Each action goes through the revocation engine with the
// admin's username as actor (enabling, which revokes nothing, is logged
// with it) and answers 303 to the page with ?m=<code>, a fixed message.
// Its paths are not under /admin, the admin API's.
//
// # Answers
//
// A page is 200; the sign-in page after a wrong or missing username or
// password is 400, with one message whether or not the user exists; too
// many wrong passwords for the user or from the address is 429 with
// Retry-After; no free password check slot within two seconds is 503 with
// Retry-After. A missing or wrong CSRF token is 403 and does nothing. An
// unknown or disabled client, or a redirect URI it did not register, is the
// error page (400), never a redirect; any other error of an authorization
// request goes back to the client (303) with error, error_description,
// state and iss. A success is a 303 to the redirect URI with code, state
// and iss. Sign-out ends with a 303 to the registered
// post_logout_redirect_uri with state, or the signed-out page.
//
// # Sessions
//
// A sign-in starts a store.Session, whose ID is the sid of the ID Tokens
// issued in it. The session cookie, __Host-tokend-session, holds
// "<sid>.<secret>"; the store keeps the secret's SHA-256 only. A session
// lasts Config.SessionTTL from sign-in. Signing in again as the same user
// (prompt=login, max_age) moves the session's auth_time and ends nothing;
// signing in as another user ends the session the browser had.
//
// Every page is sent with a Content-Security-Policy that allows nothing but
// the page's own style sheet and images (no script at all), and may not be
// framed; the console's log page alone also allows its own script and its
// stream (script-src and connect-src 'self').
package web
