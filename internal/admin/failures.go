package admin

import (
	"net/http"
	"sort"
	"time"

	"github.com/reprieve/reprieve/internal/stats"
)

// TubeFailures is what an Observer counted of one tube's failures.
type TubeFailures struct {
	Tube string
	// Exists is false once the engine dropped the tube; DroppedAt is when.
	Exists    bool
	DroppedAt time.Time
	// Failures counts failed attempts (fail, a TTR expiry under a retry
	// policy); Retried those the policy retried; GaveUp the give-ups
	// (ready-expiries included), split into Buried, DeadLettered (moved
	// to a dead-letter tube, the last one DeadLetterTube) and Deleted;
	// Expired the ready-expiries.
	Failures, Retried, GaveUp, Buried, DeadLettered, Deleted, Expired uint64
	DeadLetterTube                                                    string
	// LastError and LastAt are the last failure's error and time.
	LastError string
	LastAt    time.Time
}

// Failures returns the failure counts of every tube that failed since the
// Observer started and that it still remembers, in name order, and how
// many dropped tubes it forgot to stay within its bound.
func (o *Observer) Failures() (tubes []TubeFailures, forgotten uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, t := range o.tubes {
		c := &t.failures
		if !c.any() {
			continue
		}
		tubes = append(tubes, TubeFailures{
			Tube: name, Exists: t.live, DroppedAt: t.goneAt,
			Failures: c.failures, Retried: c.retried, GaveUp: c.gaveUp, Buried: c.buried,
			DeadLettered: c.deadLettered, Deleted: c.deleted, Expired: c.expired,
			DeadLetterTube: c.deadLetter, LastError: c.lastError, LastAt: c.lastAt,
		})
	}
	sort.Slice(tubes, func(i, j int) bool { return tubes[i].Tube < tubes[j].Tube })
	return tubes, o.forgot
}

// MaxGone returns how many dropped tubes the Observer remembers at most.
func (o *Observer) MaxGone() int { return o.maxGone }

// failures answers GET /api/v1/failures: the Observer's per-tube failure
// counts, those of dropped tubes included (docs/admin.md).
func (h *Handler) failures(w http.ResponseWriter, _ *http.Request) {
	list := []object{}
	var maxGone int
	var forgotten uint64
	if o := h.cfg.Observer; o != nil {
		var tubes []TubeFailures
		tubes, forgotten = o.Failures()
		maxGone = o.MaxGone()
		for i := range tubes {
			list = append(list, tubeFailuresObject(&tubes[i]))
		}
	}
	writeJSON(w, http.StatusOK, object{
		{"max-gone-tubes", maxGone}, {"forgotten-tubes", forgotten}, {"tubes", list},
	})
}

// tubeFailuresObject returns f under the keys of the failures reply.
func tubeFailuresObject(f *TubeFailures) object {
	return object{
		{"name", f.Tube},
		{"exists", f.Exists},
		{"dropped-at", stats.Time(f.DroppedAt).JSON()},
		{"failures", f.Failures},
		{"retried", f.Retried},
		{"gave-up", f.GaveUp},
		{"buried", f.Buried},
		{"dead-lettered", f.DeadLettered},
		{"deleted", f.Deleted},
		{"expired", f.Expired},
		{"dead-letter-tube", f.DeadLetterTube},
		{"last-error", f.LastError},
		{"last-failure", stats.Time(f.LastAt).JSON()},
	}
}
