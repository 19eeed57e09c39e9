// Package stack builds and runs a real tokend and the example API
// (examples/api, a resource server using package rs) as separate
// processes, on loopback with plain HTTP, for end-to-end tests and for
// cmd/tokend-propagation.
package stack
