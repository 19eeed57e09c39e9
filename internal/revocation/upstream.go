package revocation

import (
	"context"

	"github.com/tokend/tokend/internal/store"
)

// RevokeUpstreamSubject revokes every live grant made for subject sub of
// the trusted issuer iss (the JWT bearer grant's "<sub>@<iss>"), one
// event per grant, for upstream_signal with iss as the actor: the issuer
// told, with a Shared Signals SET, that the subject must lose access.
// An empty sub or iss is ErrNoFilter.
func (e *Engine) RevokeUpstreamSubject(ctx context.Context, iss, sub string) (store.RevokeResult, error) {
	if sub == "" || iss == "" {
		return store.RevokeResult{}, ErrNoFilter
	}
	return e.Store.RevokeMatching(ctx, store.Filter{Subject: sub + "@" + iss}, store.Revocation{
		Time: e.now(), Reason: store.ReasonUpstreamSignal, Actor: iss,
	})
}
