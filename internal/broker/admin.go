package broker

import (
	"sort"
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/journal"
)

// Stats returns the engine's part of the stats reply.
func (b *Broker) Stats() ServerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return ServerStats{
		CurrentJobsUrgent:   b.nUrgent,
		CurrentJobsReady:    b.nReady,
		CurrentJobsReserved: b.nReserved,
		CurrentJobsDelayed:  b.nDelayed,
		CurrentJobsBuried:   b.nBuried,
		JobTimeouts:         b.jobTimeouts,
		TotalJobs:           b.totalJobs,
		CurrentTubes:        len(b.tubes),
		CurrentConnections:  b.nConns,
		CurrentProducers:    b.nProducers,
		CurrentWorkers:      b.nWorkers,
		CurrentWaiting:      b.nWaiting,
		TotalConnections:    b.totalConns,
		Draining:            b.draining,
		Uptime:              b.now().Sub(b.started),
		Failures:            b.failures,
		GaveUp:              b.gaveUp,
		Expired:             b.expired,
	}
}

// StatsTube returns the stats-tube reply for the tube called name, or
// ErrNotFound if it does not exist.
func (b *Broker) StatsTube(name string) (TubeStats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tubes[name]
	if t == nil {
		return TubeStats{}, ErrNotFound
	}
	now := b.now()
	ts := TubeStats{
		Name:                t.name,
		CurrentJobsUrgent:   t.urgent,
		CurrentJobsReady:    t.ready.len(),
		CurrentJobsReserved: t.nReserv,
		CurrentJobsDelayed:  t.delay.len(),
		CurrentJobsBuried:   t.buried.len(),
		TotalJobs:           t.totalJobs,
		CurrentUsing:        t.using,
		CurrentWatching:     t.watching,
		CurrentWaiting:      t.nWait,
		CmdDelete:           t.cmdDelete,
		CmdPauseTube:        t.cmdPause,
		Failures:            t.failures,
		GaveUp:              t.gaveUp,
		Expired:             t.expired,
		BuriedBytes:         t.buriedBytes,
	}
	b.limitStats(t, &ts)
	if t.paused(now) {
		ts.Pause = t.pause
		ts.PauseTimeLeft = t.pauseEnd.Sub(now)
	}
	return ts, nil
}

// StatsJob returns the stats-job reply for job id, or ErrNotFound.
func (b *Broker) StatsJob(id job.ID) (JobStats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.jobs.get(id)
	if r == nil {
		return JobStats{}, ErrNotFound
	}
	return b.jobStats(r, b.now()), nil
}

func (b *Broker) jobStats(r *rec, now time.Time) JobStats {
	js := JobStats{
		ID:       r.ID,
		Tube:     r.Tube,
		State:    r.State,
		Priority: r.Priority,
		Age:      now.Sub(r.Created),
		Delay:    r.Delay,
		TTR:      r.TTR,
		Reserves: r.Reserves,
		Timeouts: r.Timeouts,
		Releases: r.Releases,
		Buries:   r.Buries,
		Kicks:    r.Kicks,
		Size:     len(r.Body),
	}
	if r.State == job.Reserved || r.State == job.Delayed {
		if left := r.Deadline.Sub(now); left > 0 {
			js.TimeLeft = left
		}
	}
	if js.Age < 0 {
		js.Age = 0
	}
	if f, ok := b.journal.(interface{ File(job.ID) int }); ok {
		js.File = f.File(r.ID)
	}
	if r.Failure != nil {
		js.Failure = *r.Failure
	}
	return js
}

// ListTubes returns the names of the existing tubes in creation order,
// "default" first.
func (b *Broker) ListTubes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.tubes))
	for t := b.firstTube; t != nil; t = t.next {
		names = append(names, t.name)
	}
	return names
}

// Peek returns job id in whatever state it is, or ErrNotFound.
func (b *Broker) Peek(id job.ID) (Peeked, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.jobs.get(id)
	if r == nil {
		return Peeked{}, ErrNotFound
	}
	return Peeked{ID: r.ID, Body: r.Body}, nil
}

// PeekReady returns the ready job of tube that Reserve would take next
// (ignoring a pause), or ErrNotFound if there is none or no such tube.
func (b *Broker) PeekReady(tube string) (Peeked, error) { return b.peekTop(tube, job.Ready) }

// PeekDelayed returns the delayed job of tube whose delay ends first, or
// ErrNotFound.
func (b *Broker) PeekDelayed(tube string) (Peeked, error) { return b.peekTop(tube, job.Delayed) }

// PeekBuried returns the job of tube buried longest ago (the next one kick
// revives), or ErrNotFound.
func (b *Broker) PeekBuried(tube string) (Peeked, error) { return b.peekTop(tube, job.Buried) }

func (b *Broker) peekTop(name string, st job.State) (Peeked, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tubes[name]
	if t == nil {
		return Peeked{}, ErrNotFound
	}
	var r *rec
	switch st {
	case job.Ready:
		r = t.ready.top()
	case job.Delayed:
		r = t.delay.top()
	case job.Buried:
		r = t.buried.top()
	}
	if r == nil {
		return Peeked{}, ErrNotFound
	}
	return Peeked{ID: r.ID, Body: r.Body}, nil
}

