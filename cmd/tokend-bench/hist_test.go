package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	// Consecutive buckets are adjacent: no value falls between two, none
	// in two.
	for i := 0; i < 40<<subBits; i++ {
		lo, hi := bucketRange(i)
		if lo > hi {
			t.Fatalf("bucket %d: lo %d > hi %d", i, lo, hi)
		}
		if next, _ := bucketRange(i + 1); next != hi+1 {
			t.Fatalf("bucket %d ends at %d, bucket %d starts at %d", i, hi, i+1, next)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d], but bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := rng.Uint64() >> rng.IntN(64)
		lo, hi := bucketRange(bucketOf(v))
		if v < lo || v > hi {
			t.Fatalf("%d in bucket %d = [%d, %d]", v, bucketOf(v), lo, hi)
		}
		if v >= 1<<subBits && float64(hi-lo) > float64(v)/(1<<subBits) {
			t.Fatalf("bucket of %d is [%d, %d]: wider than 1/%d of the value", v, lo, hi, 1<<subBits)
		}
	}
	if got := bucketOf(math.MaxUint64); got >= numBuckets {
		t.Fatalf("bucketOf(MaxUint64) = %d; want < %d", got, numBuckets)
	}
}

// exactQuantile is the nearest-rank quantile of a sorted sample.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func TestQuantileMatchesSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		gen  func() time.Duration
	}{
		{"uniform 0–10 ms", func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential, mean 2 ms", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond)) }},
		{"bimodal 100 µs and 50 ms", func() time.Duration {
			if rng.IntN(100) < 97 {
				return 100*time.Microsecond + time.Duration(rng.Int64N(1000))
			}
			return 50*time.Millisecond + time.Duration(rng.Int64N(1e6))
		}},
		{"tiny, exact", func() time.Duration { return time.Duration(rng.IntN(100)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			sample := make([]time.Duration, 20001)
			for i := range sample {
				sample[i] = tt.gen()
				h.record(sample[i])
			}
			slices.Sort(sample)
			for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
				got, want := h.quantile(q), exactQuantile(sample, q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/(1<<subBits)+1 {
					t.Errorf("quantile(%v) = %v; want %v within 1/%d", q, got, want, 1<<subBits)
				}
			}
		})
	}
}

func TestQuantileSmallCounts(t *testing.T) {
	var h histogram
	if got := h.quantile(0.5); got != 0 {
		t.Errorf("empty: quantile(0.5) = %v; want 0", got)
	}
	for _, d := range []time.Duration{10, 20, 30, 40} {
		h.record(d)
	}
	// Nearest rank: p50 of four values is the second, p99 the fourth.
	for q, want := range map[float64]time.Duration{0.25: 10, 0.5: 20, 0.51: 30, 0.99: 40, 1: 40} {
		if got := h.quantile(q); got != want {
			t.Errorf("quantile(%v) = %v; want %v", q, got, want)
		}
	}
	var other histogram
	other.record(time.Second)
	h.merge(&other)
	if got := h.quantile(1); got != time.Second {
		t.Errorf("after merge: quantile(1) = %v; want 1s (never above the maximum)", got)
	}
}
