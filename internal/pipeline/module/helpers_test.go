package module

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
	"github.com/reprieve/reprieve/internal/pipeline"
)

// run builds and starts a pipeline from YAML; stop cancels it and returns
// Run's error (it is also called at cleanup).
func run(t *testing.T, src string, clk clock.Clock, setup func(p *pipeline.Pipeline)) (p *pipeline.Pipeline, stop func() error) {
	t.Helper()
	cfg, _, err := pipeline.Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err = pipeline.New(cfg, pipeline.Options{Clock: clk, DrainTimeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-errc })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return p, stop
}

func moduleStats(p *pipeline.Pipeline, name string) pipeline.ModuleStats {
	for _, m := range p.Stats() {
		if m.Module == name {
			return m
		}
	}
	return pipeline.ModuleStats{}
}

func queueStats(p *pipeline.Pipeline, module, queue string) pipeline.QueueStats {
	for _, q := range moduleStats(p, module).Queues {
		if q.Queue == queue {
			return q
		}
	}
	return pipeline.QueueStats{}
}

// lineServer is a loopback TCP server that records the "id" of each JSON
// line it reads, like 'socat tcp4-listen:PORT,fork stdout'.
type lineServer struct {
	t    *testing.T
	addr string
	port int

	mu  sync.Mutex // protects ids, ln
	ids []string
	ln  net.Listener
	wg  sync.WaitGroup
}

func newLineServer(t *testing.T) *lineServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{t: t, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port}
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *lineServer) start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

func (s *lineServer) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					var v struct{ ID string }
					if json.Unmarshal(sc.Bytes(), &v) != nil {
						v.ID = sc.Text()
					}
					s.mu.Lock()
					s.ids = append(s.ids, v.ID)
					s.mu.Unlock()
				}
			}()
		}
	}()
}

// stop closes the listener (new connections are refused) and waits for the
// open ones to be read to their end.
func (s *lineServer) stop() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	s.wg.Wait()
}

func (s *lineServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

func (s *lineServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
