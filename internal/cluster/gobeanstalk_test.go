package cluster

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/internal/poll"
)

// TestGoBeanstalkThroughFollower drives a cluster with go-beanstalk, an
// unchanged beanstalkd client, through a follower's port: put, reserve,
// delete, bury, kick and stats reach the leader through the proxy. When
// the leader goes, the follower closes the connection (docs/cluster.md,
// What a follower answers); a new connection to the same port reaches
// the new leader, which has every acknowledged change.
func TestGoBeanstalkThroughFollower(t *testing.T) {
	nodes := startThree(t, 65535, loadedLease)
	leader, follower := nodes[0], nodes[1]
	c, err := beanstalk.DialTimeout("tcp", follower.addr, poll.Limit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	id1, err := c.Put([]byte("deleted"), 1, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if id, body, err := c.Reserve(0); err != nil || id != id1 || string(body) != "deleted" {
		t.Fatalf("reserve = %d %q %v; want %d \"deleted\"", id, body, err, id1)
	}
	if err := c.Delete(id1); err != nil {
		t.Fatal(err)
	}
	id2, err := c.Put([]byte("kicked"), 1, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := c.Reserve(0); err != nil || id != id2 {
		t.Fatalf("reserve = %d %v; want %d", id, err, id2)
	}
	if err := c.Bury(id2, 7); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Tube.Kick(10); err != nil || n != 1 {
		t.Fatalf("kick = %d %v; want 1", n, err)
	}
	id3, err := c.Put([]byte("kept"), 1, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st["cluster-role"] != "leader" || st["cluster-leader"] != "n1" || st["cluster-leader-addr"] != leader.addr || st["cluster-term"] != "1" || st["current-jobs-ready"] != "2" {
		t.Fatalf("stats through the follower: role %q leader %q at %q term %q ready %q; want the leader n1's: leader n1 at %s term 1 ready 2",
			st["cluster-role"], st["cluster-leader"], st["cluster-leader-addr"], st["cluster-term"], st["current-jobs-ready"], leader.addr)
	}
	if js, err := c.StatsJob(id2); err != nil || js["state"] != "ready" || js["kicks"] != "1" || js["buries"] != "1" {
		t.Fatalf("stats-job %d = %v %v; want ready, buried and kicked once", id2, js, err)
	}

	// The leader goes: it steps down and deletes its lease.
	leader.n.Close()
	if _, err := c.Stats(); !closedByPeer(err) {
		t.Fatalf("stats on the follower's connection after the leader went: %v; want the connection closed", err)
	}

	var c2 *beanstalk.Conn
	poll.Until(t, "a new leader answers through the follower's port", func() bool {
		if c2 != nil {
			c2.Close()
		}
		if c2, err = beanstalk.DialTimeout("tcp", follower.addr, poll.Limit); err != nil {
			c2 = nil
			return false
		}
		st, err := c2.Stats()
		return err == nil && st["cluster-term"] == "2"
	})
	defer c2.Close()
	if st, err := c2.Stats(); err != nil || st["cluster-leader"] == "n1" || st["current-jobs-ready"] != "2" {
		t.Fatalf("stats of the new leader = %v %v; want another leader with 2 ready jobs", st, err)
	}
	if _, err := c2.Peek(id1); !errors.Is(err, beanstalk.ErrNotFound) {
		t.Fatalf("peek of the deleted job %d: %v; want not found", id1, err)
	}
	for id, want := range map[uint64]string{id2: "kicked", id3: "kept"} {
		if body, err := c2.Peek(id); err != nil || string(body) != want {
			t.Fatalf("peek %d = %q %v; want %q", id, body, err, want)
		}
	}
}

// closedByPeer reports whether err says the other end closed the
// connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
