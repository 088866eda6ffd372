package bench

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"
)

// cmdKind is the kind of a command whose reply is awaited.
type cmdKind uint8

const (
	cmdPut cmdKind = iota
	cmdReserve
	cmdDelete
	cmdRelease
	cmdKick
)

// pending is a command sent and not yet answered. Replies come in the order
// the commands were sent, so a connection keeps them in a FIFO ring.
type pending struct {
	kind  cmdKind
	start int64 // when the request this command belongs to began (ns since run start)
}

// role is what a worker does.
type role uint8

const (
	roleProducer    role = iota // puts
	roleConsumer                // reserves, then deletes
	roleChurner                 // reserves, then releases
	roleStampWorker             // reserves stamped jobs, deletes, records put → reserve
)

// counters are read by the progress reporter while a worker runs; each
// worker owns one, padded so that workers do not share a cache line.
type counters struct {
	ops    atomic.Int64
	errors atomic.Int64
	_      [48]byte
}

// shared is the state the workers of one run have in common.
type shared struct {
	base time.Time
	stop atomic.Bool // Duration elapsed (or context done): start no new requests
	// producersLeft counts producers still running (PutReserveDelete);
	// once it is 0, every job is on the server and an empty tube means done.
	producersLeft atomic.Int64
	// claims counts reserves started against Count (PutReserveDelete with a
	// Count): a worker starts a reserve only while claims < Count.
	claims atomic.Int64
	count  int64
}

func (s *shared) now() int64 { return int64(time.Since(s.base)) }

// worker drives one connection.
type worker struct {
	c        *conn
	sh       *shared
	role     role
	pipeline int
	budget   int64 // requests left to start; -1 for no bound
	interval int64 // producers with a rate: ns between puts (0: as fast as possible)
	nextAt   int64 // when the next paced put is due
	countOps bool  // completed requests count as operations of the run

	putHeader    []byte
	body         []byte
	reserve      []byte // reserve command while producers run
	reserveEmpty []byte // reserve-with-timeout 0, once the tube can only shrink
	pri          uint32
	delay        int
	kick         []byte // release-churn with Kick: the kick command sent when no job is ready

	ring     []pending
	head, n  int
	inflight int  // requests started and not finished
	drained  bool // the tube was found empty: start nothing more
	timeouts int  // consecutive TIMED_OUT replies (ReleaseChurn)

	lat      Histogram // the run's main latency
	lat2     Histogram // the put latency of PutReserveDelete producers
	lastDone int64
	errs     int64
	cnt      counters
}

// newWorker returns the worker of connection index (counted over all the
// run's connections) in role r.
func newWorker(c *conn, sh *shared, r role, cfg Config, index int, budget int64) *worker {
	w := &worker{
		c: c, sh: sh, role: r, pipeline: cfg.Pipeline, budget: budget,
		countOps:     r != roleProducer || cfg.Workload == Put,
		pri:          cfg.Priority,
		delay:        int(cfg.Delay / time.Second),
		ring:         make([]pending, 2*cfg.Pipeline+2),
		reserveEmpty: reserveCmd(0),
	}
	switch r {
	case roleProducer:
		if cfg.Rate > 0 {
			producers := cfg.Conns
			if cfg.Workload == PutReserveDelete {
				producers /= 2 // cfg counts producers and workers here
			}
			w.interval = int64(time.Second) * int64(producers) / int64(cfg.Rate)
			w.interval = max(w.interval, 1)
			// Producer i's schedule is offset by i/producers of an
			// interval, so that the puts of all producers are evenly spread.
			w.nextAt = w.interval * int64(index%producers) / int64(producers)
		}
		w.putHeader = putHeader(cfg.Priority, int(cfg.TTR/time.Second), cfg.Size)
		w.body = make([]byte, cfg.Size)
		for i := range w.body {
			w.body[i] = 'x'
		}
	case roleConsumer:
		w.reserve = w.reserveEmpty
	case roleChurner:
		w.reserve = reserveCmd(cfg.Delay + time.Second)
		if cfg.Kick {
			w.reserve = w.reserveEmpty
			w.kick = []byte("kick 1000000000\r\n") // every delayed job of the tube
		}
	case roleStampWorker:
		w.reserve = reserveCmd(time.Second)
	}
	return w
}

func (w *worker) push(k cmdKind, start int64) {
	w.ring[(w.head+w.n)%len(w.ring)] = pending{kind: k, start: start}
	w.n++
}

func (w *worker) pop() pending {
	p := w.ring[w.head]
	w.head = (w.head + 1) % len(w.ring)
	w.n--
	return p
}

// canStart reports whether the worker may begin one more request.
func (w *worker) canStart() bool {
	if w.drained || w.budget == 0 {
		return false
	}
	switch w.role {
	case roleStampWorker:
		if w.sh.count > 0 {
			if w.sh.claims.Add(1) > w.sh.count {
				w.sh.claims.Add(-1)
				return false
			}
		}
		return true
	case roleProducer:
		if w.sh.stop.Load() {
			return false
		}
		return w.interval == 0 || w.sh.now() >= w.nextAt
	default:
		return !w.sh.stop.Load()
	}
}

