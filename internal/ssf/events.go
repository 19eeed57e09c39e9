package ssf

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// signal is one SET's worth of what a log event says, before it is
// addressed to a stream.
type signal struct {
	typ string // the event type
	// key names the signal among those of its type: a stream gets one
	// SET per type and key however many log events carry it (a password
	// change that revoked five grants is one credential change).
	key     string
	txn     string // the same for every SET of one revocation (SSF 1.0 §4.1.8)
	seq     int64
	subject map[string]any // the sub_id (RFC 9493)
	keys    []string       // the subject's match keys (subjectKeys)
	payload map[string]any
}

// userReasons are the reasons whose subject is a user, never a client.
var userReasons = map[string]bool{
	store.ReasonPasswordChange: true, store.ReasonUserDisabled: true, store.ReasonUserDeleted: true,
	store.ReasonSessionEnded: true, store.ReasonConsentRevoked: true, store.ReasonUserRequest: true,
	store.ReasonUserEnabled: true, store.ReasonClaimsChanged: true,
}

// signals are what ev tells: the tokend grant-revoked event for every
// grant's, and the standard event of its reason where there is one (the
// table in the README); a subject entry of the log (a change to a user
// that revoked no grant) tells the standard event alone. users caches the
// users looked up for their email and claims, by ID.
func (t *Transmitter) signals(ctx context.Context, ev store.Event, users map[string]*store.User) ([]signal, error) {
	subject, keys, err := t.subjectOf(ctx, ev, users)
	if err != nil {
		return nil, err
	}
	txn := txnOf(ev)
	common := func(typ, key string, payload map[string]any) signal {
		payload["event_timestamp"] = ev.Time.Unix()
		payload["initiating_entity"] = initiator(ev)
		return signal{typ: typ, key: key, txn: txn, seq: ev.Seq, subject: subject, keys: keys, payload: payload}
	}
	var out []signal
	if !ev.SubjectLevel() {
		out = append(out, common(EventGrantRevoked, fmt.Sprintf("grant:%d", ev.Seq), grantPayload(ev)))
	}
	if ev.ParentGrantID != "" {
		// A grant exchanged from another (RFC 8693) is revoked with it,
		// in the same write: the cause is told once, by the event of
		// the grant the revocation named. Told again here it would say
		// nothing new, or worse: an exchanged grant belongs to no
		// session, and a session-revoked SET without a session would
		// read as every session of the user ended.
		return out, nil
	}
	// A subject entry of a password change, a disable or a deletion has
	// the key the grants' events of the same change would have: a stream
	// gets one SET of it either way.
	at := fmt.Sprintf("%s:%d", ev.Subject, ev.Time.UnixMilli())
	switch ev.Reason {
	case store.ReasonSessionEnded:
		s := common(EventSessionRevoked, "session:"+ev.SessionID, map[string]any{})
		if ev.SessionID != "" {
			// A complex subject: the user, and which of the user's
			// sessions (SSF 1.0 §3.3).
			s.subject = map[string]any{"format": "complex", "user": issSub(t.cfg.Issuer, ev.Subject),
				"session": map[string]any{"format": "opaque", "id": ev.SessionID}}
		}
		out = append(out, s)
	case store.ReasonPasswordChange:
		out = append(out, common(EventCredentialChange, "password:"+at,
			map[string]any{"credential_type": "password", "change_type": "update"}))
	case store.ReasonUserDisabled:
		out = append(out, common(EventAccountDisabled, "disabled:"+at, map[string]any{}))
	case store.ReasonUserDeleted:
		out = append(out, common(EventAccountPurged, "purged:"+ev.Subject, map[string]any{}))
	case store.ReasonUserEnabled:
		out = append(out, common(EventAccountEnabled, "enabled:"+at, map[string]any{}))
	case store.ReasonClaimsChanged:
		// The claims' values are the user's as the SET is queued; a
		// user deleted since has an account-purged SET to come instead.
		if u := users[ev.Subject]; u != nil {
			out = append(out, common(EventClaimsChange, "claims:"+at, map[string]any{"claims": claimValues(*u, ev.Claims)}))
		}
	}
	return out, nil
}

