package wal

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// Recovery is what Open found in the data directory.
type Recovery struct {
	// Jobs are the live jobs, as last logged, in no particular order
	// (roughly the order of the log); Reserved ones
	// are for the engine to make Ready (broker.Restore does).
	Jobs []*job.Job
	// NextID is the id the next put must get: ids are never reused.
	NextID job.ID
	// Ticks is the last tick of each periodic job (schedule) as logged,
	// for broker.RestoreTicks.
	Ticks map[string]time.Time
	// TornTails describes each torn tail that was truncated: file,
	// offset, bytes, and the records it cost.
	TornTails []string
	// Lost lists the records the torn tails cost, with their job ids
	// where the remains tell them. Ids handed out before a torn tail are
	// never handed out again (see doc.go, "Job ids").
	Lost []LostRecord
	// Segments and Records count what was read; Took is how long it took
	// (the writer's index of the jobs is filled after, in the background).
	Segments, Records int
	Took              time.Duration
}

// Open locks the data directory, replays it and starts the writer. The
// caller hands Recovery.Jobs and NextID to broker.Restore before serving
// and calls Close when done. A directory damaged before its end gives
// ErrCorrupt; one in use by another process gives ErrLocked. The log's
// index of live jobs is filled in the background after Open returns: the
// first append, Stats or Close waits for it (a few hundred ms for 1M jobs),
// which lets the caller restore the jobs into the engine meanwhile.
func Open(opts Options) (*Log, *Recovery, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	opts = opts.withDefaults()
	l := &Log{
		opts:    opts,
		fs:      opts.fs,
		logger:  opts.Logger,
		clock:   opts.Clock,
		index:   newJobIndex(0),
		nextID:  1,
		kick:    make(chan struct{}, 1),
		wtok:    make(chan struct{}, 1),
		syncDue: make(chan struct{}, 1),
		syncReq: make(chan chan error),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	l.cur = newBatch(l)
	l.idle = time.AfterFunc(time.Hour, l.idleFired)
	l.idle.Stop()
	l.lastSync = l.clock.Now()
	sizes := [2]int64{opts.SegmentSize, opts.BuriedSegmentSize}
	for k := range l.stores {
		kind := storeKind(k)
		dir := filepath.Join(opts.Dir, kind.String())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("wal: create data directory: %w", err)
		}
		l.stores[k] = &store{kind: kind, dir: dir, segSize: sizes[k], byNum: make(map[uint64]*segment), nextNum: 1}
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, nil, err
	}
	l.lock = lock
	rec, err := l.recover()
	if err != nil {
		l.closeFiles()
		l.idle.Stop()
		unlockDir(lock)
		return nil, nil, err
	}
	go l.run()
	return l, rec, nil
}

// closeFiles closes every open segment (Open failing half-way).
func (l *Log) closeFiles() {
	for _, st := range l.stores {
		for _, s := range append(st.segs, st.spares...) {
			if s != nil && s.f != nil {
				s.f.Close()
			}
		}
	}
}

// cand is one record of a job found by replay.
type cand struct {
	seq uint64
	lc  loc
	j   *job.Job
}

// hist is what replay keeps of a job in one store: the newest put, update
// and tombstone (see doc.go, "Replay").
type hist struct {
	put, upd cand
	del      uint64
	delTyp   byte
	chosen   bool // the job lives on in this store (decided after replay)
}

// entry returns where the job's records are, for a chosen hist.
func (h *hist) entry(k storeKind) entry {
	e := entry{st: k, put: h.put.lc, last: h.put.lc}
	if h.upd.j != nil && h.upd.seq > h.put.seq {
		e.last = h.upd.lc
	}
	return e
}

// localLast is the seq of the job's newest put or update in the store, 0
// if the store holds no put of it or a newer tombstone.
func (h *hist) localLast() uint64 {
	if h.put.j == nil {
		return 0
	}
	s := max(h.put.seq, h.upd.seq)
	if s <= h.del {
		return 0
	}
	return s
}

// pair is a job's history in the hot log and in the buried store. Few
// jobs ever reach the buried store, so its hist is made on demand: a
// pair is half the size it would be with both inline, which is less to
// clear and for the collector to scan, per job, during replay.
type pair struct {
	id  job.ID
	hot hist
	bur *hist // nil while the buried store holds no record of the job
}

// noHist stands for the buried hist of a job without one; it is only read.
var noHist hist

// hists returns the pair's hist in each store (noHist for none).
func (p *pair) hists() [2]*hist {
	b := p.bur
	if b == nil {
		b = &noHist
	}
	return [2]*hist{hot: &p.hot, buried: b}
}

