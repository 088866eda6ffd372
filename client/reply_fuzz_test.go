package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
)

// FuzzReadReply feeds arbitrary bytes as a server's answer to one request:
// the Conn returns a reply or an error, and never panics or hangs.
func FuzzReadReply(f *testing.F) {
	for _, seed := range []string{
		"INSERTED 1\r\n",
		"RESERVED 5 3\r\nabc\r\n",
		"FOUND 1 0\r\n\r\n",
		"OK 12\r\n---\n- default\n\r\n",
		"RESERVED 5 3\r\nabcd\r\n",
		"OK -1\r\n",
		"OK 99999999999999999999\r\n",
		"NOT_FOUND\n",
		"\r\n",
		"RESERVED\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		client, server := net.Pipe()
		c := NewConn(client, "fuzz")
		var wg sync.WaitGroup
		wg.Go(func() {
			buf := make([]byte, 64)
			server.Read(buf) // the request
			server.Write(answer)
			server.Close()
		})
		r, err := c.Do(context.Background(), Request{Line: "peek 1"})
		c.Close()
		wg.Wait()
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("Do = %v; want a reply or ErrClosed", err)
		}
		if err == nil && r.Code == "" {
			t.Fatalf("Do = %+v with an empty code", r)
		}
	})
}

func TestReadBlock(t *testing.T) {
	big := make([]byte, 3<<20+7)
	for i := range big {
		big[i] = byte(i)
	}
	for _, tc := range []struct {
		have, want int
		ok         bool
	}{
		{10, 10, true}, {10, 11, false}, {len(big), len(big), true}, {len(big) - 1, len(big), false}, {len(big), 2 << 20, true},
	} {
		got, err := readBlock(bytes.NewReader(big[:tc.have]), tc.want)
		if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(got, big[:tc.want])) {
			t.Errorf("readBlock(%d bytes available, %d wanted) = %d bytes, %v; want ok=%v", tc.have, tc.want, len(got), err, tc.ok)
		}
	}
}
