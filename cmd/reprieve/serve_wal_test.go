package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testServeIDsAcrossRestarts: with a data directory, the first job of a new
// log gets id 1, and after a SIGKILL and a restart the next put gets the
// id high-water mark the log kept (16384 ahead of the first put, see
// docs/wal.md): ids are never reused, even after a torn tail.
func testServeIDsAcrossRestarts(t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "data")
	put := func(p *reprieveProc, want string) {
		t.Helper()
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, "put 0 0 60 2\r\nhi\r\n"); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("put: got %q, %v; want %q\n%s", got, err, want, p.output())
		}
	}
	p := startReprieve(t, bin, freePort(t), "--data", dir, "--fsync", "always")
	put(p, "INSERTED 1\r\n")
	put(p, "INSERTED 2\r\n")
	p.kill(t)
	p = startReprieve(t, bin, freePort(t), "--data", dir, "--fsync", "always")
	put(p, "INSERTED 16385\r\n")
}

// testRepair: a bit flip in the middle of the hot log stops `serve`;
// `repair --dry-run` names the job whose record it would drop and where
// the original would be kept, changing nothing; `repair` keeps it there
// and the server starts again without that job.
func testRepair(t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "data")
	p := startReprieve(t, bin, freePort(t), "--data", dir, "--fsync", "always")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for _, body := range []string{"first-job-body", "second-job-body", "third-job-body"} {
		fmt.Fprintf(c, "put 0 0 60 %d\r\n%s\r\n", len(body), body)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INSERTED") {
			t.Fatalf("put: %q, %v", line, err)
		}
	}
	c.Close()
	p.kill(t)
	seg := filepath.Join(dir, "hot", "0000000000000001.wal")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte("first-job-body"))
	if at < 0 {
		t.Fatal("job 1's body is not in the first segment")
	}
	b[at+3] ^= 0x20
	os.WriteFile(seg, b, 0o644)

	out, err := exec.Command(bin, "repair", "--data", dir, "--dry-run").CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "dropped records of job(s) 1\n") || !strings.Contains(text, "originals would be kept in "+filepath.Join(dir, "repair-")) || !strings.Contains(text, "dry run: nothing changed") {
		t.Fatalf("repair --dry-run: %v\n%s", err, text)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, b) {
		t.Fatal("repair --dry-run changed the segment")
	}
	out, err = exec.Command(bin, "repair", "--data", dir).CombinedOutput()
	if text := string(out); err != nil || !strings.Contains(text, "dropped records of job(s) 1\n") || !strings.Contains(text, "originals kept in "+filepath.Join(dir, "repair-")) {
		t.Fatalf("repair: %v\n%s", err, text)
	}
	p = startReprieve(t, bin, freePort(t), "--data", dir)
	c, err = net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r = bufio.NewReader(c)
	for id, want := range map[int]string{1: "NOT_FOUND\r\n", 2: "FOUND 2 15\r\n"} {
		fmt.Fprintf(c, "peek %d\r\n", id)
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("peek %d after repair: %q, %v; want %q", id, line, err, want)
		}
		if id == 2 {
			r.ReadString('\n')
		}
	}
}
