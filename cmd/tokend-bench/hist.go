package main

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is cut into
// 1<<subBits buckets, so a recorded value is off by at most 1/128 (0.8%).
const subBits = 7

// numBuckets covers every uint64: 64 powers of two, 128 buckets each.
const numBuckets = 64 << subBits

// histogram counts latencies in log-linear buckets, like an HDR histogram:
// exact below 128 ns, within 0.8% above. Recording is one increment, so a
// worker can keep its own and the results are merged at the end.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	max    time.Duration
}

// bucketOf returns the bucket of v. Below 1<<subBits a bucket holds one
// value; above, a bucket is named by v's bit length and its subBits bits
// below the leading one.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	top := v >> shift // in [1<<subBits, 2<<subBits)
	return (shift+1)<<subBits + int(top-1<<subBits)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 1<<subBits {
		return uint64(i), uint64(i)
	}
	shift := i>>subBits - 1
	top := uint64(i&(1<<subBits-1)) + 1<<subBits
	lo = top << shift
	return lo, lo + (1 << shift) - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the latency below which a fraction q of the recorded
// values lie (the nearest-rank definition: the value of rank ⌈q·n⌉), as
// the middle of its bucket, never above the largest value recorded. It
// returns 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return min(time.Duration(lo+(hi-lo)/2), h.max)
		}
	}
	return h.max
}
