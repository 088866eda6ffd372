package broker

// heapKind selects the order of a jobHeap.
type heapKind uint8

const (
	// byPriority orders ready jobs: lowest priority value first, then
	// lowest id (FIFO among equals), as beanstalkd does.
	byPriority heapKind = iota
	// byDeadline orders delayed and reserved jobs: earliest deadline
	// first, then lowest id.
	byDeadline
	// bySeq orders buried jobs in the order they were buried.
	bySeq
)

// jobHeap is a binary min-heap of jobs that keeps each job's position in
// rec.idx, so that any job can be removed in O(log n). A job is in at most
// one heap at a time (the one of its state), so one index field suffices.
type jobHeap struct {
	kind heapKind
	a    []*rec
}

func (h *jobHeap) len() int { return len(h.a) }

func (h *jobHeap) top() *rec {
	if len(h.a) == 0 {
		return nil
	}
	return h.a[0]
}

func (h *jobHeap) less(x, y *rec) bool {
	switch h.kind {
	case byPriority:
		if x.Priority != y.Priority {
			return x.Priority < y.Priority
		}
	case byDeadline:
		if c := x.Deadline.Compare(y.Deadline); c != 0 {
			return c < 0
		}
	default:
		return x.seq < y.seq
	}
	return x.ID < y.ID
}

func (h *jobHeap) push(r *rec) {
	r.idx = len(h.a)
	h.a = append(h.a, r)
	h.up(r.idx)
}

// remove takes r out of the heap; r must be in it.
func (h *jobHeap) remove(r *rec) {
	i := r.idx
	n := len(h.a) - 1
	if i != n {
		h.swap(i, n)
	}
	h.a[n] = nil
	h.a = h.a[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	r.idx = -1
	if n == 0 && cap(h.a) > 1024 {
		h.a = nil // give back the memory of a queue that drained
	}
}

// fix restores the order after r's key changed.
func (h *jobHeap) fix(r *rec) {
	if !h.down(r.idx) {
		h.up(r.idx)
	}
}

func (h *jobHeap) swap(i, j int) {
	h.a[i], h.a[j] = h.a[j], h.a[i]
	h.a[i].idx = i
	h.a[j].idx = j
}

func (h *jobHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(h.a[j], h.a[i]) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *jobHeap) down(i0 int) bool {
	i, n := i0, len(h.a)
	for {
		j := 2*i + 1
		if j >= n || j < 0 {
			break
		}
		if j2 := j + 1; j2 < n && h.less(h.a[j2], h.a[j]) {
			j = j2
		}
		if !h.less(h.a[j], h.a[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// ticker is something with a next time to act (a tube or a session),
// kept in a tickHeap by that time.
type ticker interface {
	tickTime() int64
	tickIndex() *int
}

// tickHeap is a min-heap of tubes or sessions by the time they next need
// the timer (unix nanoseconds); each keeps its position via tickIndex.
type tickHeap[T ticker] struct{ a []T }

func (h *tickHeap[T]) top() (T, bool) {
	var zero T
	if len(h.a) == 0 {
		return zero, false
	}
	return h.a[0], true
}

// set inserts x or moves it after its tick time changed.
func (h *tickHeap[T]) set(x T) {
	p := x.tickIndex()
	if *p < 0 {
		*p = len(h.a)
		h.a = append(h.a, x)
		h.up(*p)
		return
	}
	if !h.down(*p) {
		h.up(*p)
	}
}

// remove takes x out if it is in.
func (h *tickHeap[T]) remove(x T) {
	p := x.tickIndex()
	i := *p
	if i < 0 {
		return
	}
	n := len(h.a) - 1
	if i != n {
		h.swap(i, n)
	}
	var zero T
	h.a[n] = zero
	h.a = h.a[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	*p = -1
}

func (h *tickHeap[T]) swap(i, j int) {
	h.a[i], h.a[j] = h.a[j], h.a[i]
	*h.a[i].tickIndex() = i
	*h.a[j].tickIndex() = j
}

func (h *tickHeap[T]) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if h.a[j].tickTime() >= h.a[i].tickTime() {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *tickHeap[T]) down(i0 int) bool {
	i, n := i0, len(h.a)
	for {
		j := 2*i + 1
		if j >= n || j < 0 {
			break
		}
		if j2 := j + 1; j2 < n && h.a[j2].tickTime() < h.a[j].tickTime() {
			j = j2
		}
		if h.a[j].tickTime() >= h.a[i].tickTime() {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
