// Package admin serves tokend's admin API for revocation:
//
//   - POST /admin/revocations revokes every live grant of a subject, of a
//     client, or of the pair (bulk revocation), and answers how many grants
//     and tokens it revoked;
//   - GET /admin/revocations reads the revocation log, oldest first, from a
//     sequence number on;
//   - POST /global-token-revocation is Global Token Revocation
//     (draft-parecki-oauth-global-token-revocation-05): revoke every token of
//     the user a Subject Identifier (RFC 9493) names;
//   - GET /admin/users/{username}/sessions and .../consents list a user's
//     browser sessions and consents; DELETE /admin/sessions/{sid} signs a
//     session out and DELETE /admin/users/{username}/consents/{client_id}
//     withdraws a consent, each revoking what it covered through the
//     revocation engine.
//
// Every endpoint is authorised by package adminauth (the admin Bearer token
// or an admin user's Basic credentials) and answers errors as RFC 6749 §5.2
// JSON through oautherr.Write.
package admin
