// Package revocation is the engine that decides what a revocation covers and
// commits it. Revoking any token revokes its grant, every access and
// refresh token of the family (RFC 7009 §2.1 permits it; it is the safe
// default and what WSO2 IS does). Every revocation is one atomic store call
// that also appends its event to the revocation log.
package revocation
