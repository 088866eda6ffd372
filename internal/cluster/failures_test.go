package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestOpenRefuses checks the bad situations at start: each is refused
// with its sentinel and a message that says what to fix.
func TestOpenRefuses(t *testing.T) {
	t.Run("NATSUnreachable", func(t *testing.T) {
		c := externalConfigs(t, 1)[0]
		c.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", freePorts(t, 1)[0])
		c.StartTimeout = 500 * time.Millisecond
		_, err := Open(c)
		wantErr(t, err, ErrUnavailable, "connect to NATS at "+c.NATSURL, "is NATS running there? check --nats-url")
	})
	t.Run("WrongCredentials", func(t *testing.T) {
		port := freePorts(t, 1)[0]
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, Username: "u", Password: "right"})
		if err != nil {
			t.Fatal(err)
		}
		s.SetLoggerV2(natsLogger{testLogger()}, false, false, false)
		s.Start()
		defer s.Shutdown()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats server not ready")
		}
		c := externalConfigs(t, 1)[0]
		c.NATSURL = fmt.Sprintf("nats://u:wrong@127.0.0.1:%d", port)
		started := time.Now()
		_, err = Open(c)
		wantErr(t, err, ErrUnavailable, "Authorization Violation", "check --nats-creds, --nats-token or the URL's user and password")
		if d := time.Since(started); d > c.StartTimeout/2 {
			t.Errorf("wrong credentials took %v to refuse; they are not retried", d)
		}
	})
	t.Run("TwoNodesOneName", func(t *testing.T) {
		cfgs := externalConfigs(t, 2)
		first, err := Open(cfgs[0])
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		cfgs[1].Node = cfgs[0].Node
		_, err = Open(cfgs[1])
		wantErr(t, err, ErrDuplicateNode, "another node named "+cfgs[0].Node+" is running in cluster "+cfgs[0].Name, "give each node its own --cluster-node")
	})
	t.Run("OtherReplicaCount", func(t *testing.T) {
		cfgs := externalConfigs(t, 2)
		first, err := Open(cfgs[0])
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		cfgs[1].Replicas = 1
		_, err = Open(cfgs[1])
		wantErr(t, err, ErrMismatch, "stream REPRIEVE_"+cfgs[0].Name+" has 3 replicas but --replicas is 1", "every node must use the same --replicas")
	})
	t.Run("OtherLease", func(t *testing.T) {
		cfgs := externalConfigs(t, 2)
		first, err := Open(cfgs[0])
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		cfgs[1].Lease = 2 * time.Second
		_, err = Open(cfgs[1])
		wantErr(t, err, ErrMismatch, "keeps leases for 1s but --cluster-lease is 2s")
	})
	t.Run("BadConfig", func(t *testing.T) {
		c := externalConfigs(t, 1)[0]
		c.Replicas = 2
		_, err := Open(c)
		wantErr(t, err, ErrConfig, "replicas 2: want 1, 3 or 5")
	})
}

func wantErr(t *testing.T, err, sentinel error, parts ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v; want %v", err, sentinel)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("err %q does not say %q", err, p)
		}
	}
}
