// Package statuslist implements the Token Status List
// (draft-ietf-oauth-status-list) for tokend's JWT access tokens: every JWT
// carries status.status_list {idx, uri}, the index of its bit in a list that
// resource servers fetch, so they learn of a revocation without asking
// about each token.
//
// Indexes come from the store in blocks (Allocator), so issuing a JWT costs
// no extra write; a block lost in a crash only leaves unused bits.
package statuslist
