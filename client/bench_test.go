package client

import (
	"context"
	"testing"
	"time"
)

// Benchmarks against a real beanstalkd on loopback (in memory, with its
// log): 64-byte jobs, one op = one put acknowledged.

var benchBody = make([]byte, 64)

// BenchmarkConnPut puts one job at a time: a full round trip per put.
func BenchmarkConnPut(b *testing.B) {
	_, addrs := startServers(b, 1)
	c, err := Dial(context.Background(), addrs[0])
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Put(ctx, benchBody, 0, 0, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnPutPipelined puts from 64 goroutines over one Conn, whose
// requests are pipelined.
func BenchmarkConnPutPipelined(b *testing.B) {
	_, addrs := startServers(b, 1)
	c, err := Dial(context.Background(), addrs[0])
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.SetParallelism(32) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Put(ctx, benchBody, 0, 0, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPoolPut puts from 64 goroutines through a Pool of three servers.
func BenchmarkPoolPut(b *testing.B) {
	_, addrs := startServers(b, 3)
	p, err := NewPool(context.Background(), PoolConfig{Addrs: addrs})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Put(ctx, "bench", benchBody, 0, 0, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
