package bench

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// The event loop does what the goroutines do: the same exact counts, the
// same state left on the server.
func TestEventLoopPutCountIsExact(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, Put, 1001)
	cfg.Keep, cfg.EventLoop = true, true
	res := runOK(t, cfg)
	if res.Ops != 1001 || res.Latency[0].Name != "put" || res.Latency[0].Count != 1001 {
		t.Fatalf("ops %d, latency %+v; want 1001 puts", res.Ops, res.Latency)
	}
	wantStats(t, addr, "stats", map[string]string{"cmd-put": "1001", "current-jobs-ready": "1001", "cmd-delete": "0"})
}

func TestEventLoopReserveDeleteEmptiesItsTube(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, ReserveDelete, 777)
	cfg.EventLoop = true
	cfg.Size = 4000 // replies larger than one read of a small socket buffer
	res := runOK(t, cfg)
	if res.Ops != 777 || res.Latency[0].Name != "reserve-delete" || res.Latency[0].Count != 777 {
		t.Fatalf("ops %d latency %+v, want 777 pairs", res.Ops, res.Latency)
	}
	wantStats(t, addr, "stats", map[string]string{
		"cmd-put": "777", "cmd-delete": "777", "current-jobs-ready": "0",
	})
}

func TestEventLoopPutForADuration(t *testing.T) {
	t.Parallel()
	addr := startBeanstalkd(t)
	cfg := testConfig(addr, Put, 0)
	cfg.Duration, cfg.EventLoop, cfg.Pipeline = 200*time.Millisecond, true, 1
	res := runOK(t, cfg)
	if res.Ops == 0 || int64(res.Latency[0].Count) != res.Ops {
		t.Fatalf("ops %d, latency %+v", res.Ops, res.Latency)
	}
	// Every put was answered before Run returned, and then deleted.
	wantStats(t, addr, "stats", map[string]string{"current-jobs-ready": "0"})
}

// A server that answers nonsense fails the run with ErrProtocol, and one
// that hangs up fails it too: the loop does not wait for replies that
// cannot come.
func TestEventLoopFailsOnABadOrLostServer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		reply func(line string) (string, bool) // reply, hang up
		want  error
	}{
		{"a reply line without end", func(string) (string, bool) { return strings.Repeat("x", connBufSize), false }, ErrProtocol},
		{"a hang-up", func(line string) (string, bool) { return "", strings.HasPrefix(line, "put") }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, tt.reply)
			cfg := testConfig(addr, Put, 10)
			cfg.EventLoop, cfg.Keep = true, true
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Run(ctx, cfg)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || ctx.Err() != nil {
				t.Fatalf("Run = %v, want a failure (%v) before the deadline", err, tt.want)
			}
		})
	}
}

// fakeServer answers "use" with USING and every other line as reply says.
func fakeServer(t *testing.T, reply func(line string) (string, bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(line, "use ") {
						_, _ = c.Write([]byte("USING x\r\n"))
						continue
					}
					if strings.HasPrefix(line, "put ") {
						if _, err := r.ReadString('\n'); err != nil { // the body
							return
						}
					}
					out, hangUp := reply(line)
					if hangUp {
						return
					}
					if _, err := c.Write([]byte(out)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
