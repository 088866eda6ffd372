package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
)

// startFakeServer answers use with USING and put with INSERTED, nothing
// else, as fast as it can: it measures the generator's own cost.
func startFakeServer(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards conns
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveFake(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func serveFake(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("put ")):
			n, _ := atoi(word(bytes.TrimRight(line, "\r\n"), 4))
			if _, err := r.Discard(int(n) + 2); err != nil {
				return
			}
			w.WriteString("INSERTED 1\r\n")
		case bytes.HasPrefix(line, []byte("use ")):
			w.WriteString("USING x\r\n")
		default:
			w.WriteString("UNKNOWN_COMMAND\r\n")
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// BenchmarkGeneratorPut measures what one put costs the generator (and the
// trivial fake server in the same process): the generator must not be the
// bottleneck of a comparison.
func BenchmarkGeneratorPut(b *testing.B) {
	for _, bc := range []struct {
		pipeline int
		loop     bool
	}{{1, false}, {64, false}, {1, true}, {64, true}} {
		if bc.loop && !loopSupported {
			continue
		}
		b.Run(fmt.Sprintf("pipeline=%d/event-loop=%v", bc.pipeline, bc.loop), func(b *testing.B) {
			addr := startFakeServer(b)
			cfg := DefaultConfig()
			cfg.Addr, cfg.Conns, cfg.Pipeline, cfg.Keep, cfg.EventLoop = addr, 1, bc.pipeline, true, bc.loop
			cfg.Duration, cfg.Count = 0, int64(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), cfg)
			if err != nil || res.Ops != int64(b.N) {
				b.Fatalf("ops %v err %v", res, err)
			}
		})
	}
}

// TestGeneratorDoesNotAllocatePerRequest counts the heap allocations of two
// runs that differ by 20,000 puts: setting up a run allocates, a request
// must not.
func TestGeneratorDoesNotAllocatePerRequest(t *testing.T) {
	for _, loop := range []bool{false, true} {
		if loop && !loopSupported {
			continue
		}
		t.Run(fmt.Sprintf("event-loop=%v", loop), func(t *testing.T) { testGeneratorAllocations(t, loop) })
	}
}

func testGeneratorAllocations(t *testing.T, loop bool) {
	addr := startFakeServer(t)
	mallocs := func(count int64) uint64 {
		cfg := DefaultConfig()
		cfg.Addr, cfg.Conns, cfg.Pipeline, cfg.Keep, cfg.EventLoop = addr, 2, 16, true, loop
		cfg.Duration, cfg.Count = 0, count
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	mallocs(100) // warm up
	small, large := mallocs(1000), mallocs(21_000)
	// Allow a little slack for the runtime's own allocations (timers,
	// netpoll), far below one per request.
	if large > small+200 {
		t.Fatalf("%d allocations for 1,000 puts, %d for 21,000: the generator allocates per request", small, large)
	}
}
