package admin

import (
	"strconv"

	"github.com/reprieve/reprieve/internal/promtext"
)

// logCounters maps the durable log's stats keys that count events to
// their metric names.
var logCounters = []struct{ key, name, help string }{
	{"wal-fsyncs", "reprieve_wal_fsyncs_total", "fsync calls on the log."},
	{"wal-batches", "reprieve_wal_batches_total", "Group-commit batches written to the log."},
	{"wal-compactions", "reprieve_wal_compactions_total", "Log segments compacted."},
	{"wal-compacted-bytes", "reprieve_wal_compacted_bytes_total", "Bytes of live records copied by compaction."},
}

// logStoreGauges maps the per-store sizes (wal-hot-*, wal-buried-*) to
// metrics labelled store="hot" or store="buried".
var logStoreGauges = []struct{ suffix, name, help string }{
	{"segments", "reprieve_wal_segments", "Segment files of a log store (hot: live jobs, buried: buried jobs)."},
	{"disk-bytes", "reprieve_wal_disk_bytes", "Bytes on disk of a log store's segments."},
	{"live-bytes", "reprieve_wal_live_bytes", "Bytes of a log store's records still needed."},
	{"dead-bytes", "reprieve_wal_dead_bytes", "Bytes of a log store's records no longer needed, until compaction."},
}

// writeLogMetrics writes the durable log's sizes and counters, from the
// binlog-* values and the wal-* stats keys; nothing for a server without
// a log.
func (h *Handler) writeLogMetrics(e *promtext.Writer) {
	if h.cfg.Binlog != nil {
		bl := h.cfg.Binlog()
		e.One("reprieve_log_records_written_total", "counter", "Records written to the log (binlog-records-written).", float64(bl.RecordsWritten))
		e.One("reprieve_log_records_migrated_total", "counter", "Records copied by compaction (binlog-records-migrated).", float64(bl.RecordsMigrated))
		e.One("reprieve_log_segment_max_bytes", "gauge", "Size of a log segment file (binlog-max-size).", float64(bl.MaxSize))
	}
	kv := map[string]string{}
	for _, x := range h.extraStats() {
		kv[x.Key] = x.Value
	}
	num := func(key string) (float64, bool) {
		v, ok := kv[key]
		if !ok {
			return 0, false
		}
		if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
			return b2f(b), true
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	for _, c := range logCounters {
		if v, ok := num(c.key); ok {
			e.One(c.name, "counter", c.help, v)
		}
	}
	if v, ok := num("wal-no-space"); ok {
		e.One("reprieve_wal_no_space", "gauge", "1 while the log cannot create its next segment for lack of disk space (puts are refused once the current one is full).", v)
	}
	for _, g := range logStoreGauges {
		started := false
		for _, store := range []string{"hot", "buried"} {
			v, ok := num("wal-" + store + "-" + g.suffix)
			if !ok {
				continue
			}
			if !started {
				e.Family(g.name, "gauge", g.help)
				started = true
			}
			e.Sample(g.name, v, "store", store)
		}
	}
}