// replayState holds the slabs replay allocates from: one allocation per
// few thousand jobs instead of one per record. The engine copies the jobs
// it restores, so nothing keeps a slab alive after start.
type replayState struct {
	// slabs hold every pair in the order the ids were first met, which
	// is roughly file order: decisions walk them in that order. Each
	// slab has slabSize pairs, so a pair's number n is slab n/slabSize.
	slabs [][]pair
	jobs  []job.Job
	ids   idIndex
	burs  []hist // a slab of buried-store hists
}

// hist returns id's hist in store k, making it on first sight.
func (rp *replayState) hist(id job.ID, k storeKind) *hist {
	p := rp.pair(id)
	if k == hot {
		return &p.hot
	}
	if p.bur == nil {
		if len(rp.burs) == 0 {
			rp.burs = make([]hist, 1024)
		}
		p.bur = &rp.burs[0]
		rp.burs = rp.burs[1:]
	}
	return p.bur
}

// slabSize is how many pairs (and jobs) replay allocates at once.
const slabSize = 4096

func (rp *replayState) newPair(id job.ID) *pair {
	if len(rp.slabs) == 0 || len(rp.slabs[len(rp.slabs)-1]) == slabSize {
		rp.slabs = append(rp.slabs, make([]pair, 0, slabSize))
	}
	s := &rp.slabs[len(rp.slabs)-1]
	*s = append(*s, pair{id: id})
	rp.ids.set(id, int32((len(rp.slabs)-1)*slabSize+len(*s)))
	return &(*s)[len(*s)-1]
}

// pair returns the pair of id, making it on first sight.
func (rp *replayState) pair(id job.ID) *pair {
	if n := rp.ids.get(id); n > 0 {
		n--
		return &rp.slabs[n/slabSize][n%slabSize]
	}
	return rp.newPair(id)
}

// count is the number of pairs made so far.
func (rp *replayState) count() int {
	if len(rp.slabs) == 0 {
		return 0
	}
	return (len(rp.slabs)-1)*slabSize + len(rp.slabs[len(rp.slabs)-1])
}

// idIndex maps a job id to its pair's number plus one (0: none). Ids are
// handed out in sequence and the log holds them roughly in order, so it
// is a sparse array of small pages keyed by id/pageIDs, with the last
// page used cached: a run of ids costs one map lookup per page instead of
// a hashed, cache-missing lookup per record (which made up a third of
// restart time). A page is pageIDs*4 bytes, so even ids so sparse that
// each page holds one job cost 256 bytes each, only during replay.
type idIndex struct {
	pages   map[job.ID]*idPage
	lastKey job.ID
	last    *idPage
}

const pageIDs = 64

type idPage [pageIDs]int32

func (x *idIndex) page(id job.ID, create bool) *idPage {
	key := id / pageIDs
	if x.last != nil && x.lastKey == key {
		return x.last
	}
	p := x.pages[key]
	if p == nil {
		if !create {
			return nil
		}
		if x.pages == nil {
			x.pages = make(map[job.ID]*idPage)
		}
		p = new(idPage)
		x.pages[key] = p
	}
	x.last, x.lastKey = p, key
	return p
}

func (x *idIndex) get(id job.ID) int32 {
	if p := x.page(id, false); p != nil {
		return p[id%pageIDs]
	}
	return 0
}

func (x *idIndex) set(id job.ID, n int32) { x.page(id, true)[id%pageIDs] = n }

// nextJob returns a job struct to decode into; it stays the same until
// keepJob says the last one was kept.
func (rp *replayState) nextJob() *job.Job {
	if len(rp.jobs) == cap(rp.jobs) {
		rp.jobs = make([]job.Job, 0, 4096)
	}
	return &rp.jobs[:len(rp.jobs)+1][len(rp.jobs)]
}

func (rp *replayState) keepJob() { rp.jobs = rp.jobs[:len(rp.jobs)+1] }

