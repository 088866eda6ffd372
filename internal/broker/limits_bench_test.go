package broker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/policy"
)

// benchPolicies are the tube policies BenchmarkLimits compares: none, and
// a concurrency and a rate limit configured so high that they never bind
// (the cost of checking them on every put and reserve), and unique (a
// SHA-256 of every body and an index entry per job).
var benchPolicies = []struct {
	name string
	p    *policy.Policy
}{
	{"none", nil},
	{"limits", &policy.Policy{Concurrency: 1 << 30, Rate: &policy.Rate{Limit: 1 << 20, Per: time.Second, Burst: 1 << 30}}},
	{"unique", &policy.Policy{Unique: &policy.Unique{}}},
}

// BenchmarkLimits measures put and reserve+delete through one tube with
// each of benchPolicies: limits configured but not binding stay within a
// few percent of no policy (docs/policies.md, "Cost").
func BenchmarkLimits(b *testing.B) {
	for _, bp := range benchPolicies {
		b.Run("put/policy="+bp.name, func(b *testing.B) {
			br := benchBroker(b, 1)
			br.setLookup(policyFor(bp.p, "default"))
			s := br.Open()
			defer s.Close()
			bodies := benchBodies(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Put(100, 0, time.Minute, bodies[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("reserve-delete/policy="+bp.name, func(b *testing.B) {
			br := benchBroker(b, 1)
			br.setLookup(policyFor(bp.p, "default"))
			s := br.Open()
			defer s.Close()
			for _, body := range benchBodies(b.N) {
				if _, err := s.Put(100, 0, time.Minute, body); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := s.Reserve(ctx, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchBodies returns n distinct 64-byte bodies (so that unique keeps
// every job).
func benchBodies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, len(benchBody))
		for k, v := 0, i; k < 8; k, v = k+1, v>>8 {
			b[k] = byte(v)
		}
		out[i] = b
	}
	return out
}

// BenchmarkLimitsPaired runs batches of puts and of reserve+deletes on two
// brokers side by side, one with no policy and one with limits that never
// bind, alternating which goes first, and reports the median time of each
// and the median of the per-batch ratios (limits/none). Pairing the
// batches in time cancels most of the noise of a shared machine, which
// separate benchmark runs do not. One iteration is one pair of batches.
func BenchmarkLimitsPaired(b *testing.B) {
	const batch = 2000
	limits := benchPolicies[1].p
	for _, op := range []string{"put", "reserve-delete"} {
		b.Run(op, func(b *testing.B) {
			var sess [2]*Session
			for k, p := range []*policy.Policy{nil, limits} {
				br := benchBroker(b, 1)
				br.setLookup(policyFor(p, "default"))
				sess[k] = br.Open()
				defer sess[k].Close()
			}
			run := func(s *Session) time.Duration {
				if op == "reserve-delete" {
					for i := 0; i < batch; i++ {
						if _, err := s.Put(100, 0, time.Minute, benchBody); err != nil {
							b.Fatal(err)
						}
					}
				}
				start := time.Now()
				for i := 0; i < batch; i++ {
					if op == "put" {
						if _, err := s.Put(100, 0, time.Minute, benchBody); err != nil {
							b.Fatal(err)
						}
						continue
					}
					r, err := s.Reserve(context.Background(), 0)
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Delete(r.ID); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			var none, lim, ratio []float64
			for i := 0; i < b.N; i++ {
				var d [2]time.Duration
				first := i % 2
				d[first] = run(sess[first])
				d[1-first] = run(sess[1-first])
				none = append(none, float64(d[0])/batch)
				lim = append(lim, float64(d[1])/batch)
				ratio = append(ratio, float64(d[1])/float64(d[0]))
			}
			b.ReportMetric(median(none), "ns/op-none")
			b.ReportMetric(median(lim), "ns/op-limits")
			b.ReportMetric(median(ratio), "limits/none")
		})
	}
}

// median returns the middle value of v (which it sorts).
func median(v []float64) float64 {
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
