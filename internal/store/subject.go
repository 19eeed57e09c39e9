package store

// ProfileClaims are the OpenID Connect claims tokend releases about a user
// (userinfo, ID tokens), in the order a claims_changed entry names them.
var ProfileClaims = []string{"preferred_username", "name", "given_name", "family_name", "email", "email_verified"}

// ChangedClaims are the names of the ProfileClaims whose values differ
// between old and u, nil when none.
func ChangedClaims(old, u User) []string {
	changed := [...]bool{
		old.Username != u.Username, old.Name != u.Name, old.GivenName != u.GivenName,
		old.FamilyName != u.FamilyName, old.Email != u.Email, old.EmailVerified != u.EmailVerified,
	}
	var out []string
	for i, c := range changed {
		if c {
			out = append(out, ProfileClaims[i])
		}
	}
	return out
}

// SubjectEntries are the subject entries (Event.SubjectLevel) an
// UpdateUser that changes old into u, with rev, appends to the log, in the
// same transaction, both backends alike:
//
//   - ifNoGrant, the entry of rev's Reason (a password change, a disable),
//     is appended only when the update revoked no grant: when it revoked
//     some, their events carry the reason already, and a second entry
//     would be one more line of the audit log that says nothing new;
//   - always are appended whatever was revoked: user_enabled when u was
//     disabled and no longer is, and claims_changed, naming the claims,
//     when a change that revokes nothing (no Reason) changed claims:
//     tokens that were revoked with the change say nothing any more.
//
// Each has rev's Time and Actor.
func SubjectEntries(old, u User, rev Revocation) (ifNoGrant *Event, always []Event) {
	entry := func(reason string) Event {
		return Event{Time: rev.Time, Subject: u.ID, Reason: reason, Actor: rev.Actor}
	}
	if rev.Reason != "" {
		e := entry(rev.Reason)
		ifNoGrant = &e
	}
	if old.Disabled && !u.Disabled {
		always = append(always, entry(ReasonUserEnabled))
	}
	if claims := ChangedClaims(old, u); rev.Reason == "" && len(claims) > 0 {
		e := entry(ReasonClaimsChanged)
		e.Claims = claims
		always = append(always, e)
	}
	return ifNoGrant, always
}
