package broker

import (
	"sync"
	"time"

	"github.com/reprieve/reprieve/internal/policy"
)

// lookupIn returns the lookup of set, translating each policy.Policy once
// into the engine's view of it.
func lookupIn(set *policy.Set) policyLookup {
	var mu sync.Mutex // protects seen; the lookup may be shared by brokers
	seen := map[*policy.Policy]*tubePolicy{}
	return func(tube string) *tubePolicy {
		p := set.Lookup(tube)
		if p == nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		tp := seen[p]
		if tp == nil {
			tp = fromPolicy(p)
			seen[p] = tp
		}
		return tp
	}
}

// fromPolicy is the engine's view of p.
func fromPolicy(p *policy.Policy) *tubePolicy {
	tp := &tubePolicy{
		DeadLetterTube: p.GiveUp.Tube,
		KeepAge:        p.Retention.MaxAge,
		KeepCount:      p.Retention.MaxCount,
		KeepBytes:      int(p.Retention.MaxBytes),
		ReadyWithin:    p.ReadyExpiry,
		KickResets:     p.KickResetsAttempts,
	}
	switch p.GiveUp.Action {
	case policy.DeadLetter:
		tp.GiveUp = giveUpDeadLetter
	case policy.Delete:
		tp.GiveUp = giveUpDelete
	default:
		tp.GiveUp = giveUpBury
	}
	if p.Retry != nil {
		s := *p.Retry
		tp.Retry = func(attempts uint32, since, now time.Time) (time.Duration, bool) {
			d, giveUp := s.Next(int(attempts), since, now, nil)
			return d, !giveUp
		}
	}
	return tp
}
