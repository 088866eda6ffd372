package admin

import (
	"strconv"

	"github.com/reprieve/reprieve/internal/promtext"
)

// clusterGauges maps cluster mode's stats keys (docs/cluster.md) to
// their metric names; a server not in cluster mode has none of them.
var clusterGauges = []struct{ key, name, help string }{
	{"cluster-term", "reprieve_cluster_term", "The leader's term: 1 for a cluster's first leader, one more at each takeover."},
	{"cluster-replicas", "reprieve_cluster_replicas", "Replicas of the cluster's stream."},
	{"cluster-replicas-current", "reprieve_cluster_replicas_current", "Replicas of the stream that are caught up, its Raft leader included."},
	{"cluster-replication-lag", "reprieve_cluster_replication_lag", "The most operations any replica of the stream is behind."},
	{"cluster-stream-bytes", "reprieve_cluster_stream_bytes", "Bytes in the cluster's stream: live jobs, recent tombstones, term and id marks."},
	{"cluster-stream-messages", "reprieve_cluster_stream_messages", "Messages in the cluster's stream."},
}

// writeClusterMetrics writes cluster mode's gauges from the cluster-*
// stats keys.
func (h *Handler) writeClusterMetrics(e *promtext.Writer) {
	kv := map[string]string{}
	for _, x := range h.extraStats() {
		kv[x.Key] = x.Value
	}
	for _, g := range clusterGauges {
		if v, err := strconv.ParseFloat(kv[g.key], 64); err == nil {
			e.One(g.name, "gauge", g.help, v)
		}
	}
}
