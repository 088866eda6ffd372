package main

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	beanstalk "github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/servertest"
)

// kedaTubeKeys are the stats-tube keys KEDA's beanstalkd scaler decodes
// (pkg/scalers/beanstalkd_scaler.go: a weak decode of each into an int64).
var kedaTubeKeys = []string{"total-jobs", "current-jobs-ready", "current-jobs-reserved", "current-jobs-urgent", "current-jobs-buried", "current-jobs-delayed"}

// TestKEDABeanstalkdScaler speaks to Reprieve as KEDA's beanstalkd scaler
// does, with the same client library and calls: DialTimeout, then
// NewTube(conn, tube).Stats() per poll, each key read as a whole number,
// NOT_FOUND (a tube not created yet) read as zero jobs; its metric is
// ready + reserved (+ delayed with includeDelayed). The replies are those
// of a real beanstalkd for the same jobs.
func TestKEDABeanstalkdScaler(t *testing.T) {
	t.Parallel()
	want := map[string]int64{"total-jobs": 7, "current-jobs-ready": 3, "current-jobs-reserved": 1, "current-jobs-urgent": 1, "current-jobs-buried": 1, "current-jobs-delayed": 1}
	servers := map[string]string{"reprieve": servertest.Start(t, nil).Addr}
	if testing.Short() {
		t.Log("-short: against Reprieve only")
	} else {
		servers["beanstalkd"] = servertest.StartBeanstalkd(t).Addr
	}
	for name, addr := range servers {
		t.Run(name, func(t *testing.T) {
			// Jobs of tube "work": 3 ready (one urgent), 1 reserved, 1
			// delayed, 1 buried, 1 deleted.
			ctx := context.Background()
			c, err := client.Dial(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, j := range []struct {
				pri   uint32
				delay time.Duration
			}{{5, 0}, {2000, 0}, {2000, 0}, {2000, 0}, {2000, 0}, {2000, time.Hour}} {
				if _, err := c.PutIn(ctx, "work", []byte("x"), j.pri, j.delay, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			c.Watch(ctx, "work")
			for _, finish := range []func(id uint64) error{
				func(id uint64) error { return c.Delete(ctx, id) },
				func(id uint64) error { return c.Bury(ctx, id, 2000) },
				func(uint64) error { return nil }, // stays reserved
			} {
				j, err := c.ReserveWithTimeout(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := finish(j.ID); err != nil {
					t.Fatal(err)
				}
			}
			// The urgent job was reserved first and deleted: put another.
			if _, err := c.PutIn(ctx, "work", []byte("x"), 5, 0, time.Minute); err != nil {
				t.Fatal(err)
			}

			conn, err := beanstalk.DialTimeout("tcp", addr, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			raw, err := beanstalk.NewTube(conn, "work").Stats()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kedaTubeKeys {
				n, err := strconv.ParseInt(raw[k], 10, 64)
				if err != nil || n != want[k] {
					t.Errorf("%s: %q (%v); want %d", k, raw[k], err, want[k])
				}
			}
			ready, _ := strconv.ParseInt(raw["current-jobs-ready"], 10, 64)
			reserved, _ := strconv.ParseInt(raw["current-jobs-reserved"], 10, 64)
			delayed, _ := strconv.ParseInt(raw["current-jobs-delayed"], 10, 64)
			if ready+reserved != 4 || ready+reserved+delayed != 5 {
				t.Errorf("KEDA's metric: %d, with includeDelayed %d; want 4 and 5", ready+reserved, ready+reserved+delayed)
			}
			_, err = beanstalk.NewTube(conn, "not-yet").Stats()
			if !errors.Is(err, beanstalk.ErrNotFound) {
				t.Errorf("stats-tube of a missing tube: %v; KEDA reads only beanstalk.ErrNotFound as zero jobs", err)
			}
		})
	}
}
