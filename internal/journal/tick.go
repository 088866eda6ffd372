package journal

import (
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

// Ticker is a Journal that also keeps, for each periodic job (a policy
// schedule, by name), the last tick the engine fired, so that a restart
// neither repeats that tick nor forgets it. The engine calls Tick with its
// lock held, just before it puts the tick's job (job id), and does not
// wait on the Commit. A Journal that is not a Ticker keeps no ticks: each
// start then counts as a schedule's first.
type Ticker interface {
	Tick(schedule string, at time.Time, id job.ID) (Commit, error)
}
