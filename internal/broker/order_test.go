package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

func TestReserveOrder(t *testing.T) {
	type put struct {
		tube string
		pri  uint32
	}
	tests := []struct {
		name  string
		puts  []put
		watch []string
		want  []job.ID
	}{
		{"priority first", []put{{"default", 10}, {"default", 5}, {"default", 7}}, nil, []job.ID{2, 3, 1}},
		{"fifo among equal priorities", []put{{"default", 1}, {"default", 1}, {"default", 1}}, nil, []job.ID{1, 2, 3}},
		{"zero is most urgent, max least", []put{{"default", 4294967295}, {"default", 0}}, nil, []job.ID{2, 1}},
		{"across watched tubes by priority then id", []put{{"a", 5}, {"b", 5}, {"a", 9}, {"b", 1}}, []string{"a", "b"}, []job.ID{4, 1, 2, 3}},
		{"unwatched tubes ignored", []put{{"a", 1}, {"default", 9}}, nil, []job.ID{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newTest(t, nil)
			p := open(t, b)
			for _, x := range tc.puts {
				p.Use(x.tube)
				mustPut(t, p, x.pri, 0, time.Minute, "x")
			}
			w := open(t, b)
			for _, name := range tc.watch {
				w.Watch(name)
			}
			for _, id := range tc.want {
				mustReserve(t, w, id)
			}
			if _, err := reserveNow(t, w); !errors.Is(err, ErrTimedOut) {
				t.Fatalf("reserve after all: %v, want ErrTimedOut", err)
			}
		})
	}
}

func TestPutTTRZeroRaisedToOneSecond(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, 0, "x")
	js, err := b.StatsJob(id)
	if err != nil || js.TTR != time.Second {
		t.Fatalf("stats-job ttr = %v (%v), want 1s", js.TTR, err)
	}
}

func TestDelay(t *testing.T) {
	b, clk := newTest(t, nil)
	s := open(t, b)
	late := mustPut(t, s, 0, 10*time.Second, time.Minute, "late")
	early := mustPut(t, s, 100, 5*time.Second, time.Minute, "early")
	if _, err := reserveNow(t, s); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("reserve before delay: %v", err)
	}
	if p, err := b.PeekDelayed("default"); err != nil || p.ID != early {
		t.Fatalf("peek-delayed = %v %v, want %d", p.ID, err, early)
	}
	js, _ := b.StatsJob(late)
	if js.State != job.Delayed || js.TimeLeft != 10*time.Second || js.Delay != 10*time.Second {
		t.Fatalf("stats-job = %+v", js)
	}
	clk.Advance(5*time.Second - 1)
	if st := b.Stats(); st.CurrentJobsDelayed != 2 || st.CurrentJobsReady != 0 {
		t.Fatalf("before 5s: %+v", st)
	}
	clk.Advance(1)
	if st := b.Stats(); st.CurrentJobsDelayed != 1 || st.CurrentJobsReady != 1 {
		t.Fatalf("at 5s: %+v", st)
	}
	clk.Advance(5 * time.Second)
	// Both ready now: priority decides, not the order they became ready.
	mustReserve(t, s, late)
	mustReserve(t, s, early)
}

func TestTTRExpiry(t *testing.T) {
	b, clk := newTest(t, nil)
	p := open(t, b)
	w := open(t, b)
	id := mustPut(t, p, 0, 0, 3*time.Second, "x")
	mustReserve(t, w, id)
	js, _ := b.StatsJob(id)
	if js.State != job.Reserved || js.TimeLeft != 3*time.Second {
		t.Fatalf("reserved stats = %+v", js)
	}
	clk.Advance(3*time.Second - 1)
	if js, _ := b.StatsJob(id); js.State != job.Reserved {
		t.Fatalf("state before TTR = %v", js.State)
	}
	clk.Advance(1)
	js, _ = b.StatsJob(id)
	if js.State != job.Ready || js.Timeouts != 1 || js.Reserves != 1 {
		t.Fatalf("after TTR: %+v", js)
	}
	if st := b.Stats(); st.JobTimeouts != 1 || st.CurrentJobsReserved != 0 || st.CurrentJobsReady != 1 {
		t.Fatalf("stats after TTR: %+v", st)
	}
	if err := w.Delete(id); err != nil { // a ready job: anyone may delete it
		t.Fatal(err)
	}
	if _, err := b.StatsJob(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted job still there: %v", err)
	}
}