// recover replays both stores into l and returns what it found.
func (l *Log) recover() (*Recovery, error) {
	start := time.Now()
	rec := &Recovery{}
	l.tubes = make(map[string]string)
	l.ticks = make(map[string]tickRec)
	defer func() { l.tubes = nil }()
	var rp replayState
	for _, st := range l.stores {
		if err := l.replayStore(st, &rp, rec); err != nil {
			return nil, err
		}
	}
	// Decide each job across the two stores.
	type fix struct {
		st  storeKind
		typ byte
		id  job.ID
		seg uint64
	}
	var fixes []fix
	rec.Jobs = make([]*job.Job, 0, rp.count())
	rec.Ticks = l.recoveredTicks()
	var segCache [2]*segment
	live := func(k storeKind, lc loc) {
		st := l.stores[k]
		if c := segCache[k]; c == nil || c.num != lc.seg {
			segCache[k] = st.byNum[lc.seg]
		}
		segCache[k].live += int64(lc.n)
		st.live += int64(lc.n)
	}
	decide := func(id job.ID, hh [2]*hist) {
		best, bestSeq := -1, uint64(0)
		var lastDelete uint64
		for k := range hh {
			h := hh[k]
			if s := h.localLast(); s > bestSeq {
				best, bestSeq = k, s
			}
			if h.delTyp == recDelete {
				lastDelete = max(lastDelete, h.del)
			}
		}
		if best >= 0 && lastDelete > bestSeq {
			best = -1
		}
		for k := range hh {
			h := hh[k]
			if k == best || h.localLast() == 0 {
				continue
			}
			typ := recGone
			if best < 0 {
				typ = recDelete
			}
			fixes = append(fixes, fix{st: storeKind(k), typ: typ, id: id, seg: h.put.lc.seg})
		}
		if best < 0 {
			return
		}
		h := hh[best]
		h.chosen = true
		j := h.put.j
		e := h.entry(storeKind(best))
		if e.last != e.put {
			applyUpdate(j, h.upd.j)
		}
		j.Body = append([]byte(nil), j.Body...)
		l.stores[e.st].jobs++
		live(e.st, e.put)
		if e.last != e.put {
			live(e.st, e.last)
		}
		rec.Jobs = append(rec.Jobs, j)
	}
	for _, slab := range rp.slabs {
		for i := range slab {
			decide(slab[i].id, slab[i].hists())
		}
	}

	// Every store gets a head to append to; conflicting copies left by a
	// crash in the middle of a move are closed with a tombstone.
	l.mu.Lock()
	unlock := true
	defer func() {
		if unlock {
			l.mu.Unlock()
		}
	}()
	if err := l.startMarks(); err != nil {
		return nil, err
	}
	for _, f := range fixes {
		l.seq++
		l.scratch = appendTomb(l.scratch[:0], f.typ, l.seq, f.id, f.seg)
		lc, err := l.place(l.stores[f.st], l.scratch, forTomb)
		if err != nil {
			return nil, fmt.Errorf("wal: close a job's copy left by a move: %w", err)
		}
		l.stores[f.st].byNum[lc.seg].tombs += int64(lc.n)
	}
	rec.NextID = l.nextID
	rec.Took = time.Since(start)
	// Filling the index (a million inserts for a million jobs) is
	// left to a goroutine that holds l.mu until it is done: every use of
	// the index takes l.mu, so the first append, compaction or Close
	// waits for it, while the caller restores the jobs into the engine
	// on the other core meanwhile. It ends by itself; Close, which takes
	// l.mu, cannot finish before it.
	unlock = false
	n := len(rec.Jobs)
	go func() {
		defer l.mu.Unlock()
		l.index = newJobIndex(n)
		for _, slab := range rp.slabs {
			for i := range slab {
				p := &slab[i]
				for k, h := range p.hists() {
					if h.chosen {
						l.index.set(p.id, h.entry(storeKind(k)))
					}
				}
			}
		}
	}()
	return rec, nil
}

