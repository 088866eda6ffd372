package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
	jobport "github.com/reprieve/reprieve/internal/server"
)

// nodeServer is a node serving beanstalkd clients on ln: a proxy while it
// follows, the engine and the job port once it leads, as reprieve serve
// runs it.
type nodeServer struct {
	n    *Node
	addr string
	srv  atomic.Pointer[jobport.Server]
	lead atomic.Pointer[Leader]
	done chan struct{} // closed when the node's run ends
}

// listenAll listens on a loopback port for each of cfgs and makes it the
// configuration's Advertise, so that no other socket can take the port
// while the nodes open (seconds, as JetStream starts).
func listenAll(t testing.TB, cfgs []Config) []net.Listener {
	t.Helper()
	var lns []net.Listener
	for i := range cfgs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		cfgs[i].Advertise = ln.Addr().String()
		lns = append(lns, ln)
	}
	return lns
}

// serveNode runs n on ln, from listenAll, until the test ends.
func serveNode(t testing.TB, n *Node, ln net.Listener, maxJobSize int) *nodeServer {
	t.Helper()
	ns := &nodeServer{n: n, addr: ln.Addr().String(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(ns.done)
		defer ln.Close()
		l, err := n.AwaitLeadership(ctx, ln)
		if err != nil {
			return
		}
		ns.lead.Store(l)
		jobs, next := l.Restored()
		b := broker.New(broker.Config{MaxJobSize: maxJobSize, Journal: n.Journal(), Logger: testLogger()})
		defer b.Close()
		b.Restore(jobs, next)
		srv, err := jobport.New(jobport.Config{Broker: b, MaxJobSize: maxJobSize, Logger: testLogger(),
			ExtraStats: func() []beanstalk.KeyValue {
				var kv []beanstalk.KeyValue
				for _, k := range l.Stats().StatsKeys() {
					kv = append(kv, beanstalk.KeyValue{Key: k[0], Value: k[1]})
				}
				return kv
			}})
		if err != nil {
			t.Errorf("server: %v", err)
			return
		}
		ns.srv.Store(srv)
		go func() {
			select {
			case <-l.Done():
			case <-ctx.Done():
			}
			srv.Close()
		}()
		_ = srv.Serve(l.Guard(ln))
	}()
	t.Cleanup(func() {
		cancel()
		if s := ns.srv.Load(); s != nil {
			s.Close()
		}
		n.Close()
		<-ns.done
	})
	return ns
}

// natsCluster is a 3-server NATS cluster with JetStream on loopback, as
// an operator's external NATS would be; clients reach it by URL.
type natsCluster struct {
	servers []*server.Server
	url     string
}

var (
	sharedOnce sync.Once
	shared     *natsCluster
	sharedErr  error
)

// sharedNATS starts one NATS cluster for the package's tests (each test
// uses its own cluster name, hence its own stream and bucket); it lives
// until the test binary exits.
func sharedNATS(t testing.TB) *natsCluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = startNATS(t, 3) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func startNATS(t testing.TB, n int) (*natsCluster, error) {
	routes := freePorts(t, n)
	clients := freePorts(t, n)
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	c := &natsCluster{}
	var urls []string
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("s%d", i+1), Host: "127.0.0.1", Port: clients[i], NoSigs: true,
			JetStream: true, StoreDir: fmt.Sprintf("%s/s%d", dir, i+1),
			Cluster: server.ClusterOpts{Name: "shared", Host: "127.0.0.1", Port: routes[i]},
		}
		for k := range n {
			if k != i {
				opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", routes[k])})
			}
		}
		s, err := server.NewServer(opts)
		if err != nil {
			return nil, err
		}
		s.SetLoggerV2(natsLogger{testLogger()}, false, false, false)
		s.Start()
		c.servers = append(c.servers, s)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clients[i]))
	}
	for _, s := range c.servers {
		if !s.ReadyForConnections(30 * time.Second) {
			return nil, fmt.Errorf("nats server %s not ready", s.Name())
		}
	}
	c.url = strings.Join(urls, ",")
	return c, nil
}

// externalConfigs returns n node configurations on the shared NATS
// cluster under a fresh cluster name.
func externalConfigs(t testing.TB, n int) []Config {
	t.Helper()
	nc := sharedNATS(t)
	ports := freePorts(t, n)
	name := fmt.Sprintf("x%d", clusterSeq.Add(1))
	var cfgs []Config
	for i := range n {
		c := DefaultConfig()
		c.Name = name
		c.Node = fmt.Sprintf("n%d", i+1)
		c.Advertise = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.NATSURL = nc.url
		// The default lease: a one-second lease is shorter than a
		// renewal can take under -race on a loaded 2-core machine
		// (docs/cluster.md, The lease); tests of failover set their own.
		c.TombstoneTTL = time.Minute
		c.Logger = testLogger()
		cfgs = append(cfgs, c)
	}
	return cfgs
}

var clusterSeq atomic.Int64
