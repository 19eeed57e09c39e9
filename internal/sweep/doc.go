// Package sweep keeps the store proportional to the live tokens: it
// deletes expired grants with their tokens (and the used assertion jtis
// that expired) in small batches, so that no lock is held for long and
// revocations interleave with the clean-up, and it deletes revocation log
// events older than a retention window.
//
// Sweeper.Once runs one full sweep (what `tokend gc` does by hand);
// Sweeper.Run runs one at start and then one every interval until its
// context ends (what `tokend serve` starts). The clock, the timer and the
// pause between batches are injected, so tests drive it without sleeping.
package sweep