// replayStore reads st's segments into rp, truncating a torn tail of
// the active segment, and sets up st's segments, spares, l.seq and
// l.nextID. Damage to a sealed segment, or a missing one, is ErrCorrupt
// (see doc.go, "Integrity").
func (l *Log) replayStore(st *store, rp *replayState, rec *Recovery) error {
	files, err := l.scanStore(st)
	if err != nil {
		return err
	}
	for i, sf := range files.segs {
		path := filepath.Join(st.dir, segmentName(sf.num))
		f, err := l.fs.Open(path)
		if err != nil {
			return fmt.Errorf("wal: open segment: %w", err)
		}
		s := &segment{num: sf.num, path: path, f: f}
		st.nextNum = sf.num + 1
		if i > files.head {
			// Header only, after the head: a spare.
			s.size, s.used, s.written = int64(len(sf.buf)), segmentHeaderSize, segmentHeaderSize
			st.spares = append(st.spares, s)
			continue
		}
		st.segs = append(st.segs, s)
		st.byNum[sf.num] = s
		buf := sf.buf
		if buf == nil {
			if buf, err = readSegment(f, path); err != nil {
				return err
			}
			if sf.size, err = checkHeader(buf, st.kind, sf.num); err != nil {
				return l.headerError(path, err)
			}
		}
		size := int64(len(buf))
		sealed := i < files.active
		if sealed && sf.size > 0 && size < sf.size {
			return fmt.Errorf("%w: %s offset %d: the file is %d bytes, its header says %d: a sealed segment was cut short; back up %s and run `reprieve repair --data %s`",
				ErrCorrupt, path, size, size, sf.size, l.opts.Dir, l.opts.Dir)
		}
		end, n, err := l.replaySegment(st, s, buf, rp, rec, sealed)
		if err != nil {
			return err
		}
		if sealed && n == 0 {
			return fmt.Errorf("%w: %s offset %d: a sealed segment holds no records (it was zeroed); back up %s and run `reprieve repair --data %s`",
				ErrCorrupt, path, segmentHeaderSize, l.opts.Dir, l.opts.Dir)
		}
		rec.Records += n
		rec.Segments++
		s.size, s.used, s.written = size, int64(end), int64(end)
		if want := max(sf.size, st.segSize); i == files.head && size < want {
			// The head was cut short (by hand, or a copy): give it back
			// its preallocated room.
			l.logger.Warn("wal: the active segment was cut short; its room is allocated again", "file", path, "bytes", size, "want", want)
			if err := l.fs.Allocate(f, want); err != nil {
				return fmt.Errorf("wal: preallocate %s: %w", path, err)
			}
			s.size = want
		}
	}
	return nil
}

// readSegment reads a whole segment file.
func readSegment(f file, path string) ([]byte, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("wal: stat %s: %w", path, err)
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("wal: read %s: %w", path, err)
	}
	return buf, nil
}

// replaySegment replays one segment's records into rp and returns the
// offset after the last good record and the number of records.
func (l *Log) replaySegment(st *store, s *segment, buf []byte, rp *replayState, rec *Recovery, sealed bool) (int, int, error) {
	off, count := segmentHeaderSize, 0
	hist := func(id job.ID) *hist { return rp.hist(id, st.kind) }
	for {
		r, n, err := readFrameInto(buf, off, rp.nextJob())
		if err == nil && n == 0 {
			if off >= len(buf) || lastNonZero(buf, off) < 0 {
				return off, count, nil
			}
			err = frameError("non-zero bytes after the end of the records")
		}
		if err != nil {
			return off, count, l.damaged(s, buf, off, err, rec, sealed)
		}
		count++
		l.seq = max(l.seq, r.seq)
		lc := loc{seg: s.num, off: uint32(off), n: uint32(n)}
		switch r.typ {
		case recMark:
			l.nextID = max(l.nextID, r.id)
		case recTick:
			l.nextID = max(l.nextID, r.id+1)
			l.replayTick(r, lc)
		case recPut, recUpdate:
			l.nextID = max(l.nextID, r.id+1)
			st.maxRec = max(st.maxRec, int64(n))
			// Jobs of a tube share one string, as they did before.
			if t, ok := l.tubes[r.job.Tube]; ok {
				r.job.Tube = t
			} else {
				l.tubes[r.job.Tube] = r.job.Tube
			}
			h := hist(r.id)
			c := &h.put
			if r.typ == recUpdate {
				c = &h.upd
			}
			// Equal seqs are verbatim copies: the later one is where the
			// record lives now.
			if c.j == nil || r.seq >= c.seq {
				if c.j != nil {
					*c.j = *r.job // reuse the loser's struct
				} else {
					c.j = r.job
					rp.keepJob()
				}
				c.seq, c.lc = r.seq, lc
			}
		case recDelete, recGone:
			s.tombs += int64(n)
			h := hist(r.id)
			if r.seq > h.del {
				h.del, h.delTyp = r.seq, r.typ
			}
		}
		off += n
	}
}

// lastNonZero returns the index of the last non-zero byte of b at or
// after from, or -1.
func lastNonZero(b []byte, from int) int {
	i := len(b) - 1
	// Whole 8-byte words first: the preallocated tail of a segment is
	// megabytes of zeros.
	for ; i-7 >= from && binary.LittleEndian.Uint64(b[i-7:]) == 0; i -= 8 {
	}
	for ; i >= from; i-- {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}

// nextValid returns the first 8-aligned offset at or after from holding a
// valid record, or -1.
func nextValid(b []byte, from int) int {
	for off := padded(from); off+frameHeaderSize <= len(b); off += 8 {
		if _, n, err := readFrame(b, off); err == nil && n > 0 {
			return off
		}
	}
	return -1
}
