package broker

import "time"

// policySet is a placeholder until failure policies land.
type policySet struct{}

func (b *Broker) initPolicies(cfg Config)                                {}
func (b *Broker) policyTick(t *tube) (time.Time, bool)                   { return time.Time{}, false }
func (b *Broker) policyDue(t *tube, now time.Time, cs *[]Commit)         {}
func (b *Broker) noteReady(t *tube, r *rec, now time.Time)               {}
func (b *Broker) noteBuried(t *tube, r *rec, now time.Time)              {}
func (b *Broker) noteKick(r *rec, now time.Time)                         {}
func (b *Broker) failOnTimeout(cs *[]Commit, r *rec, now time.Time) bool { return false }
