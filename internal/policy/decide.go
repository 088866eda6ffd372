package policy

import (
	"time"

	"github.com/reprieve/reprieve/internal/retry"
)

// Decision is what one failure of a job leads to.
type Decision struct {
	// Retry is true when the job is tried again after Delay; otherwise the
	// policy gives up with Action (into Tube for DeadLetter).
	Retry  bool
	Delay  time.Duration
	Action Action
	Tube   string
}

// Decide is the failure decision, retry when or give up how, for failure
// number attempts (counted from 1, this one included) of a job of tube,
// whose current series of attempts began at since, failing at now. It is
// pure: rnd draws the jitter (nil: none, the middle of the range). A nil
// Policy, or one without Retry, gives up at the first failure.
func (p *Policy) Decide(tube string, attempts uint32, since, now time.Time, rnd retry.Source) Decision {
	if p != nil && p.Retry != nil {
		if d, giveUp := p.Retry.Next(int(attempts), since, now, rnd); !giveUp {
			return Decision{Retry: true, Delay: d}
		}
	}
	a, t := p.GiveUpPath(tube)
	return Decision{Action: a, Tube: t}
}

// GiveUpPath returns how a job of tube is given up: the policy's action,
// except that a dead letter with no tube, or into the job's own tube, is
// buried where it is. A nil Policy buries.
func (p *Policy) GiveUpPath(tube string) (Action, string) {
	if p == nil {
		return Bury, ""
	}
	g := p.GiveUp
	if g.Action == DeadLetter && (g.Tube == "" || g.Tube == tube) {
		return Bury, ""
	}
	if g.Action != DeadLetter {
		g.Tube = ""
	}
	return g.Action, g.Tube
}