// KickJob moves job id to ready if it is buried or delayed; ErrNotFound
// otherwise. ErrOutOfMemory if the change cannot be logged.
func (b *Broker) KickJob(id job.ID) error {
	b.mu.Lock()
	r := b.jobs.get(id)
	if r == nil || (r.State != job.Buried && r.State != job.Delayed) {
		b.mu.Unlock()
		return ErrNotFound
	}
	var cs []journal.Commit
	err := b.kick(&cs, r, b.now())
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return waitCommits(cs)
}

// PauseTube stops the tube called name from giving jobs to Reserve for d
// (a pause of 0 ends at once, as beanstalkd's 1 ns pause does); ErrNotFound
// if it does not exist. Sessions blocked on it keep waiting and are served
// when the pause ends.
func (b *Broker) PauseTube(name string, d time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tubes[name]
	if t == nil {
		return ErrNotFound
	}
	if d <= 0 {
		d = time.Nanosecond
	}
	t.pause = d
	t.pauseEnd = b.now().Add(d)
	t.cmdPause++
	b.retickTube(t)
	return nil
}

// Restore rebuilds the engine's state from jobs recovered from the log,
// before serving: each job goes to its tube (created as needed) in its
// state, except that Reserved jobs become Ready and delayed jobs whose
// deadline passed become ready at once. Buried jobs keep their burial
// order (by Deadline). next is the id the next put must get, as the log
// reports it (wal.Recovery.NextID; 0 or 1 for a fresh log): later ids
// start at next and after every restored id. Nothing is journaled. Jobs
// with an id already present are ignored.
func (b *Broker) Restore(jobs []*job.Job, next job.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.restoring = true
	defer func() { b.restoring = false }()
	// The log hands jobs in id order as a rule (a restart of 1M jobs spent
	// a quarter of its time sorting and looking up here): when the ids
	// ascend strictly they are unique, so nothing needs sorting but the
	// buried jobs, and no lookup guards against duplicates.
	unique := b.jobs.len() == 0
	for i := range jobs {
		if !unique {
			break
		}
		unique = jobs[i] != nil && (i == 0 || jobs[i-1].ID < jobs[i].ID)
	}
	var slabs [][]rec
	if unique {
		slabs = make([][]rec, 0, len(jobs)/restoreSlab+1)
		b.jobs = newJobTable(len(jobs))
	} else {
		jobs = append([]*job.Job(nil), jobs...)
		sort.SliceStable(jobs, func(i, k int) bool {
			if jobs[i] == nil || jobs[k] == nil {
				return jobs[k] == nil && jobs[i] != nil
			}
			return jobs[i].ID < jobs[k].ID
		})
	}
	var buried []*rec
	var recs []rec
	var last *tube
	for _, j := range jobs {
		if j == nil || (!unique && b.jobs.get(j.ID) != nil) {
			continue
		}
		// recs come from slabs of restoreSlab: one allocation per slab,
		// not per job; a slab is freed once all its jobs are gone.
		if len(recs) == 0 {
			recs = make([]rec, min(restoreSlab, len(jobs)))
			if unique {
				slabs = append(slabs, recs)
			}
		}
		r := &recs[0]
		recs = recs[1:]
		*r = rec{Job: *j, idx: -1}
		r.Created = r.Created.Round(0)
		r.Deadline = r.Deadline.Round(0)
		if r.TTR < time.Second {
			r.TTR = time.Second
		}
		switch r.State {
		case job.Delayed, job.Buried:
		default: // Reserved, Ready or unknown
			r.State = job.Ready
			r.Deadline = time.Time{}
		}
		if last == nil || last.name != r.Tube {
			last = b.tube(r.Tube, true)
		}
		r.tube = last
		r.Tube = last.name
		if r.ID > b.nextID {
			b.nextID = r.ID
		}
		if !unique {
			b.jobs.set(r)
			if r.State == job.Buried {
				buried = append(buried, r)
			} else {
				b.place(r, now)
			}
		}
	}
	if unique {
		// Filling the job table is half of the work and touches nothing
		// that place does: it runs on the other core meanwhile.
		var wg sync.WaitGroup
		wg.Go(func() {
			for _, slab := range slabs {
				for i := range slab {
					if r := &slab[i]; r.tube != nil {
						b.jobs.set(r)
					}
				}
			}
		})
		for _, slab := range slabs {
			for i := range slab {
				r := &slab[i]
				switch {
				case r.tube == nil: // the unused end of the last slab
				case r.State == job.Buried:
					buried = append(buried, r)
				default:
					b.place(r, now)
				}
			}
		}
		wg.Wait()
	}
	// Burial order is by Deadline (the time of burial), then id.
	sort.SliceStable(buried, func(i, k int) bool {
		x, y := buried[i], buried[k]
		if !x.Deadline.Equal(y.Deadline) {
			return x.Deadline.Before(y.Deadline)
		}
		return x.ID < y.ID
	})
	for _, r := range buried {
		b.place(r, now)
	}
	if next > 0 && next-1 > b.nextID {
		b.nextID = next - 1 // b.nextID is the last id given out
	}
	b.rebuildUnique()
}

// restoreSlab is how many jobs Restore allocates at once: small enough
// that a slab kept alive by a few long-lived jobs wastes little.
const restoreSlab = 256

// NextID returns the last job id given out (the log stores it).
func (b *Broker) NextID() job.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nextID
}
