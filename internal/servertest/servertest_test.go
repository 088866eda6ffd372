package servertest_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/broker"
	"github.com/reprieve/reprieve/internal/servertest"
)

func roundTrip(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func TestStart(t *testing.T) {
	s := servertest.Start(t, &servertest.Options{Broker: broker.Config{MaxJobSize: 3}})
	if got := roundTrip(t, s.Addr, "put 0 0 1 4\r\nabcd\r\n"); got != "JOB_TOO_BIG\r\n" {
		t.Fatalf("got %q", got)
	}
	if got := roundTrip(t, s.Addr, "put 0 0 1 3\r\nabc\r\n"); got != "INSERTED 1\r\n" {
		t.Fatalf("got %q", got)
	}
	if n := s.Broker.Stats().TotalJobs; n != 1 {
		t.Fatalf("total jobs %d", n)
	}
}

func TestStartBeanstalkd(t *testing.T) {
	b := servertest.StartBeanstalkd(t, "-z", "3")
	if got := roundTrip(t, b.Addr, "put 0 0 1 4\r\nabcd\r\n"); got != "JOB_TOO_BIG\r\n" {
		t.Fatalf("got %q", got)
	}
	if err := b.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the process is not running: %v", err)
	}
}

// TestStartDurable starts a durable server, puts a job, shuts it down and
// starts another on the same directory: the job is there.
func TestStartDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := servertest.StartDurable(t, dir, nil)
	c, err := client.Dial(ctx, srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.PutIn(ctx, "kept", []byte("hello"), 0, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	srv2 := servertest.StartDurable(t, dir, nil)
	c2, err := client.Dial(ctx, srv2.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if j, err := c2.Peek(ctx, 1); err != nil || string(j.Body) != "hello" {
		t.Fatalf("after restart: job 1 %q, %v", j.Body, err)
	}
}
