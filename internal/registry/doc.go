// Package registry turns a client's registration metadata into a stored
// client: defaults, validation of grant types and authentication methods,
// client identifiers and secrets. The CLI and dynamic client registration
// (RFC 7591) both go through it, so a client means the same whichever way
// it was made.
package registry
