package crashtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"

	"github.com/reprieve/reprieve/internal/crashcheck"
)

// TestFrozenLeaderStepsDown freezes the leader (SIGSTOP) past its lease,
// lets another node take over and delete a job, then thaws the old
// leader (SIGCONT) with a put and a reserve waiting in its sockets: it
// must answer neither, hand out no deleted job, and step down.
func TestFrozenLeaderStepsDown(t *testing.T) {
	optIn(t)
	c := newCluster(t, crashcheck.Build(t))
	for _, n := range c.nodes {
		c.start(n)
	}
	old, term := c.leader(0, 90*time.Second)
	bc, err := beanstalk.Dial("tcp", old.addr)
	if err != nil {
		t.Fatal(err)
	}
	x, err := bc.Put([]byte("x"), 1, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	bc.Close()
	// Two clients of the old leader, connected before it freezes.
	put, err := net.Dial("tcp", old.addr)
	if err != nil {
		t.Fatal(err)
	}
	reserve, err := net.Dial("tcp", old.addr)
	if err != nil {
		t.Fatal(err)
	}

	if err := old.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	var nu *node
	for nu == nil || nu == old {
		nu, term = c.leader(term, 60*time.Second)
	}
	t.Logf("%s frozen; %s leads in term %d after %v", old.name, nu.name, term, time.Since(stopped).Round(time.Millisecond))
	nc, err := beanstalk.Dial("tcp", nu.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.ReserveJob(x); err != nil {
		t.Fatalf("reserve-job %d on the new leader: %v", x, err)
	}
	if err := nc.Delete(x); err != nil {
		t.Fatalf("delete %d on the new leader: %v", x, err)
	}

	// The frozen leader's clients speak; it reads them when thawed.
	if _, err := put.Write([]byte("put 0 0 60 1\r\nz\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := reserve.Write([]byte("reserve-with-timeout 0\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := old.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for name, conn := range map[string]net.Conn{"put": put, "reserve": reserve} {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s to the thawed leader: no answer and no hang-up in 20 s", name)
		}
		if err == nil || !(errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")) {
			t.Fatalf("%s to the thawed leader answered %q (err %v); want the connection dropped", name, line, err)
		}
		conn.Close()
	}
	select {
	case <-old.proc.Done():
		old.proc = nil
	case <-time.After(20 * time.Second):
		t.Fatalf("the thawed leader %s still runs 20 s after SIGCONT", old.name)
	}
	last := old.logs[len(old.logs)-1]
	if logs, _ := os.ReadFile(last.Log); !strings.Contains(string(logs), "stepping down") {
		t.Errorf("the thawed leader's log does not say it steps down:\n%s", last.Tail(20))
	}
	// The thawed node is started again, as its supervisor would: its exit
	// can cost JetStream another election, in which the new leader's lease
	// may run out (it then steps down and exits too, and without the
	// restart one node of three would be left, no majority). The state is
	// checked on whichever node leads once the cluster is whole again,
	// through a connection that stays up.
	c.start(old)
	deadline := time.Now().Add(60 * time.Second)
	for {
		lead, _ := c.leader(term-1, time.Until(deadline))
		err := checkAfterThaw(lead.addr, x)
		if err == nil {
			break
		}
		if !isHangUp(err) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("%s hung up while checked (%v); asking the cluster who leads", lead.name, err)
	}
}

// checkAfterThaw checks, over one connection to addr, that job x is gone
// and that no job is ready: the thawed leader's put did not land.
func checkAfterThaw(addr string, x uint64) error {
	bc, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer bc.Close()
	if _, err := bc.Peek(x); !errors.Is(err, beanstalk.ErrNotFound) {
		if err == nil || isHangUp(err) {
			return fmt.Errorf("peek %d (deleted on the new leader) = %w; want NOT_FOUND", x, err)
		}
		return err
	}
	st, err := bc.Stats()
	if err != nil {
		return err
	}
	if st["current-jobs-ready"] != "0" || st["cluster-term"] == "" {
		return fmt.Errorf("the leader holds %s ready jobs (term %s); want 0: the thawed leader's put must not land", st["current-jobs-ready"], st["cluster-term"])
	}
	return nil
}

// isHangUp reports whether err is the server closing the connection.
func isHangUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}
