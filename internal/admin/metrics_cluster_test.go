package admin_test

import (
	"testing"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/cluster"
)

// TestClusterMetrics checks that a cluster leader's stats keys become the
// reprieve_cluster_* gauges of /metrics.
func TestClusterMetrics(t *testing.T) {
	st := cluster.Stats{Name: "jobs", Node: "n1", Leader: "n1", Term: 4, Replicas: 3, ReplicasCurrent: 2, Lag: 17,
		StreamBytes: 4096, StreamMessages: 12}
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
		"reprieve_cluster_term":             4,
		"reprieve_cluster_replicas":         3,
		"reprieve_cluster_replicas_current": 2,
		"reprieve_cluster_replication_lag":  17,
		"reprieve_cluster_stream_bytes":     4096,
		"reprieve_cluster_stream_messages":  12,
	})
}
