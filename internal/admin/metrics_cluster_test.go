package admin_test

import (
	"testing"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/cluster"
)

// TestClusterMetrics checks that a cluster node's stats keys become the
// reprieve_cluster_* gauges of /metrics, reprieve_cluster_leading 1 on a
// leader and 0 on a follower.
func TestClusterMetrics(t *testing.T) {
	for _, role := range []string{"leader", "follower"} {
		t.Run(role, func(t *testing.T) { testClusterMetrics(t, role) })
	}
}

func testClusterMetrics(t *testing.T, role string) {
	leading := map[string]float64{"leader": 1, "follower": 0}[role]
	st := cluster.Stats{Role: role, Name: "jobs", Node: "n1", Leader: "n1", Term: 4, Replicas: 3, ReplicasCurrent: 2, Lag: 17,
		StreamBytes: 4096, StreamMessages: 12, Published: 900, Acknowledged: 880, Batches: 120, BatchMessages: 899,
		Sends: 125, Resent: 14, Resolutions: 2, Window: 3, WindowOccupancy: 260}
	e := start(t, options{config: func(c *admin.Config) {
		c.ExtraStats = func() []beanstalk.KeyValue {
			var kv []beanstalk.KeyValue
			for _, p := range st.StatsKeys() {
				kv = append(kv, beanstalk.KeyValue{Key: p[0], Value: p[1]})
			}
			return kv
		}
	}})
	r := e.do(t, "GET", "/metrics")
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d", r.status)
	}
	parseExposition(t, r.body).want(t, map[string]float64{
		"reprieve_cluster_leading":                leading,
		"reprieve_cluster_term":                   4,
		"reprieve_cluster_replicas":               3,
		"reprieve_cluster_replicas_current":       2,
		"reprieve_cluster_replication_lag":        17,
		"reprieve_cluster_stream_bytes":           4096,
		"reprieve_cluster_stream_messages":        12,
		"reprieve_cluster_published_total":        900,
		"reprieve_cluster_acknowledged_total":     880,
		"reprieve_cluster_batches_total":          120,
		"reprieve_cluster_batch_messages_total":   899,
		"reprieve_cluster_sends_total":            125,
		"reprieve_cluster_resent_total":           14,
		"reprieve_cluster_resolutions_total":      2,
		"reprieve_cluster_window":                 3,
		"reprieve_cluster_window_occupancy_total": 260,
	})
}
