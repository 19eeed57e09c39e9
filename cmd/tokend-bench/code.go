package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/oauth"
)

// codeRedirect is the code client's redirect URI: loopback http, which a
// client may register (RFC 8252 §7.3). Nothing listens there: the codes are
// read from the 303's Location, which is never followed.
const codeRedirect = "http://127.0.0.1/cb"

// The bounds of the code pool. The server's codes live 60 s from the
// authorization request (web's codeTTL), so the exchange phase must end
// within 60 s of the request of the first code of its pool: it stops
// codeLife after it, which leaves 10 s for the requests in flight at the
// end and a queue in front of them. Obtaining codes takes at most maxObtain, so that a phase of
// codeLife - maxObtain = 25 s at least is left.
const (
	codeLife  = 50 * time.Second
	maxObtain = 25 * time.Second
)

// codeScope is the scope every code is asked for: openid, so that each
// exchange mints an ID Token besides the access token, as the sign-in of an
// OpenID Connect client does, and that signature is part of the cost. No
// offline_access, so no refresh token (OpenID Connect Core §11): one token
// and one grant are written, as in an opaque issuance.
const codeScope = "openid"

// codeRequest is one authorization request and what its exchange needs.
type codeRequest struct {
	verifier string
	query    string // the authorization request's parameters, encoded
}

// newCodeRequest makes an authorization request of client c with a fresh
// PKCE verifier (S256, which tokend requires), a state and a nonce, as a
// client signing a person in sends.
func newCodeRequest(c client) (codeRequest, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return codeRequest{}, err
	}
	verifier := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {codeRedirect}, "scope": {codeScope},
		"state": {verifier[:8]}, "nonce": {verifier[8:16]},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return codeRequest{verifier: verifier, query: q.Encode()}, nil
}

// exchangeBody is the token request that exchanges code, obtained with z.
func (z codeRequest) exchangeBody(code string) string {
	return url.Values{
		"grant_type": {oauth.GrantAuthorizationCode}, "code": {code},
		"redirect_uri": {codeRedirect}, "code_verifier": {z.verifier},
	}.Encode()
}

// browser is the person's browser of the code phase: a cookie jar for the
// session and the CSRF cookies, and redirects not followed, since the
// client's redirect URI is not served.
type browser struct {
	c    *http.Client
	base string
}

func newBrowser(base string, workers int) (*browser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := loadClient(workers)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{c: c, base: base}, nil
}

// page is an answer of the authorization endpoint.
type page struct {
	status   int
	location string
	body     []byte
}

// do sends req and reads the answer into buf. A server that sheds load
// (503, 429) is asked again after a pause, as in postUntimed.
func (br *browser) do(ctx context.Context, newReq func() (*http.Request, error), buf *bytes.Buffer) (page, error) {
	for {
		req, err := newReq()
		if err != nil {
			return page{}, err
		}
		resp, err := br.c.Do(req)
		if err != nil {
			return page{}, err
		}
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return page{}, err
		}
		if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests {
			return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: buf.Bytes()}, nil
		}
		select {
		case <-ctx.Done():
			return page{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// get sends the authorization request z.
func (br *browser) get(ctx context.Context, z codeRequest, buf *bytes.Buffer) (page, error) {
	return br.do(ctx, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, br.base+oauth.PathAuthorize+"?"+z.query, nil)
	}, buf)
}

// submit posts a page's form back to the authorization endpoint.
func (br *browser) submit(ctx context.Context, form url.Values, buf *bytes.Buffer) (page, error) {
	body := form.Encode()
	return br.do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, br.base+oauth.PathAuthorize, strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return req, err
	}, buf)
}