// claimValues are the values of the named claims of u (store.ProfileClaims),
// as userinfo gives them.
func claimValues(u store.User, names []string) map[string]any {
	all := map[string]any{"preferred_username": u.Username, "name": u.Name, "given_name": u.GivenName,
		"family_name": u.FamilyName, "email": u.Email, "email_verified": u.EmailVerified}
	out := make(map[string]any, len(names))
	for _, n := range names {
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

// grantPayload is the tokend grant-revoked event: which client's grant,
// why, and the tokens it covered, by the base64url of their SHA-256 and
// by jti, until when a resource server may still be shown one.
func grantPayload(ev store.Event) map[string]any {
	hashes := make([]string, len(ev.TokenHashes))
	for i, h := range ev.TokenHashes {
		hashes[i] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	p := map[string]any{"client_id": ev.ClientID, "reason": ev.Reason, "token_hashes": hashes}
	if len(ev.JTIs) > 0 {
		p["jtis"] = ev.JTIs
	}
	if !ev.ExpiresAt.IsZero() {
		p["expires_at"] = ev.ExpiresAt.Unix()
	}
	if ev.SessionID != "" {
		p["sid"] = ev.SessionID
	}
	return p
}

// initiator is the CAEP initiating_entity of ev (CAEP 1.0 §2). Only an
// admin (the console, SCIM, the CLI) enables a user or changes the
// user's claims.
func initiator(ev store.Event) string {
	switch {
	case ev.Actor == "admin" || ev.Reason == store.ReasonAdmin || ev.Reason == store.ReasonClientDeleted ||
		ev.Reason == store.ReasonSecretRotated || ev.Reason == store.ReasonUserEnabled || ev.Reason == store.ReasonClaimsChanged:
		return "admin"
	case ev.Reason == store.ReasonRefreshReuse || ev.Reason == store.ReasonCodeReuse:
		return "policy"
	case userReasons[ev.Reason]:
		return "user"
	}
	return "system"
}

// txnOf names ev's revocation: every event one write appended shares its
// reason, time and actor, and a subject.
func txnOf(ev store.Event) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%s", ev.Reason, ev.Subject, ev.Time.UnixNano(), ev.Actor))
	return hex.EncodeToString(h[:16])
}

// subjectOf is ev's sub_id (RFC 9493): a client's own grant (client
// credentials) is the opaque client ID; a user is iss_sub, and with the
// email too, as aliases, when the user is still there to say it.
func (t *Transmitter) subjectOf(ctx context.Context, ev store.Event, users map[string]*store.User) (map[string]any, []string, error) {
	if ev.Subject == ev.ClientID && !userReasons[ev.Reason] {
		id := map[string]any{"format": "opaque", "id": ev.ClientID}
		return id, subjectKeys(id), nil
	}
	u, seen := users[ev.Subject]
	if !seen {
		got, err := t.cfg.Store.GetUserByID(ctx, ev.Subject)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, nil, err
		default:
			u = &got
		}
		users[ev.Subject] = u
	}
	id := issSub(t.cfg.Issuer, ev.Subject)
	if u != nil && u.Email != "" {
		id = map[string]any{"format": "aliases", "identifiers": []any{id, map[string]any{"format": "email", "email": u.Email}}}
	}
	return id, subjectKeys(id), nil
}

func issSub(iss, sub string) map[string]any {
	return map[string]any{"format": "iss_sub", "iss": iss, "sub": sub}
}

// subjectKeys are the keys a subject identifier matches by: one per
// simple identifier in it (aliases and complex subjects hold several). A
// stream's removed subjects are kept as keys; a SET whose subject has one
// of them is not queued for it.
func subjectKeys(id map[string]any) []string {
	str := func(k string) string { s, _ := id[k].(string); return s }
	switch str("format") {
	case "iss_sub":
		return []string{"iss_sub\x00" + str("iss") + "\x00" + str("sub")}
	case "email":
		return []string{"email\x00" + strings.ToLower(str("email"))}
	case "opaque":
		return []string{"opaque\x00" + str("id")}
	case "aliases":
		var out []string
		list, _ := id["identifiers"].([]any)
		for _, v := range list {
			if m, ok := v.(map[string]any); ok {
				out = append(out, subjectKeys(m)...)
			}
		}
		return out
	case "complex":
		var out []string
		for k, v := range id {
			if m, ok := v.(map[string]any); ok && k != "format" {
				out = append(out, subjectKeys(m)...)
			}
		}
		return out
	}
	return nil
}

// claims is the SET of sig for stream st, as queued: iss, jti, iat, aud,
// txn, sub_id and the one event (SSF 1.0 §4.1; no sub, no exp).
func (t *Transmitter) claims(st stream, sig signal, jti string, now time.Time) ([]byte, error) {
	return json.Marshal(map[string]any{
		"iss": t.cfg.Issuer, "jti": jti, "iat": now.Unix(), "aud": st.audClaim(), "txn": sig.txn,
		"sub_id": sig.subject, "events": map[string]any{sig.typ: sig.payload},
	})
}

// jtiOf is the jti of the SET of type typ and key for a stream: the same
// whoever queues it, so that the store keeps one.
func jtiOf(streamID, typ, key string) string {
	h := sha256.Sum256([]byte(streamID + "\x00" + typ + "\x00" + key))
	return hex.EncodeToString(h[:16])
}
