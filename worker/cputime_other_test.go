//go:build !unix

package worker_test

import "time"

// cpuTime is 0 where the benchmarks cannot read the process's CPU time.
func cpuTime() time.Duration { return 0 }
