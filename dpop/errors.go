package dpop

import "errors"

// Error codes of RFC 9449: a proof refused (§5, §7.1) and a nonce required
// (§8, §9).
const (
	CodeInvalidProof = "invalid_dpop_proof"
	CodeUseNonce     = "use_dpop_nonce"
)

// Reason says which check a proof failed; tests and logs read it, the
// client reads Description.
type Reason string

// The reasons a proof is refused, in the order Verify checks.
const (
	ReasonMissing    Reason = "missing"
	ReasonMultiple   Reason = "multiple"
	ReasonMalformed  Reason = "malformed"
	ReasonType       Reason = "typ"
	ReasonAlg        Reason = "alg"
	ReasonKey        Reason = "jwk"
	ReasonPrivateKey Reason = "private_jwk"
	ReasonSignature  Reason = "signature"
	ReasonClaims     Reason = "claims"
	ReasonMethod     Reason = "htm"
	ReasonURI        Reason = "htu"
	ReasonIssuedAt   Reason = "iat"
	ReasonTokenHash  Reason = "ath"
	ReasonNonce      Reason = "nonce"
	ReasonReplayed   Reason = "replayed"
)

// Error is a refused proof.
type Error struct {
	// Code is CodeInvalidProof or CodeUseNonce.
	Code   string
	Reason Reason
	// Description is for the client's developer.
	Description string
	// Nonce, with CodeUseNonce, is the nonce to send (the DPoP-Nonce
	// header of the answer).
	Nonce string
}

func (e *Error) Error() string { return "dpop: " + e.Description }

// Is matches ErrReplayed to a replay refusal.
func (e *Error) Is(target error) bool { return target == ErrReplayed && e.Reason == ReasonReplayed }

// ErrReplayed is what a ReplayCache returns for a proof used before.
var ErrReplayed = errors.New("dpop: proof replayed")

func refuse(r Reason, desc string) *Error {
	return &Error{Code: CodeInvalidProof, Reason: r, Description: desc}
}

// replayed is the refusal of a proof whose jti was seen, or that is too
// old for a full cache to vouch for.
func replayed() *Error {
	return refuse(ReasonReplayed, "the DPoP proof was used before")
}
