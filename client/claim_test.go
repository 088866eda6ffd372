package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/servertest"
)

func TestParseClaimed(t *testing.T) {
	cases := []struct {
		line string
		job  Job
		info JobInfo
		ok   bool
	}{
		{"CLAIMED 7 mail 10 60 0 0 5", Job{ID: 7}, JobInfo{Tube: "mail", Priority: 10, TTR: time.Minute}, true},
		{"CLAIMED 7 mail 4294967295 1 3 1 5", Job{ID: 7}, JobInfo{Tube: "mail", Priority: 1<<32 - 1, TTR: time.Second, Failures: 3, History: true}, true},
		// A word a later server adds before the byte count is skipped.
		{"CLAIMED 7 mail 10 60 0 1 later 5", Job{ID: 7}, JobInfo{Tube: "mail", Priority: 10, TTR: time.Minute, History: true}, true},
		{"CLAIMED 7 mail 10 60 0 2 5", Job{}, JobInfo{}, false},
		{"CLAIMED 7 mail 4294967296 60 0 0 5", Job{}, JobInfo{}, false},
		{"CLAIMED 7 mail 10 60 x 0 5", Job{}, JobInfo{}, false},
		{"CLAIMED 7 mail 10 60 0 5", Job{}, JobInfo{}, false},
		{"RESERVED 7 5", Job{}, JobInfo{}, false},
	}
	for _, tc := range cases {
		w := strings.Fields(tc.line)
		j, info, ok := parseClaimed(Reply{Line: tc.line, Code: w[0], Args: w[1:]})
		if ok != tc.ok || j.ID != tc.job.ID || info != tc.info {
			t.Errorf("parseClaimed(%q) = %+v, %+v, %v; want %+v, %+v, %v", tc.line, j, info, ok, tc.job, tc.info, tc.ok)
		}
	}
}

// TestConnClaim claims on Reprieve (the job and what it says of it, the
// history of a failed and revived job, TIMED_OUT) and on a real beanstalkd, which
// answers UNKNOWN_COMMAND, reserves nothing and keeps the Conn usable.
func TestConnClaim(t *testing.T) {
	ctx := context.Background()
	t.Run("reprieve", func(t *testing.T) {
		t.Parallel()
		c := dialConn(t, servertest.Start(t, nil).Addr)
		id, err := c.PutIn(ctx, "mail", []byte("hello"), 10, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Watch(ctx, "mail"); err != nil {
			t.Fatal(err)
		}
		j, info, err := c.Claim(ctx, 0)
		if err != nil || j.ID != id || string(j.Body) != "hello" || info != (JobInfo{Tube: "mail", Priority: 10, TTR: time.Minute}) {
			t.Fatalf("Claim = %+v, %+v, %v", j, info, err)
		}
		if _, err := c.Fail(ctx, id, "boom"); err != nil { // no policy: buried
			t.Fatal(err)
		}
		if err := c.KickJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		// The kick of a given-up job starts a new series: no failure
		// counted, but a history to read.
		j, info, err = c.Claim(ctx, time.Second)
		if err != nil || j.ID != id || info.Failures != 0 || !info.History {
			t.Fatalf("Claim after a failure and a kick = %+v, %+v, %v; want no failure counted and a history", j, info, err)
		}
		st, err := c.StatsJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if h := st.History(); h.Attempts != info.Failures || h.LastError != "boom" || h.Revivals != 1 {
			t.Fatalf("stats-job's history %+v; want what claim said, and the error", h)
		}
		if _, _, err := c.Claim(ctx, 0); !errors.Is(err, ErrTimedOut) {
			t.Fatalf("Claim with nothing ready = %v, want ErrTimedOut", err)
		}
	})
	t.Run("beanstalkd", func(t *testing.T) {
		t.Parallel()
		c := dialConn(t, servertest.StartBeanstalkd(t).Addr)
		id, err := c.Put(ctx, []byte("hello"), 10, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Claim(ctx, 0); !errors.Is(err, ErrUnknownCommand) {
			t.Fatalf("Claim on beanstalkd = %v, want ErrUnknownCommand", err)
		}
		j, err := c.ReserveWithTimeout(ctx, 0)
		if err != nil || j.ID != id {
			t.Fatalf("reserve after claim's UNKNOWN_COMMAND = %+v, %v; want job %d", j, err, id)
		}
	})
}

// TestPoolClaims reserves through a Pool: on Reprieve every reserve is a
// claim and the Handle carries its JobInfo (and its TTR, so the pool asks
// no stats-job); on beanstalkd the pool falls back to reserve-with-timeout
// on the connection after one UNKNOWN_COMMAND, and Info says so.
func TestPoolClaims(t *testing.T) { eachKind(t, 1, testPoolClaims) }

func testPoolClaims(t *testing.T, addrs []string) {
	ctx := context.Background()
	p := newPool(t, PoolConfig{Addrs: addrs, MaxIdleReservers: 1})
	st, err := p.servers[0].conn.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, reprieve := st["total-failures"] // beanstalkd lacks the key
	for i := range 3 {
		if _, err := p.Put(ctx, "mail", []byte{'a' + byte(i)}, 7, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		h, err := p.Reserve(ctx, 0, "mail")
		if err != nil {
			t.Fatal(err)
		}
		info, claimed := h.Info()
		if claimed != reprieve {
			t.Fatalf("Info claimed %v on %s", claimed, addrs[0])
		}
		if want := (JobInfo{Tube: "mail", Priority: 7, TTR: time.Minute}); claimed && info != want {
			t.Fatalf("Info = %+v, want %+v", info, want)
		}
		if !claimed && info != (JobInfo{}) {
			t.Fatalf("Info = %+v without a claim", info)
		}
		if err := h.Delete(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if reprieve {
		if n := serverStat(t, addrs[0], "cmd-claim"); n != 3 {
			t.Errorf("cmd-claim %d, want 3", n)
		}
		if n := serverStat(t, addrs[0], "cmd-stats-job"); n != 0 {
			t.Errorf("cmd-stats-job %d, want 0: the TTR came with the claim", n)
		}
	} else {
		// One connection reserved all three: it asked claim once.
		s := p.servers[0]
		s.mu.Lock()
		idle := append([]*reserver(nil), s.idle...)
		s.mu.Unlock()
		if len(idle) != 1 || !idle[0].noClaim {
			t.Errorf("idle reservers %+v, want one that no longer claims", idle)
		}
		if n := serverStat(t, addrs[0], "cmd-reserve-with-timeout"); n != 3 {
			t.Errorf("cmd-reserve-with-timeout %d, want 3", n)
		}
	}
}

// dialConn returns a Conn to addr closed at the end of the test.
func dialConn(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
