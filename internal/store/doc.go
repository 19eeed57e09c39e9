// Package store defines the persistence tokend needs: clients, users, grants
// (token families), tokens stored by hash, and the revocation log. Backends
// live in the sub-packages sqlite and postgres; storetest is the one
// conformance suite every backend must pass.
package store
