package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// DPoP at the token endpoint (RFC 9449 §5): a token request with a valid
// proof gets tokens bound to the proof's key. The binding is the grant's
// (store.Grant.JKT): set when the grant is made, it holds for every token
// of the grant, so a refresh must prove the same key (§5: refresh tokens
// of public clients are bound; tokend holds confidential clients to it
// too, since their grant is bound as a whole). A client registered with
// dpop_bound_access_tokens (§5.2) is refused any request without a proof.

// proofKey is the context key of the request's checked proof.
type proofKey struct{}

// proofOf returns the checked DPoP proof of the token request whose
// context is ctx; nil when it had none.
func proofOf(ctx context.Context) *dpop.Proof {
	p, _ := ctx.Value(proofKey{}).(*dpop.Proof)
	return p
}

// dpopVerifier completes the configured verifier: the server's clock, a
// replay cache in memory, and the store behind it when instances share it.
func dpopVerifier(cfg Config) *dpop.Verifier {
	v := dpop.Verifier{}
	if cfg.DPoP != nil {
		v = *cfg.DPoP
	}
	if v.Now == nil {
		v.Now = cfg.Now
	}
	if v.Replay == nil {
		v.Replay = dpop.NewMemory(0)
	}
	if cfg.DPoPSharedReplay {
		v.Replay = sharedReplay{local: v.Replay, store: cfg.Store}
	}
	return &v
}

// checkProof checks the DPoP header of a token request of client c and
// returns r with the proof in its context; r as it is without a header.
func (e *Endpoints) checkProof(r *http.Request, c store.Client) (*http.Request, error) {
	vals := r.Header.Values(dpop.HeaderName)
	if len(vals) == 0 {
		if c.DPoPBoundAccessTokens {
			return r, oautherr.New(dpop.CodeInvalidProof, http.StatusBadRequest,
				"the client is registered with dpop_bound_access_tokens: a DPoP proof is required")
		}
		return r, nil
	}
	p, err := e.dpop.Verify(r.Context(), vals, dpop.Request{Method: r.Method, URI: e.cfg.Issuer + PathToken})
	if err != nil {
		return r, proofError(err)
	}
	return r.WithContext(context.WithValue(r.Context(), proofKey{}, p)), nil
}

// proofError answers a refused proof as RFC 9449 §5 and §8 say: 400 with
// invalid_dpop_proof, or use_dpop_nonce with the nonce to use in the
// DPoP-Nonce header. Any other error (the replay cache's store down) is
// left to the one mapping.
func proofError(err error) error {
	var de *dpop.Error
	if !errors.As(err, &de) {
		return err
	}
	oe := oautherr.New(de.Code, http.StatusBadRequest, "%s", de.Description)
	if de.Nonce != "" {
		oe.Header = http.Header{dpop.NonceHeader: {de.Nonce}}
	}
	return oe.WithCause(err)
}

// setNonce sends the current nonce on an answer of the token endpoint when
// nonces are on (RFC 9449 §8.2), so that the client has the next one
// before its own stops being accepted.
func (e *Endpoints) setNonce(w http.ResponseWriter) {
	if e.dpop.Nonces != nil {
		w.Header().Set(dpop.NonceHeader, e.dpop.Nonces.Current())
	}
}

// refreshBinding checks a refresh of the grant of rec by client c against
// the request's proof: a bound grant is refreshed only with a proof of its
// key (a key swap is invalid_grant, as any refresh token not the client's
// would be), and a client that requires DPoP does not refresh an unbound
// grant it got before it did.
func refreshBinding(ctx context.Context, c store.Client, rec store.TokenRecord) error {
	p := proofOf(ctx)
	switch {
	case rec.JKT != "" && p == nil:
		return oautherr.New(dpop.CodeInvalidProof, http.StatusBadRequest,
			"the refresh token is bound to a DPoP key: a DPoP proof of that key is required")
	case rec.JKT != "" && p.JKT != rec.JKT:
		return oautherr.InvalidGrant("the refresh token is bound to another DPoP key")
	case rec.JKT == "" && c.DPoPBoundAccessTokens:
		return oautherr.InvalidGrant("the refresh token is not bound to a DPoP key, which the client requires")
	}
	return nil
}

// sharedReplay is the replay cache of instances that share a store: the
// proof is checked in this instance's memory first (a replay to the same
// instance costs no write), then recorded in the store (store.UseJTI,
// under the issuer "dpop"), where a replay to another instance is seen.
// The store's rows are swept with the assertions' jtis once their window
// ends.
type sharedReplay struct {
	local dpop.ReplayCache
	store store.Store
}

// replayIssuer is the issuer under which proofs' keys are stored: no
// assertion issuer is named so, as those are URLs.
const replayIssuer = "dpop"

func (s sharedReplay) Use(ctx context.Context, key string, until, now time.Time) error {
	if err := s.local.Use(ctx, key, until, now); err != nil {
		return err
	}
	err := s.store.UseJTI(ctx, replayIssuer, key, until, now)
	if errors.Is(err, store.ErrAlreadyExists) {
		return dpop.ErrReplayed
	}
	return err
}

// checkBinding holds a request to the UserInfo Endpoint, a protected
// resource of this server, to RFC 9449 §7: a token bound to a key comes
// with the DPoP scheme and a proof of that key for this request with the
// token's hash (ath); sent as a Bearer token it is refused, and so is an
// unbound token under the DPoP scheme. Refusals carry a DPoP challenge.
func (e *Endpoints) checkBinding(r *http.Request, scheme, raw string, rec store.TokenRecord) error {
	switch {
	case rec.JKT == "" && scheme != dpop.Scheme:
		return nil
	case rec.JKT == "":
		return e.dpopChallenge(oautherr.CodeInvalidToken, "the access token is not bound to a DPoP key: send it as a Bearer token", "")
	case scheme != dpop.Scheme:
		return e.dpopChallenge(oautherr.CodeInvalidToken, "the access token is bound to a DPoP key: send it with the DPoP scheme and a proof", "")
	}
	p, err := e.dpop.Verify(r.Context(), r.Header.Values(dpop.HeaderName),
		dpop.Request{Method: r.Method, URI: e.cfg.Issuer + PathUserinfo, AccessToken: raw})
	var de *dpop.Error
	switch {
	case errors.As(err, &de):
		return e.dpopChallenge(de.Code, de.Description, de.Nonce)
	case err != nil:
		return err
	case p.JKT != rec.JKT:
		return e.dpopChallenge(oautherr.CodeInvalidToken, "the DPoP proof is not of the key the access token is bound to", "")
	}
	return nil
}

// dpopChallenge is a 401 with a DPoP challenge naming code and the
// algorithms accepted (RFC 9449 §7.1), and the nonce to use when there is
// one (§9).
func (e *Endpoints) dpopChallenge(code, desc, nonce string) error {
	oe := oautherr.New(code, http.StatusUnauthorized, "%s", desc)
	oe.Header = http.Header{"WWW-Authenticate": {dpop.Scheme + ` error="` + code + `", algs="` + strings.Join(e.dpop.Algorithms(), " ") + `"`}}
	if nonce != "" {
		oe.Header.Set(dpop.NonceHeader, nonce)
	}
	return oe
}