// pace sleeps until the next paced put is due, when a rate-limited producer
// has nothing in flight; it reports whether there is a put left to start.
func (w *worker) pace() bool {
	if w.interval == 0 || w.drained || w.budget == 0 || w.sh.stop.Load() {
		return false
	}
	if d := w.nextAt - w.sh.now(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return true
}

// start writes the first command of a new request.
func (w *worker) start(now int64) {
	if w.budget > 0 {
		w.budget--
	}
	w.inflight++
	switch w.role {
	case roleProducer:
		if w.interval > 0 {
			// A paced put starts when the schedule says it should be sent,
			// however late it is sent: a stall of the server (or of the
			// generator) delays the puts due meanwhile, and their latency
			// includes that wait. Measuring from the actual send would hide
			// it (coordinated omission). The schedule never slips: after a
			// stall the overdue puts go out as fast as the pipeline allows.
			now = w.nextAt
			w.nextAt += w.interval
		}
		if len(w.body) >= stampLen {
			writeStamp(w.body, now)
		}
		w.c.writePut(w.putHeader, w.body)
		w.push(cmdPut, now)
	default:
		cmd := w.reserve
		if w.role == roleStampWorker && w.sh.producersLeft.Load() == 0 {
			cmd = w.reserveEmpty
		}
		w.c.w.Write(cmd)
		w.push(cmdReserve, now)
	}
}

// finish ends a request; ok says whether it counts as an operation.
func (w *worker) finish(now int64, ok bool) {
	w.inflight--
	if !ok {
		return
	}
	w.lastDone = now
	if w.countOps {
		w.cnt.ops.Add(1)
	}
}

func (w *worker) fail() {
	w.inflight--
	w.errs++
	w.cnt.errors.Add(1)
}

// loop runs the worker until it has nothing left to start and every reply
// has been read.
func (w *worker) loop() error {
	for {
		now := w.sh.now()
		for w.inflight < w.pipeline && w.canStart() {
			w.start(now)
		}
		if w.n == 0 {
			if w.pace() {
				continue
			}
			return nil
		}
		if err := w.c.w.Flush(); err != nil {
			return fmt.Errorf("bench: send: %w", err)
		}
		for {
			line, err := w.c.readLine()
			if err != nil {
				return err
			}
			if err := w.handle(w.pop(), line, w.sh.now()); err != nil {
				return err
			}
			if w.n == 0 || w.c.r.Buffered() == 0 {
				break
			}
		}
	}
}

// handle consumes the reply line (and any body after it) to command p.
func (w *worker) handle(p pending, line []byte, now int64) error {
	k := kindOf(line)
	switch p.kind {
	case cmdPut:
		if k != replyInserted { // OUT_OF_MEMORY, DRAINING, BURIED (no memory for the heap), …
			w.fail()
			return nil
		}
		if w.countOps {
			w.lat.Record(time.Duration(now - p.start))
		} else {
			w.lat2.Record(time.Duration(now - p.start))
		}
		w.finish(now, true)
	case cmdReserve:
		switch k {
		case replyReserved:
			id, sent, err := w.c.readJob(line, w.role == roleStampWorker)
			if err != nil {
				return err
			}
			w.timeouts = 0
			if w.role == roleChurner {
				w.c.writeRelease(id, w.pri, w.delay)
				w.push(cmdRelease, p.start)
				return nil
			}
			if w.role == roleStampWorker {
				w.lat.Record(time.Duration(now - sent))
			}
			w.c.writeDelete(id)
			w.push(cmdDelete, p.start)
		case replyTimedOut, replyDeadlineSoon:
			w.inflight--
			if w.budget >= 0 && k == replyTimedOut {
				w.budget++ // the request did nothing: start it again
			}
			switch w.role {
			case roleConsumer:
				w.drained = true
			case roleStampWorker:
				if w.sh.count > 0 {
					w.sh.claims.Add(-1)
				}
				// Once every producer is done, every job is on the server: a
				// reserve that found nothing means the tube is empty for good
				// (jobs other workers hold are theirs to delete).
				w.drained = w.sh.producersLeft.Load() == 0
			case roleChurner:
				if w.kick != nil && k == replyTimedOut {
					// Every job is delayed: bring them back, as an
					// operator (or a retry schedule's end) would.
					w.inflight++
					w.c.w.Write(w.kick)
					w.push(cmdKick, p.start)
					return nil
				}
				w.timeouts++
				if w.timeouts > 3 {
					return fmt.Errorf("bench: no job became ready in %d reserves of %s: the churn's jobs are gone", w.timeouts, w.reserve[:len(w.reserve)-2])
				}
			}
		default:
			return fmt.Errorf("%w: %q to reserve", ErrProtocol, line)
		}
	case cmdKick:
		if k != replyOther || !bytes.HasPrefix(line, []byte("KICKED ")) {
			return fmt.Errorf("%w: %q to kick", ErrProtocol, line)
		}
		w.inflight--
		w.timeouts = 0
	case cmdDelete, cmdRelease:
		want := replyDeleted
		if p.kind == cmdRelease {
			want = replyReleased
		}
		if k != want {
			w.fail()
			return nil
		}
		if w.role != roleStampWorker {
			w.lat.Record(time.Duration(now - p.start))
		}
		w.finish(now, true)
	}
	return nil
}
