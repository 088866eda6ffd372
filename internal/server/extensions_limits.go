package server

import (
	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/broker"
)

// The flow-control keys of stats-tube (docs/protocol.md, "Extensions";
// docs/policies.md, "Flow control"): the tube's limits and what they held
// back. The jobs out against limit-concurrency are current-jobs-reserved.
func init() {
	AddTubeStats(func(ts *broker.TubeStats, d *beanstalk.Dict) {
		d.Uint("limit-concurrency", uint64(ts.LimitConcurrency))
		d.Quoted("limit-rate", ts.LimitRate)
		d.Uint("limit-burst", uint64(ts.LimitBurst))
		d.Quoted("unique", ts.Unique)
		d.Uint("total-held-by-concurrency", ts.HeldByConcurrency)
		d.Uint("total-held-by-rate", ts.HeldByRate)
		d.Uint("total-duplicates", ts.Duplicates)
	})
}
