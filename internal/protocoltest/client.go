package protocoltest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replyTimeout bounds every wait for a reply, so that a missing reply
// fails the case instead of hanging it. It is far above any duration the
// cases use.
const replyTimeout = 10 * time.Second

// Client is a raw protocol connection.
type Client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

// Dial connects to addr; t.Cleanup closes the connection.
func Dial(t *testing.T, addr string) *Client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// Send writes raw bytes.
func (c *Client) Send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// Reply reads one reply: its line and, for RESERVED, FOUND, OK and
// Reprieve's CLAIMED, the data and its "\r\n".
func (c *Client) Reply() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(replyTimeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (got %q)", err, line)
	}
	for !strings.HasSuffix(line, "\r\n") {
		more, err := c.r.ReadString('\n')
		line += more
		if err != nil {
			c.t.Fatalf("read reply: %v (got %q)", err, line)
		}
	}
	f := strings.Fields(line)
	if len(f) >= 2 && (f[0] == "RESERVED" || f[0] == "FOUND" || f[0] == "OK" || f[0] == "CLAIMED") {
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			c.t.Fatalf("bad size in %q", line)
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, data); err != nil {
			c.t.Fatalf("read data of %q: %v", line, err)
		}
		line += string(data)
	}
	return line
}

// Expect sends send and checks that the next reply is want.
func (c *Client) Expect(send, want string) {
	c.t.Helper()
	c.Send(send)
	if got := c.Reply(); got != want {
		c.t.Fatalf("sent %q: got %q, want %q", trim(send), got, want)
	}
}

// ExpectReplies checks the next replies.
func (c *Client) ExpectReplies(want ...string) {
	c.t.Helper()
	for i, w := range want {
		if got := c.Reply(); got != w {
			c.t.Fatalf("reply %d: got %q, want %q", i+1, got, w)
		}
	}
}

// ExpectClosed checks that the server closes the connection without
// sending anything more.
func (c *Client) ExpectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(replyTimeout))
	b, err := c.r.ReadByte()
	if err == nil {
		c.t.Fatalf("connection not closed: got byte %q", b)
	}
	if err != io.EOF && !isReset(err) {
		c.t.Fatalf("connection not closed: %v", err)
	}
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// Put puts body with the given fields and returns the new id.
func (c *Client) Put(pri, delay, ttr int, body string) uint64 {
	c.t.Helper()
	c.Send(fmt.Sprintf("put %d %d %d %d\r\n%s\r\n", pri, delay, ttr, len(body), body))
	got := c.Reply()
	var id uint64
	if _, err := fmt.Sscanf(got, "INSERTED %d\r\n", &id); err != nil {
		c.t.Fatalf("put: got %q", got)
	}
	return id
}

// Stats sends cmd (stats, stats-job N, stats-tube T) and returns the keys
// in order and the values by key.
func (c *Client) Stats(cmd string) ([]string, map[string]string) {
	c.t.Helper()
	c.Send(cmd + "\r\n")
	got := c.Reply()
	if !strings.HasPrefix(got, "OK ") {
		c.t.Fatalf("%s: got %q", cmd, got)
	}
	body := got[strings.Index(got, "\r\n")+2 : len(got)-2]
	if !strings.HasPrefix(body, "---\n") || !strings.HasSuffix(body, "\n") {
		c.t.Fatalf("%s: not beanstalkd's YAML: %q", cmd, body)
	}
	var keys []string
	vals := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(body[4:], "\n"), "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			c.t.Fatalf("%s: bad line %q", cmd, l)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

// Stat returns one value of the reply to cmd.
func (c *Client) Stat(cmd, key string) string {
	c.t.Helper()
	_, v := c.Stats(cmd)
	val, ok := v[key]
	if !ok {
		c.t.Fatalf("%s has no key %q", cmd, key)
	}
	return val
}

// WaitStat polls cmd until key has value want: it synchronizes cases with
// the server (a client is blocked in reserve, a signal was handled). It
// fails after replyTimeout.
func (c *Client) WaitStat(cmd, key, want string) {
	c.t.Helper()
	deadline := time.Now().Add(replyTimeout)
	for {
		got := c.Stat(cmd, key)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %s stayed %q, want %q", cmd, key, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CloseWrite half-closes the connection.
func (c *Client) CloseWrite() {
	c.t.Helper()
	if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
		c.t.Fatalf("close write: %v", err)
	}
}

// Close closes the connection.
func (c *Client) Close() { c.nc.Close() }

func trim(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
