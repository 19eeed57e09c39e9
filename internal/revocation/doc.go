// Package revocation is the engine that decides what a revocation covers and
// commits it. Revoking any token revokes its grant, every access and
// refresh token of the family (RFC 7009 §2.1 permits it; it is the safe
// default and what WSO2 IS does). Every revocation is one atomic store call
// that also appends its event to the revocation log. A grant's revocation
// covers every grant exchanged from it (RFC 8693 token exchange), and
// those exchanged from them, in the same store call, one event each: the
// store's revocation does it, so every cause below cascades, and a
// RevokeResult counts the grants it reached.
//
// Every revocation goes through the Engine, whatever its cause: outside
// this package and package store no code writes a store.Revocation, so
// what each cause revokes, and the reason it logs, is decided here alone.
// A test of this package holds that rule.
package revocation
