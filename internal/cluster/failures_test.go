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
		wantExact(t, err, ErrUnavailable, "cluster: NATS unavailable: connect to NATS at "+c.NATSURL+": nats: no servers available for connection (is NATS running there? check --nats-url)")
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
		// The password is not repeated in the message.
		wantExact(t, err, ErrUnavailable, fmt.Sprintf("cluster: NATS unavailable: connect to NATS at nats://u:xxxxx@127.0.0.1:%d: nats: Authorization Violation (check --nats-creds, --nats-token or the URL's user and password)", port))
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
		wantErr(t, err, ErrDuplicateNode, "cluster: duplicate node name: another node named "+cfgs[0].Node+" is running in cluster "+cfgs[0].Name+" (since ", "); give each node its own --cluster-node")
		if !strings.HasSuffix(err.Error(), "; give each node its own --cluster-node") {
			t.Errorf("err %q does not end with the advice", err)
		}
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
		wantExact(t, err, ErrMismatch, "cluster: settings differ from the cluster's: stream REPRIEVE_"+cfgs[0].Name+" has 3 replicas but --replicas is 1: every node must use the same --replicas")
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
		wantExact(t, err, ErrMismatch, "cluster: settings differ from the cluster's: bucket REPRIEVE_"+cfgs[0].Name+"_LEASE keeps leases for 4s but --cluster-lease is 2s: every node must use the same --cluster-lease")
	})
	t.Run("BadConfig", func(t *testing.T) {
		c := externalConfigs(t, 1)[0]
		c.Replicas = 2
		_, err := Open(c)
		wantErr(t, err, ErrConfig, "replicas 2: want 1, 3 or 5")
	})
}

// wantExact checks that err wraps sentinel and reads exactly want.
func wantExact(t *testing.T, err, sentinel error, want string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v; want %v", err, sentinel)
	}
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
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
