package admin

import (
	"strconv"

	"github.com/reprieve/reprieve/internal/promtext"
)

// clusterMetrics maps cluster mode's stats keys (docs/cluster.md) to
// their metric names and types; a server not in cluster mode has none of
// them.
var clusterMetrics = []struct{ key, name, typ, help string }{
	{"cluster-term", "reprieve_cluster_term", "gauge", "The leader's term: 1 for a cluster's first leader, one more at each takeover."},
	{"cluster-replicas", "reprieve_cluster_replicas", "gauge", "Replicas of the cluster's stream."},
	{"cluster-replicas-current", "reprieve_cluster_replicas_current", "gauge", "Replicas of the stream that are caught up, its Raft leader included."},
	{"cluster-replication-lag", "reprieve_cluster_replication_lag", "gauge", "The most operations any replica of the stream is behind."},
	{"cluster-stream-bytes", "reprieve_cluster_stream_bytes", "gauge", "Bytes in the cluster's stream: live jobs, recent tombstones, term and id marks."},
	{"cluster-stream-messages", "reprieve_cluster_stream_messages", "gauge", "Messages in the cluster's stream."},
	{"cluster-published", "reprieve_cluster_published_total", "counter", "Changes the leader queued for the stream."},
	{"cluster-acknowledged", "reprieve_cluster_acknowledged_total", "counter", "Changes answered to their client once the stream stored them."},
	{"cluster-batches", "reprieve_cluster_batches_total", "counter", "Atomic batches the leader stored in the stream."},
	{"cluster-batch-messages", "reprieve_cluster_batch_messages_total", "counter", "Messages in the batches stored."},
	{"cluster-sends", "reprieve_cluster_sends_total", "counter", "Batch sends, first sends and resends."},
	{"cluster-resent", "reprieve_cluster_resent_total", "counter", "Messages sent again after their batch's outcome was resolved as not stored."},
	{"cluster-resolutions", "reprieve_cluster_resolutions_total", "counter", "Times the leader read the stream to learn the outcome of a refused or unanswered batch."},
	{"cluster-window", "reprieve_cluster_window", "gauge", "Batches in flight now (at most 4)."},
	{"cluster-window-occupancy", "reprieve_cluster_window_occupancy_total", "counter", "Sum over sends of the batches in flight, counting the one sent; divided by sends, the mean window."},
}

// writeClusterMetrics writes cluster mode's gauges and counters from the cluster-*
// stats keys.
func (h *Handler) writeClusterMetrics(e *promtext.Writer) {
	kv := map[string]string{}
	for _, x := range h.extraStats() {
		kv[x.Key] = x.Value
	}
	switch kv["cluster-role"] {
	case "leader":
		e.One("reprieve_cluster_leading", "gauge", "1 if this node leads its cluster, 0 if it follows.", 1)
	case "follower":
		e.One("reprieve_cluster_leading", "gauge", "1 if this node leads its cluster, 0 if it follows.", 0)
	}
	for _, g := range clusterMetrics {
		if v, err := strconv.ParseFloat(kv[g.key], 64); err == nil {
			e.One(g.name, g.typ, g.help, v)
		}
	}
}
