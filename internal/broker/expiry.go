package broker

import (
	"log/slog"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// expiryBatch gathers the jobs one tube loses at once to retention or
// ready-expiry, so that a flood is logged as one summary line.
type expiryBatch struct {
	tube, what  string
	n           int
	first, last job.ID
	ids         [expiryDetail]job.ID
	outcomes    [expiryDetail]string
}

// expiryDetail is how many expiries of one batch are logged one line each;
// a larger batch is logged as a single summary line.
const expiryDetail = 3

func (e *expiryBatch) add(id job.ID, outcome string) {
	if e.n < expiryDetail {
		e.ids[e.n] = id
		e.outcomes[e.n] = outcome
	}
	if e.n == 0 || id < e.first {
		e.first = id
	}
	if id > e.last {
		e.last = id
	}
	e.n++
}

// logExpiries writes the batch: one line per job, or one summary line.
func (b *Broker) logExpiries(e *expiryBatch) {
	switch {
	case e.n == 0:
	case e.n <= expiryDetail:
		for i := 0; i < e.n; i++ {
			b.log.Warn(e.what, "tube", e.tube, "id", uint64(e.ids[i]), "outcome", e.outcomes[i])
		}
	default:
		b.log.Warn(e.what, "tube", e.tube, "count", e.n,
			"lowest_id", uint64(e.first), "highest_id", uint64(e.last))
	}
}

// enforceRetention deletes the buried jobs of t beyond its policy's age,
// count or byte bounds, oldest burial first, counting and logging them. A
// job whose deletion cannot be journaled is kept.
func (b *Broker) enforceRetention(t *tube, now time.Time, cs *[]journal.Commit) {
	p := t.pol
	if p == nil || p.Retention.IsZero() {
		return
	}
	var byAge, byCount, byBytes = expiryBatch{tube: t.name, what: "buried job expired by retention age " + p.Retention.MaxAge.String()},
		expiryBatch{tube: t.name, what: "buried job expired by retention count"},
		expiryBatch{tube: t.name, what: "buried job expired by retention size"}
	for {
		r := t.buried.top()
		if r == nil {
			break
		}
		var batch *expiryBatch
		switch {
		case p.Retention.MaxAge > 0 && !r.Deadline.Add(p.Retention.MaxAge).After(now):
			batch = &byAge
		case p.Retention.MaxCount > 0 && t.buried.len() > p.Retention.MaxCount:
			batch = &byCount
		case p.Retention.MaxBytes > 0 && int64(t.buriedBytes) > p.Retention.MaxBytes:
			batch = &byBytes
		}
		if batch == nil || b.record(cs, opDelete, r) != nil {
			break
		}
		b.unplace(r)
		t.expired++
		b.expired++
		batch.add(r.ID, "deleted")
		b.drop(r)
	}
	b.logExpiries(&byAge)
	b.logExpiries(&byCount)
	b.logExpiries(&byBytes)
}

// defaultLogger is used when Config.Logger is nil.
func defaultLogger() *slog.Logger { return slog.Default() }
