package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/servertest"
)

// TestSeveralServersOneKilled runs the reprieve binary's commands over
// several servers against two live ones and a `reprieve serve` process
// killed with SIGKILL: each command prints the live servers, names the dead
// one on standard error and exits with status 3; with every server dead the
// status is 1.
func TestSeveralServersOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprieve binary")
	}
	t.Parallel()
	bin := buildReprieve(t)
	a, b := servertest.Start(t, nil).Addr, servertest.Start(t, nil).Addr
	dead := startReprieve(t, bin, freePort(t), "--no-log")
	ctx := context.Background()
	for _, addr := range []string{a, b} {
		c, err := client.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Use(ctx, "mail")
		id, _ := c.Put(ctx, []byte("x"), 5, 0, time.Minute)
		c.Watch(ctx, "mail")
		c.ReserveJob(ctx, id)
		if err := c.Bury(ctx, id, 5); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	dead.kill(t)
	addrs := a + "," + dead.addr + "," + b
	failure := "1 of 3 servers failed (the output shows the others): cannot connect to " + dead.addr + ": connect: connection refused"

	for _, tt := range []struct {
		args []string
		want []string // lines or blocks the output holds, in order
	}{
		{[]string{"stats"}, []string{"== " + a + " ==\n", "== " + b + " ==\n"}},
		{[]string{"stats-tube", "mail"}, []string{"== " + a + " ==\nname: mail\n", "== " + b + " ==\nname: mail\n"}},
		{[]string{"tubes", "--names"}, []string{"== " + a + " ==\ndefault\nmail\n\n== " + b + " ==\ndefault\nmail\n"}},
		{[]string{"buried", "mail"}, []string{"== " + a + " ==\nID  PRI  SIZE  FAILURES  GAVE UP  FROM  LAST ERROR\n1   5    1     0         -        -     \n== " + b + " ==\nID  PRI  SIZE  FAILURES  GAVE UP  FROM  LAST ERROR\n1   5    1     0         -        -     \n"}},
		{[]string{"jobs", "--state", "buried", "--json", "mail"}, []string{`"addr":"` + a + `"`, `"addr":"` + b + `"`}},
		{[]string{"kick", "--tube", "mail"}, []string{"kicked 1 job in tube mail on " + a + "\nkicked 1 job in tube mail on " + b + "\n"}},
	} {
		out, stderr, code := runBin(t, bin, append(tt.args, "--addr", addrs)...)
		if code != exitPartial || stderr != "reprieve "+tt.args[0]+": "+failure+"\n" {
			t.Errorf("%v: exit status %d, stderr %q; want %d and %q", tt.args, code, stderr, exitPartial, failure)
		}
		rest := out
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%v printed\n%s\nwhich lacks (in order)\n%s", tt.args, out, w)
				break
			}
			rest = rest[i+len(w):]
		}
		if strings.Contains(out, dead.addr) {
			t.Errorf("%v printed the dead server:\n%s", tt.args, out)
		}
	}

	_, stderr, code := runBin(t, bin, "stats", "--addr", dead.addr+",127.0.0.1:1")
	want := "reprieve stats: cannot connect to " + dead.addr + ": connect: connection refused\ncannot connect to 127.0.0.1:1: connect: connection refused\n"
	if code != 1 || stderr != want {
		t.Errorf("stats with every server dead: status %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// runBin runs the binary and returns its output, its standard error and its
// exit status.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.ExitCode()
	}
	t.Fatalf("%v: %v", args, err)
	return "", "", 0
}

// TestPutLinesStreams feeds put --lines a pipe that stays open: each line
// is a job on the server before the next is written.
func TestPutLinesStreams(t *testing.T) {
	t.Parallel()
	addr := servertest.Start(t, nil).Addr
	r, w := io.Pipe()
	c := &cli{ctx: context.Background(), in: r, out: io.Discard, getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() { done <- c.put([]string{"--addr", addr, "--lines", "--tube", "log"}) }()
	conn, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 1; i <= 3; i++ {
		if _, err := fmt.Fprintf(w, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, err := conn.StatsTube(context.Background(), "log")
			if n, _ := s.Int("current-jobs-ready"); err == nil && n == int64(i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("line %d written and still not a job after 20s (stats-tube log: %v, %v)", i, s, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	conn.Use(context.Background(), "log")
	for i := 1; i <= 3; i++ {
		j, err := conn.Peek(context.Background(), uint64(i))
		if want := fmt.Sprintf("line %d", i); err != nil || string(j.Body) != want {
			t.Errorf("job %d = %q, %v; want %q", i, j.Body, err, want)
		}
	}
}
