package server_test

import (
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
)

// TestPoolHandleFail: a job reserved through a Pool is failed on the
// connection that reserved it, and the Handle is finished.
func TestPoolHandleFail(t *testing.T) {
	e := startEnv(t, "tubes:\n  w:\n    retry: {jitter: 0}\n")
	p, err := client.NewPool(e.ctx, client.PoolConfig{Addrs: []string{e.srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ref, err := p.Put(e.ctx, "w", []byte("job"), 0, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.Reserve(e.ctx, 0, "w")
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != ref.ID {
		t.Fatalf("reserved %d, want %d", h.ID, ref.ID)
	}
	res, err := h.Fail(e.ctx, "boom")
	if err != nil || res.Action != client.FailRetry || res.Attempts != 1 || res.Delay != time.Minute {
		t.Fatalf("Handle.Fail = %+v, %v", res, err)
	}
	if _, err := h.Fail(e.ctx, "again"); err == nil {
		t.Fatalf("a finished Handle failed a job twice")
	}
	if s := e.statsJob(e.dial(), h.ID); stat(t, s, "failures") != "1" || stat(t, s, "state") != "delayed" {
		t.Fatalf("after Handle.Fail: %v", s)
	}
}
