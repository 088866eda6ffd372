package bench

import (
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []int64 // nanoseconds
		q      float64
		want   int64
	}{
		{"empty", nil, 50, 0},
		{"one value", []int64{42}, 99.9, 42},
		{"exact range p50", seq(1, 100), 50, 50},
		{"exact range p90", seq(1, 100), 90, 90},
		{"exact range p99", seq(1, 100), 99, 99},
		{"exact range p99.9", seq(1, 100), 99.9, 100},
		{"exact range p100", seq(1, 100), 100, 100},
		{"rank rounds up", seq(1, 3), 50, 2},
		{"below exact bound", []int64{255}, 50, 255},
		// 256..511 are in group 1: buckets 2 ns wide, so 300 reads as 301.
		{"group 1 bucket high", []int64{300, 1000}, 50, 301},
		// 1,000,000 ns: group 12 (buckets of 4096 ns); a lone value is
		// clamped to the exact maximum.
		{"clamped to max", []int64{1_000_000}, 50, 1_000_000},
		{"large bucket high", []int64{1_000_000, 2_000_000}, 50, 1_003_519},
		{"negative counts as zero", []int64{-5}, 50, 0},
		{"beyond range clamps", []int64{int64(2 * time.Hour)}, 50, maxValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(time.Duration(v))
			}
			if got := h.Percentile(tt.q); int64(got) != tt.want {
				t.Fatalf("Percentile(%v) = %d, want %d", tt.q, got, tt.want)
			}
		})
	}
}

func seq(from, to int64) []int64 {
	var s []int64
	for v := from; v <= to; v++ {
		s = append(s, v)
	}
	return s
}

func TestHistogramBucketsCoverRangeWithBoundedError(t *testing.T) {
	t.Parallel()
	prevHigh := int64(-1)
	for i := 0; i < bucketCount; i++ {
		high := bucketHigh(i)
		if high <= prevHigh {
			t.Fatalf("bucket %d high %d not above previous %d", i, high, prevHigh)
		}
		low := prevHigh + 1
		if bucketOf(low) != i || bucketOf(high) != i {
			t.Fatalf("bucket %d: bucketOf(%d)=%d bucketOf(%d)=%d", i, low, bucketOf(low), high, bucketOf(high))
		}
		if low > 0 && float64(high-low)/float64(low) > 1.0/subBuckets {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d of its low end", i, low, high, subBuckets)
		}
		prevHigh = high
	}
	if prevHigh != maxValue {
		t.Fatalf("last bucket ends at %d, want maxValue %d", prevHigh, maxValue)
	}
}

func TestHistogramMergeMinMaxMean(t *testing.T) {
	t.Parallel()
	var a, b Histogram
	for _, v := range []int64{10, 20, 30} {
		a.Record(time.Duration(v))
	}
	for _, v := range []int64{5, 1000} {
		b.Record(time.Duration(v))
	}
	var empty Histogram
	a.Merge(&empty)
	a.Merge(&b)
	if a.Count() != 5 || a.Min() != 5 || a.Max() != 1000 || a.Mean() != 213 {
		t.Fatalf("count %d min %d max %d mean %d; want 5 5 1000 213", a.Count(), a.Min(), a.Max(), a.Mean())
	}
	if got := a.Percentile(60); got != 20 {
		t.Fatalf("p60 = %d, want 20", got)
	}
	empty.Merge(&b)
	if empty.Min() != 5 || empty.Count() != 2 {
		t.Fatalf("merge into empty: min %d count %d", empty.Min(), empty.Count())
	}
	a.Reset()
	if a.Count() != 0 || a.Percentile(50) != 0 {
		t.Fatalf("Reset left count %d", a.Count())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * 37)
	}
}