// hiddenRe matches a hidden input of the pages (web's form-fields
// template): the CSRF token and the forwarded authorization parameters.
var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// formOf returns the hidden fields of the page p, which must be a 200 page
// holding a form with a button named action=button.
func formOf(p page, what, button string) (url.Values, error) {
	if p.status != http.StatusOK || !bytes.Contains(p.body, []byte(`name="action" value="`+button+`"`)) {
		return nil, fmt.Errorf("want the %s page, got %d (Location %q) %.300s", what, p.status, p.location, p.body)
	}
	form := url.Values{}
	for _, m := range hiddenRe.FindAllSubmatch(p.body, -1) {
		form.Set(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	if form.Get("csrf_token") == "" {
		return nil, fmt.Errorf("the %s page has no csrf_token field", what)
	}
	return form, nil
}

// codeOf returns the code of p, the answer to the authorization request z:
// a 303 to the redirect URI with the code and z's state.
func codeOf(p page, z codeRequest) (string, error) {
	u, err := url.Parse(p.location)
	if p.status != http.StatusSeeOther || err != nil {
		return "", fmt.Errorf("want a 303 with a code, got %d (Location %q) %.300s", p.status, p.location, p.body)
	}
	q, want := u.Query(), z.stateOf()
	u.RawQuery = ""
	if u.String() != codeRedirect || q.Get("code") == "" || q.Get("state") != want {
		return "", fmt.Errorf("want a 303 to %s with a code and state %s, got Location %q", codeRedirect, want, p.location)
	}
	return q.Get("code"), nil
}

func (z codeRequest) stateOf() string { return z.verifier[:8] }

// signIn signs user in through the pages and allows client c with
// "Remember this decision", so that every later authorization request of
// c with the session answers a code at once. It returns the code of the
// consent's own answer, with its request.
func (br *browser) signIn(ctx context.Context, c client, user, password string) (codeRequest, string, error) {
	var buf bytes.Buffer
	z, err := newCodeRequest(c)
	if err != nil {
		return z, "", err
	}
	p, err := br.get(ctx, z, &buf)
	if err != nil {
		return z, "", err
	}
	form, err := formOf(p, "sign-in", "sign_in")
	if err != nil {
		return z, "", err
	}
	form.Set("username", user)
	form.Set("password", password)
	form.Set("action", "sign_in")
	if p, err = br.submit(ctx, form, &buf); err != nil {
		return z, "", err
	}
	if form, err = formOf(p, "consent", "allow"); err != nil {
		return z, "", fmt.Errorf("after signing in: %w", err)
	}
	form.Set("remember", "yes")
	form.Set("action", "allow")
	if p, err = br.submit(ctx, form, &buf); err != nil {
		return z, "", err
	}
	code, err := codeOf(p, z)
	if err != nil {
		return z, "", fmt.Errorf("after allowing: %w", err)
	}
	return z, code, nil
}

// obtainCodes sends up to n authorization requests of c with the
// browser's session on workers connections, until stop, and returns the
// token request of each code obtained, ready to send. Any other failure is
// an error: a session that no longer answers codes would leave the phase
// nothing to measure.
func (br *browser) obtainCodes(ctx context.Context, c client, n, workers int, stop time.Time) ([]string, error) {
	until, cancel := context.WithDeadline(ctx, stop)
	defer cancel()
	bodies := make([]string, n)
	err := parallel(until, n, workers, func(i int, buf *bytes.Buffer) error {
		body, err := br.obtain(until, c, buf)
		bodies[i] = body
		return err
	})
	if err != nil && until.Err() != nil && ctx.Err() == nil {
		// The time for obtaining is up, and the requests it cut short
		// failed: the pool is what came before.
		err = nil
	}
	bodies = slices.DeleteFunc(bodies, func(b string) bool { return b == "" })
	if err == nil && len(bodies) == 0 {
		err = errNoCodes
	}
	return bodies, err
}

// obtain gets one code and returns the token request that exchanges it.
func (br *browser) obtain(ctx context.Context, c client, buf *bytes.Buffer) (string, error) {
	z, err := newCodeRequest(c)
	if err != nil {
		return "", err
	}
	p, err := br.get(ctx, z, buf)
	if err != nil {
		return "", err
	}
	code, err := codeOf(p, z)
	if err != nil {
		return "", fmt.Errorf("authorization request with the session: %w", err)
	}
	return z.exchangeBody(code), nil
}

// codePhaseDuration is how long the exchange phase may run when it starts
// at now, for codes obtained from first on: the run's duration, cut so that
// the phase ends codeLife after the first code was asked for.
func codePhaseDuration(d time.Duration, first, now time.Time) time.Duration {
	return min(d, first.Add(codeLife).Sub(now))
}

// exchangeOnce exchanges the code of the sign-in, untimed: it checks the
// whole path before the phase, and returns the algorithm of the ID Token,
// which names the row (the server's, RS256 unless a --target says
// otherwise; that signature is much of the exchange's cost).
func exchangeOnce(ctx context.Context, c *http.Client, base string, cl client, body string) (string, error) {
	var buf bytes.Buffer
	status, resp, err := postUntimed(ctx, c, base+oauth.PathToken, cl.basic(), body, &buf)
	if err != nil {
		return "", err
	}
	idToken, ok := jsonString(resp, "id_token")
	if _, hasAccess := jsonString(resp, "access_token"); status != http.StatusOK || !ok || !hasAccess {
		return "", fmt.Errorf("token endpoint answered %d %.300s; want an access token and an ID Token", status, resp)
	}
	return jwtAlg(idToken)
}

// exchangeOK reports whether a 2xx answer of the exchange phase holds an
// access token and an ID Token.
func exchangeOK(_ int, body []byte) bool {
	return bytes.Contains(body, []byte(`"access_token":"`)) && bytes.Contains(body, []byte(`"id_token":"ey`))
}

// errNoCodes is the error of a code pool left empty.
var errNoCodes = errors.New("no authorization code obtained")

// exchangeCode measures the authorization code exchange (RFC 6749 §4.1.3)
// with the run's workers, each code exchanged once; prepareCodes obtains
// them beforehand, untimed. Not run again under --overload: the pool is the
// phase's own and does not outlive it.
func (f *firstServer) exchangeCode(ctx context.Context, user, password string) error {
	b := f.b
	cp, err := f.prepareCodes(ctx, user, password)
	if err != nil {
		return err
	}
	codes := &pool{tokens: cp.bodies}
	ph := phase{
		name:  "exchange code (authorization_code, ID Token " + cp.alg + ")",
		path:  oauth.PathToken,
		auth:  b.code.basic(),
		body:  func(int) (string, bool) { return codes.take() },
		check: exchangeOK,
	}
	d := codePhaseDuration(b.cfg.duration, cp.first, time.Now())
	b.logf("measuring %s: %d codes, obtained in %.1f s", ph.name, len(cp.bodies), cp.took.Seconds())
	r := ph.run(ctx, b.gen(f.srv.url), b.cfg.workers, d, b.cpuOf(f.srv))
	r.note = codeNote(r, len(cp.bodies), cp.took, d, b.cfg.duration)
	b.rows = append(b.rows, r)
	return nil
}

// codePool is what the exchange phase is given: the token request of
// each code, when the first was asked for and how long they all took, and
// the ID Token's algorithm.
type codePool struct {
	bodies []string
	first  time.Time
	took   time.Duration
	alg    string
}

// The size of the pool. A trial exchanges trialPerWorker codes a worker,
// untimed, and the pool holds codeMargin times what the phase would use at
// the trial's rate: the trial is a short burst, and the machine's figures
// drift by a third from one moment to the next.
const (
	trialPerWorker = 4
	codeMargin     = 2
)

// prepareCodes signs user in through the pages once and allows the code
// client for good, checks the exchange with the code that answers, sizes
// the pool with a trial, and then obtains the pool's codes with the
// session, each at once by a 303, for as long as the phase lasts and
// maxObtain at most: the codes must outlive the phase.
func (f *firstServer) prepareCodes(ctx context.Context, user, password string) (codePool, error) {
	b, w := f.b, f.b.cfg.workers
	br, err := newBrowser(f.srv.url, w)
	if err != nil {
		return codePool{}, err
	}
	defer br.c.CloseIdleConnections()
	z, code, err := br.signIn(ctx, b.code, user, password)
	if err != nil {
		return codePool{}, fmt.Errorf("sign in through the pages: %w", err)
	}
	var cp codePool
	if cp.alg, err = exchangeOnce(ctx, b.client, f.srv.url, b.code, z.exchangeBody(code)); err != nil {
		return codePool{}, fmt.Errorf("authorization code exchange: %w", err)
	}
	trial, err := br.obtainCodes(ctx, b.code, trialPerWorker*w, w, time.Now().Add(maxObtain))
	if err != nil {
		return codePool{}, fmt.Errorf("obtain authorization codes: %w", err)
	}
	t0 := time.Now()
	if err := exchangeMany(ctx, b.client, f.srv.url, b.code, trial, w); err != nil {
		return codePool{}, fmt.Errorf("authorization code exchange: %w", err)
	}
	rate := float64(len(trial)) / time.Since(t0).Seconds()
	n := int(codeMargin*rate*b.cfg.duration.Seconds()) + w
	obtainFor := min(b.cfg.duration, maxObtain)
	b.logf("%.0f codes exchanged a second in a trial: obtaining %d codes, for %s at most", rate, n, obtainFor)
	cp.first = time.Now()
	if cp.bodies, err = br.obtainCodes(ctx, b.code, n, w, cp.first.Add(obtainFor)); err != nil {
		return codePool{}, fmt.Errorf("obtain authorization codes: %w", err)
	}
	cp.took = time.Since(cp.first)
	return cp, nil
}

// exchangeMany exchanges codes, untimed: the token request of each.
func exchangeMany(ctx context.Context, c *http.Client, base string, cl client, bodies []string, workers int) error {
	auth := cl.basic()
	return parallel(ctx, len(bodies), workers, func(i int, buf *bytes.Buffer) error {
		status, resp, err := postUntimed(ctx, c, base+oauth.PathToken, auth, bodies[i], buf)
		if err != nil {
			return err
		}
		if status != http.StatusOK || !exchangeOK(i, resp) {
			return fmt.Errorf("token endpoint answered %d %.300s; want an access token and an ID Token", status, resp)
		}
		return nil
	})
}

// codeNote says why the exchange phase ran shorter than the run's
// duration, if it did: its pool of n codes, obtained in obtained, ran out,
// or it was cut to d so that no code expired.
func codeNote(r *result, n int, obtained, d, duration time.Duration) string {
	var notes []string
	if d < duration {
		notes = append(notes, fmt.Sprintf("cut to %.1f s, since codes live 60 s", d.Seconds()))
	}
	if r.exhausted {
		notes = append(notes, fmt.Sprintf("the %d codes obtained in %.1f s ran out after %.1f s", n, obtained.Seconds(), r.elapsed.Seconds()))
	}
	return strings.Join(notes, "; ")
}
