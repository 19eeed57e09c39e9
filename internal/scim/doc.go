// Package scim serves users over SCIM 2.0 (RFC 7643, RFC 7644) at WSO2 IS's
// path, /scim2/Users: create, read, find by userName, replace, patch and
// delete. A user here has a userName, a password (write-only: never
// returned), an active flag, and the profile OpenID Connect userinfo
// returns: name.givenName, name.familyName, displayName and one email
// address (see profile.go); other attributes of the core and enterprise
// User schemas are accepted and ignored, and attributes of no schema are
// refused.
//
// Changing a user's password, setting active to false and deleting the
// user revoke all the user's grants in the same store transaction as the
// change (reasons password_change, user_disabled, user_deleted), so there
// is never a moment when the change is visible and the old tokens still
// work. New passwords are hashed (argon2id) before the store is called.
//
// Every endpoint is authorised by package adminauth; errors are SCIM error
// responses (RFC 7644 §3.12) in application/scim+json.
package scim
