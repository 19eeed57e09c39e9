package feed

import (
	"encoding/base64"
	"time"

	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/store"
)

// Message is one revocation as the feed sends it (the data of an SSE
// "revocation" event, and an element of the polling endpoint's "events").
// It says what a resource server needs to refuse the covered tokens and
// when it may forget them; it leaves out the grant ID and the actor, which
// are for the audit trail only.
type Message struct {
	// Seq is the event's sequence number in the revocation log (also
	// the SSE id).
	Seq int64 `json:"seq"`
	// Time is when the revocation was committed (RFC 3339, UTC).
	Time time.Time `json:"time"`
	// JTIs are the jti claims of the covered JWT access tokens.
	JTIs []string `json:"jti"`
	// TokenHashes are base64url(SHA-256(token)) of every covered token,
	// JWTs included (the hash of the compact serialisation).
	TokenHashes []string `json:"token_hashes"`
	// StatusList gives each covered JWT's place in a Token Status List,
	// as its status.status_list claim does.
	StatusList []StatusRef `json:"status_list,omitempty"`
	Subject    string      `json:"sub"`
	ClientID   string      `json:"client_id"`
	Reason     string      `json:"reason"`
	// ExpiresAt is the expiry of the longest-lived covered token
	// (NumericDate): after it, the message may be forgotten. 0 when no
	// covered token was unexpired.
	ExpiresAt int64 `json:"exp"`
}

// StatusRef is a token's entry in a status list (draft-ietf-oauth-status-list
// §6.1 "status_list").
type StatusRef struct {
	Index int64  `json:"idx"`
	URI   string `json:"uri"`
}

// NewMessage turns a log event into its feed message; issuer builds the
// status list URIs.
func NewMessage(ev store.Event, issuer string) Message {
	m := Message{
		Seq:         ev.Seq,
		Time:        ev.Time.UTC(),
		JTIs:        ev.JTIs,
		TokenHashes: make([]string, len(ev.TokenHashes)),
		Subject:     ev.Subject,
		ClientID:    ev.ClientID,
		Reason:      ev.Reason,
	}
	if m.JTIs == nil {
		m.JTIs = []string{}
	}
	for i, h := range ev.TokenHashes {
		m.TokenHashes[i] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	for _, idx := range ev.StatusIndexes {
		list, bit := statuslist.Locate(idx)
		m.StatusList = append(m.StatusList, StatusRef{Index: bit, URI: statuslist.URI(issuer, list)})
	}
	if !ev.ExpiresAt.IsZero() {
		m.ExpiresAt = ev.ExpiresAt.Unix()
	}
	return m
}
