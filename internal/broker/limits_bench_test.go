package broker

import (
	"context"
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