func TestTouchRenewsTTR(t *testing.T) {
	b, clk := newTest(t, nil)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, 10*time.Second, "x")
	mustReserve(t, s, id)
	clk.Advance(8 * time.Second)
	if err := s.Touch(id); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	if js, _ := b.StatsJob(id); js.State != job.Reserved || js.TimeLeft != time.Second {
		t.Fatalf("after touch: %+v", js)
	}
	other := open(t, b)
	if err := other.Touch(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("touch by another session: %v", err)
	}
	clk.Advance(time.Second)
	if js, _ := b.StatsJob(id); js.State != job.Ready {
		t.Fatalf("after renewed TTR: %v", js.State)
	}
}

func TestOwnership(t *testing.T) {
	b, _ := newTest(t, nil)
	a := open(t, b)
	o := open(t, b)
	id := mustPut(t, a, 0, 0, time.Minute, "x")
	mustReserve(t, a, id)
	for name, err := range map[string]error{
		"delete":  o.Delete(id),
		"release": o.Release(id, 0, 0),
		"bury":    o.Bury(id, 0),
		"touch":   o.Touch(id),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s by another session: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := o.ReserveJob(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("reserve-job of a reserved job: %v", err)
	}
	if err := a.Release(id, 7, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(id, 7, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("release of a ready job: %v", err)
	}
	js, _ := b.StatsJob(id)
	if js.Priority != 7 || js.Releases != 1 || js.State != job.Ready {
		t.Fatalf("after release: %+v", js)
	}
}

func TestReleaseWithDelay(t *testing.T) {
	b, clk := newTest(t, nil)
	s := open(t, b)
	id := mustPut(t, s, 0, 0, time.Minute, "x")
	mustReserve(t, s, id)
	if err := s.Release(id, 3, 4*time.Second); err != nil {
		t.Fatal(err)
	}
	js, _ := b.StatsJob(id)
	if js.State != job.Delayed || js.Delay != 4*time.Second || js.TimeLeft != 4*time.Second {
		t.Fatalf("after release with delay: %+v", js)
	}
	clk.Advance(4 * time.Second)
	mustReserve(t, s, id)
}

func TestDeleteStates(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	ready := mustPut(t, s, 0, 0, time.Minute, "r")
	delayed := mustPut(t, s, 0, time.Hour, time.Minute, "d")
	buried := mustPut(t, s, 0, 0, time.Minute, "b")
	mustReserve(t, s, ready)
	mustReserve(t, s, buried)
	if err := s.Bury(buried, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ready, 0, 0); err != nil {
		t.Fatal(err)
	}
	o := open(t, b)
	for _, id := range []job.ID{ready, delayed, buried} {
		if err := o.Delete(id); err != nil {
			t.Fatalf("delete %d: %v", id, err)
		}
		if err := o.Delete(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete %d: %v", id, err)
		}
	}
	st := b.Stats()
	if st.CurrentJobsReady+st.CurrentJobsDelayed+st.CurrentJobsBuried+st.CurrentJobsReserved != 0 {
		t.Fatalf("jobs left: %+v", st)
	}
	ts, _ := b.StatsTube("default")
	if ts.CmdDelete != 3 || ts.TotalJobs != 3 {
		t.Fatalf("tube stats: %+v", ts)
	}
}

func TestKick(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	d1 := mustPut(t, s, 0, time.Hour, time.Minute, "d1")
	d2 := mustPut(t, s, 0, time.Minute, time.Minute, "d2")
	var buried []job.ID
	for range 3 {
		id := mustPut(t, s, 0, 0, time.Minute, "b")
		mustReserve(t, s, id)
		buried = append(buried, id)
	}
	// bury in reverse order: kick revives the longest buried first
	for i := len(buried) - 1; i >= 0; i-- {
		if err := s.Bury(buried[i], 0); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := b.PeekBuried("default"); p.ID != buried[2] {
		t.Fatalf("peek-buried = %d, want %d", p.ID, buried[2])
	}
	if n := s.Kick(2); n != 2 {
		t.Fatalf("kick 2 = %d", n)
	}
	// buried first: the delayed jobs stay while one is still buried
	if n := s.Kick(10); n != 1 {
		t.Fatalf("kick rest of buried = %d", n)
	}
	if n := s.Kick(1); n != 1 {
		t.Fatalf("kick delayed = %d", n)
	}
	if js, _ := b.StatsJob(d2); js.State != job.Ready || js.Kicks != 1 {
		t.Fatalf("soonest delayed not kicked first: %+v", js)
	}
	if js, _ := b.StatsJob(d1); js.State != job.Delayed {
		t.Fatalf("d1 state = %v", js.State)
	}
	if n := s.Kick(0); n != 0 {
		t.Fatalf("kick 0 = %d", n)
	}
	// kick works on the used tube only
	s.Use("other")
	if n := s.Kick(5); n != 0 {
		t.Fatalf("kick in empty tube = %d", n)
	}
	for i, id := range []job.ID{buried[2], buried[1], buried[0]} {
		if js, _ := b.StatsJob(id); js.State != job.Ready || js.Kicks != 1 || js.Buries != 1 {
			t.Fatalf("buried %d: %+v", i, js)
		}
	}
}

func TestKickJob(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	ready := mustPut(t, s, 0, 0, time.Minute, "r")
	delayed := mustPut(t, s, 0, time.Hour, time.Minute, "d")
	if err := b.KickJob(ready); !errors.Is(err, ErrNotFound) {
		t.Fatalf("kick-job ready: %v", err)
	}
	if err := b.KickJob(99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("kick-job missing: %v", err)
	}
	if err := b.KickJob(delayed); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, s, ready)
	if err := b.KickJob(ready); !errors.Is(err, ErrNotFound) {
		t.Fatalf("kick-job reserved: %v", err)
	}
	if err := s.Bury(ready, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.KickJob(ready); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.CurrentJobsReady != 2 || st.CurrentJobsBuried != 0 || st.CurrentJobsDelayed != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestReserveJob(t *testing.T) {
	b, clk := newTest(t, nil)
	p := open(t, b)
	p.Use("t")
	ready := mustPut(t, p, 0, 0, 5*time.Second, "r")
	delayed := mustPut(t, p, 0, time.Hour, 5*time.Second, "d")
	if err := b.PauseTube("t", time.Hour); err != nil {
		t.Fatal(err)
	}
	w := open(t, b) // watches only default, and "t" is paused: reserve-job ignores both
	for _, id := range []job.ID{ready, delayed} {
		r, err := w.ReserveJob(id)
		if err != nil || r.ID != id || string(r.Body) == "" {
			t.Fatalf("reserve-job %d = %+v %v", id, r, err)
		}
	}
	if _, err := w.ReserveJob(ready); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reserve-job twice: %v", err)
	}
	if _, err := w.ReserveJob(1000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reserve-job missing: %v", err)
	}
	if st := b.Stats(); st.CurrentJobsReserved != 2 || st.CurrentWorkers != 1 {
		t.Fatalf("stats: %+v", st)
	}
	clk.Advance(5 * time.Second)
	if js, _ := b.StatsJob(delayed); js.State != job.Ready || js.Timeouts != 1 {
		t.Fatalf("reserve-job'd delayed job after TTR: %+v", js)
	}
}
