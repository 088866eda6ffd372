package admin

import (
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
)

// DefaultMaxGoneTubes is how many dropped tubes an Observer remembers the
// failure counts of unless NewObserver is told otherwise.
const DefaultMaxGoneTubes = 1000

// Observer keeps what the admin interface shows per tube beyond the
// engine's own stats: the wait and run time histograms of /metrics and
// the failure counts of GET /api/v1/failures and the dashboard. It
// implements broker.Observer: give it to broker.Config.Observer and to
// Config.Observer. Everything is in memory and starts at zero when the
// process starts.
//
// A tube's histograms live as long as the tube: when the engine drops an
// empty tube (beanstalkd's rule: no job, no session using or watching
// it), its series leave /metrics, and a tube created again with that
// name starts from zero (a counter reset, which rate() takes in its
// stride). Its failure counts outlive it: the Observer remembers the
// counts of at most maxGone dropped tubes, forgetting those dropped
// longest ago first (tubes that never failed are not remembered); a tube
// created again goes on counting from what was remembered. So memory is
// bounded by the live tubes plus maxGone.
//
// The engine calls it with its lock held. A tube's creation, drop and
// failures take the Observer's own lock, which /metrics and the API take
// briefly; a reserve or a finished run only adds to the tube's histogram
// with atomics (docs/locking.md). The engine serializes its calls; the
// readers may run at any time.
type Observer struct {
	mu      sync.Mutex            // protects the fields below
	tubes   map[string]*tubeTally // live tubes and remembered gone ones
	gone    []goneMark            // drops in order, oldest first; stale marks are skipped
	nGone   int                   // tubes in tubes that are gone
	maxGone int
	forgot  uint64 // gone tubes forgotten to keep to maxGone
}

// tubeTally is what an Observer keeps of one tube, and the engine's
// broker.TubeObserver of it. The engine calls its methods with its lock
// held, so they never run at once; the histograms are counted with
// atomics so that /metrics can read them under o.mu alone. live and the
// histogram pointers change only under both locks.
type tubeTally struct {
	o        *Observer
	name     string
	live     bool
	goneAt   time.Time
	goneSeq  uint64 // which drop goneAt is, to tell stale marks
	wait     *histogram
	run      [2]*histogram // by outcome: deleted, failed
	failures failureCounts // under o.mu
}

// goneMark says that the tube name was dropped as drop number seq.
type goneMark struct {
	name string
	seq  uint64
}

// failureCounts are a tube's failure counters.
type failureCounts struct {
	failures     uint64 // failed attempts: fail, TTR expiry under a retry policy
	retried      uint64
	gaveUp       uint64 // give-ups, ready-expiry included
	buried       uint64
	deadLettered uint64
	deleted      uint64
	expired      uint64 // ready-expiries
	deadLetter   string // the tube of the last dead letter
	lastError    string
	lastAt       time.Time
}

func (f *failureCounts) any() bool { return f.failures > 0 || f.gaveUp > 0 }

// NewObserver returns an Observer that remembers the failure counts of at
// most maxGone dropped tubes (DefaultMaxGoneTubes if maxGone <= 0).
func NewObserver(maxGone int) *Observer {
	if maxGone <= 0 {
		maxGone = DefaultMaxGoneTubes
	}
	return &Observer{tubes: map[string]*tubeTally{}, maxGone: maxGone}
}

// Tube returns the tally of the tube called name, which the engine just
// created: a remembered one goes on counting failures, with new
// histograms.
func (o *Observer) Tube(name string) broker.TubeObserver {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tubes[name]
	if t == nil {
		t = &tubeTally{o: o, name: name}
		o.tubes[name] = t
	} else if !t.live {
		o.nGone--
		t.goneAt = time.Time{}
	}
	if !t.live {
		t.live = true
		t.wait, t.run = newHistogram(), [2]*histogram{newHistogram(), newHistogram()}
	}
	return t
}

// Reserved records that a job of the tube waited before it was reserved.
func (t *tubeTally) Reserved(waited time.Duration) {
	if t.live {
		t.wait.observe(waited)
	}
}

// Finished records that a reserved job of the tube ran before its worker
// deleted ("deleted") or failed ("failed") it. A job whose failure
// emptied its tube (a dead letter) is reported after the tube is gone:
// its run is not kept, as the tube's histograms are not.
func (t *tubeTally) Finished(outcome string, ran time.Duration) {
	if !t.live {
		return
	}
	if outcome == "failed" {
		t.run[1].observe(ran)
	} else {
		t.run[0].observe(ran)
	}
}

// Failed counts a failure of a job of the tube, whether or not the tube
// still exists.
func (t *tubeTally) Failed(f broker.FailEvent) {
	o := t.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if !t.live && o.tubes[t.name] != t {
		// The failure emptied the tube (its last job dead-lettered or
		// deleted, unwatched): Dropped came first and, the tube having no
		// failure then, forgot it. Remember it now.
		if cur := o.tubes[t.name]; cur != nil {
			t = cur
		} else {
			o.tubes[t.name] = t
			o.remember(t)
		}
	}
	c := &t.failures
	if f.Expired {
		c.expired++
	} else {
		c.failures++
	}
	switch f.Action {
	case broker.FailRetry:
		c.retried++
	case broker.FailBuried:
		c.buried++
	case broker.FailDeadLettered:
		c.deadLettered++
		c.deadLetter = f.DeadLetter
	case broker.FailDeleted:
		c.deleted++
	}
	if f.Action != broker.FailRetry {
		c.gaveUp++
	}
	c.lastError = f.Error
	c.lastAt = f.At
}

// Dropped drops the tube's histograms and remembers its failure counts,
// if it has any, forgetting the tube dropped longest ago when more than
// maxGone are remembered.
func (t *tubeTally) Dropped(at time.Time) {
	o := t.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if !t.live || o.tubes[t.name] != t {
		return
	}
	t.live = false
	t.wait, t.run = nil, [2]*histogram{}
	t.goneAt = at
	if !t.failures.any() {
		delete(o.tubes, t.name)
		return
	}
	o.remember(t)
}

// remember queues the dropped tube t, in o.tubes, for forgetting, and
// forgets the tubes dropped longest ago beyond maxGone.
func (o *Observer) remember(t *tubeTally) {
	t.goneSeq++
	o.gone = append(o.gone, goneMark{t.name, t.goneSeq})
	o.nGone++
	for o.nGone > o.maxGone {
		m := o.gone[0]
		o.gone = o.gone[1:]
		if g := o.tubes[m.name]; g != nil && !g.live && g.goneSeq == m.seq {
			delete(o.tubes, m.name)
			o.nGone--
			o.forgot++
		}
	}
	// Marks of tubes created again are stale: drop them once they are
	// most of the queue, so that it stays within twice the live marks.
	if len(o.gone) > 2*o.nGone+16 {
		live := o.gone[:0]
		for _, m := range o.gone {
			if g := o.tubes[m.name]; g != nil && !g.live && g.goneSeq == m.seq {
				live = append(live, m)
			}
		}
		clear(o.gone[len(live):])
		o.gone = live
	}
}
