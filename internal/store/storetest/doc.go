// Package storetest is the one conformance suite of package store. Every
// backend (sqlite, postgres, ...) calls [Run] from its own tests; a backend is
// done when the suite passes on it.
//
// The suite pins down the parts of the store contract that callers rely on
// but that the interface cannot express: which errors come back when, what a
// revocation covers and counts, that revoked tokens stay visible to lookups,
// refresh-token reuse detection (RFC 9700 §4.14.2), the order of the
// revocation log, and how the store behaves under concurrent revocation and
// rotation of one token family.
package storetest
