package broker

import (
	"bytes"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/reprieve/reprieve/internal/job"
)

// A put whose body came from BodyBuffer costs one allocation: the record
// and the body together. This is a contract of the server's put path
// (BenchmarkPutPipelined in internal/server: 1 allocs/op).
func TestPutWithBodyBufferAllocatesOnce(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	for range 100 { // the job table's first pages and the heap's first growth
		mustPut(t, s, 1, 0, time.Minute, "warm")
	}
	joint := testing.AllocsPerRun(1000, func() {
		body := s.BodyBuffer(64)
		if _, err := s.Put(1, 0, time.Minute, body); err != nil {
			t.Fatal(err)
		}
	})
	apart := testing.AllocsPerRun(1000, func() {
		if _, err := s.Put(1, 0, time.Minute, make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
	})
	if joint != 1 || apart != 2 {
		t.Fatalf("allocations per put: %v with BodyBuffer, %v with a body of its own; want 1 and 2", joint, apart)
	}
}

// Bodies of every size come back intact and of exactly their size, whether
// they share the record's allocation or not, and a buffer not given to the
// next Put is never reused.
func TestBodyBufferSizes(t *testing.T) {
	b, _ := newTest(t, nil)
	s := open(t, b)
	for _, size := range []int{0, 1, 16, 17, 32, 64, 65, 128, 256, 300, maxJointBody, maxJointBody + 1, 4096} {
		body := s.BodyBuffer(size)
		if len(body) != size || cap(body) != size {
			t.Fatalf("BodyBuffer(%d): len %d cap %d", size, len(body), cap(body))
		}
		for i := range body {
			body[i] = byte('a' + (i+size)%26)
		}
		want := bytes.Clone(body)
		id, err := s.Put(1, 0, time.Minute, body)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Peek(id)
		if err != nil || !bytes.Equal(p.Body, want) {
			t.Fatalf("size %d: peek %v, body differs: %v", size, err, !bytes.Equal(p.Body, want))
		}
	}

	// A buffer asked for and then not used: the next Put takes its own
	// record, and a later Put of the stale buffer does too.
	stale := s.BodyBuffer(10)
	copy(stale, "0123456789")
	other := mustPut(t, s, 1, 0, time.Minute, "other")
	again, err := s.Put(1, 0, time.Minute, stale)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[job.ID]string{other: "other", again: "0123456789"} {
		p, err := b.Peek(id)
		if err != nil || string(p.Body) != want {
			t.Fatalf("job %d: %v body %q, want %q", id, err, p.Body, want)
		}
	}
}

// Each joint type fills its size class exactly (the bytes the runtime
// hands out per value are the class the type was sized for: no larger
// class rounds it up, the malloc header of the largest included),
// and a 64-byte body (the size the benchmarks and bench/compare put) takes
// 256 bytes with its record. A field added to rec or job.Job moves every
// class: this test says by how much.
func TestRecordAndBodyFillSizeClasses(t *testing.T) {
	if got := unsafe.Sizeof(rec{}); got != 192 {
		t.Errorf("rec is %d bytes, want 192 (a 64-byte body would no longer share a 256-byte allocation)", got)
	}
	for _, c := range []struct {
		name  string
		class uint64
		make  func() any
	}{
		{"recBody208", 208, func() any { return new(recBody208) }},
		{"recBody224", 224, func() any { return new(recBody224) }},
		{"recBody256", 256, func() any { return new(recBody256) }},
		{"recBody320", 320, func() any { return new(recBody320) }},
		{"recBody448", 448, func() any { return new(recBody448) }},
		{"recBody640", 640, func() any { return new(recBody640) }},
	} {
		if got := allocatedPer(c.make); got != c.class {
			t.Errorf("%s: the runtime allocates %d bytes per value, want its class %d", c.name, got, c.class)
		}
	}
	if r, body := newRecBody(64); r == nil || cap(body) != 64 || unsafe.Sizeof(recBody256{}) != 256 {
		t.Fatalf("newRecBody(64): %v, cap %d; recBody256 is %d bytes", r, cap(body), unsafe.Sizeof(recBody256{}))
	}
}

// allocatedPer returns the heap bytes the runtime hands out per value
// that mk allocates (its size class), over many values kept alive.
func allocatedPer(mk func() any) uint64 {
	const n = 16384 // other goroutines may allocate meanwhile: up to n bytes change nothing
	keep := make([]any, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = mk()
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return (after.TotalAlloc - before.TotalAlloc) / n
}
