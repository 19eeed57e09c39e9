// Package metrics exposes tokend's Prometheus metrics: requests by endpoint
// and status with latency histograms, revocations by reason, live tokens
// and grants, group-commit batch sizes, sweep progress and failed client
// authentications. It observes the other packages through small hooks (an
// HTTP middleware, a store decorator, callbacks) and is wired in by cmd.
package metrics
