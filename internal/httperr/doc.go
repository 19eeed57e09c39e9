// Package httperr is the one mapping from the errors of the layers below the
// HTTP areas — the store, the revocation engine, package adminauth, a
// request whose client went away — to the HTTP answer they call for: a
// status, a Retry-After, headers, and what the caller may be told. Each area
// writes the answer in its own format: RFC 6749 §5.2 JSON for the OAuth and
// admin endpoints (package oautherr), RFC 7644 §3.12 for SCIM.
package httperr
