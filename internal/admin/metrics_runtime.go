package admin

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/promtext"
)

// This file writes the Go runtime's and the process's metrics under the
// names the Prometheus Go client uses (go_*, process_*), so that the usual
// dashboards and alerts for Go programs work on Reprieve as they are.

// processStart is when this process started, as near as Go can tell.
var processStart = time.Now()

// runtimeSamples are the runtime/metrics read at each scrape.
var runtimeSamples = []metrics.Sample{
	{Name: "/sched/goroutines:goroutines"},
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/gc/heap/allocs:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/gc/heap/goal:bytes"},
	{Name: "/sched/gomaxprocs:threads"},
}

// writeRuntimeMetrics writes go_* and process_* families.
func writeRuntimeMetrics(e *promtext.Writer) {
	s := append([]metrics.Sample(nil), runtimeSamples...)
	metrics.Read(s)
	val := func(i int) float64 {
		switch s[i].Value.Kind() {
		case metrics.KindUint64:
			return float64(s[i].Value.Uint64())
		case metrics.KindFloat64:
			return s[i].Value.Float64()
		}
		return 0
	}
	e.Family("go_info", promtext.Gauge, "Information about the Go environment.")
	e.Sample("go_info", 1, "version", runtime.Version())
	e.One("go_goroutines", promtext.Gauge, "Number of goroutines that currently exist.", val(0))
	e.One("go_gc_cycles_total", promtext.Counter, "Completed GC cycles.", val(1))
	e.One("go_memstats_alloc_bytes_total", promtext.Counter, "Total number of bytes allocated on the heap, even if freed.", val(2))
	e.One("go_memstats_heap_alloc_bytes", promtext.Gauge, "Number of heap bytes allocated and still in use.", val(3))
	e.One("go_memstats_sys_bytes", promtext.Gauge, "Number of bytes obtained from the system.", val(4))
	e.One("go_memstats_next_gc_bytes", promtext.Gauge, "Number of heap bytes when the next garbage collection will take place.", val(5))
	e.One("go_sched_gomaxprocs_threads", promtext.Gauge, "The current runtime.GOMAXPROCS setting.", val(6))

	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		e.One("process_cpu_seconds_total", promtext.Counter, "Total user and system CPU time spent in seconds.", cpu.Seconds())
	}
	if rss, vsz, ok := procMemory(); ok {
		e.One("process_resident_memory_bytes", promtext.Gauge, "Resident memory size in bytes.", rss)
		e.One("process_virtual_memory_bytes", promtext.Gauge, "Virtual memory size in bytes.", vsz)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		e.One("process_open_fds", promtext.Gauge, "Number of open file descriptors.", float64(len(fds)))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		e.One("process_max_fds", promtext.Gauge, "Maximum number of open file descriptors.", float64(lim.Cur))
	}
	e.One("process_start_time_seconds", promtext.Gauge, "Start time of the process since unix epoch in seconds.", float64(processStart.UnixNano())/1e9)
}

// procMemory reads the resident and virtual sizes from /proc/self/statm
// (Linux); ok is false elsewhere.
func procMemory() (rss, vsz float64, ok bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, false
	}
	pages, err1 := strconv.ParseFloat(f[0], 64)
	res, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	page := float64(os.Getpagesize())
	return res * page, pages * page, true
}
