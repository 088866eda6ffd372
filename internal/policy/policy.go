// Package policy holds the per-tube policies of a Reprieve server: what a
// tube does with a failed job (retry on a schedule, then give up by
// burying, dead-lettering or deleting it; the decision is Policy.Decide),
// how long buried and dead jobs are kept, when a ready job is too old to
// run, and flow control (concurrency and rate limits, unique jobs); and
// the server's periodic jobs (Schedule). Policies come from a YAML file in
// the config dialect (Load) and are chosen per tube by name (Set.Lookup).
package policy

import (
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/retry"
)

// Action is what a tube does with a job whose retries are used up (or
// that fails in a tube without retry, or whose ready window expired).
type Action uint8

// The give-up actions. The zero value is Bury.
const (
	// Bury buries the job in its own tube, as a beanstalkd worker would.
	Bury Action = iota
	// DeadLetter moves the job to GiveUp.Tube and buries it there; its
	// Failure.Origin keeps the tube it came from, and a kick sends it back
	// to that origin tube, ready.
	DeadLetter
	// Delete deletes the job (the deletion is logged and counted).
	Delete
)

// String returns the action's name as written in the config file and in
// replies: "bury", "dead-letter" or "delete".
func (a Action) String() string {
	switch a {
	case Bury:
		return "bury"
	case DeadLetter:
		return "dead-letter"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// ParseAction returns the Action named s, or false.
func ParseAction(s string) (Action, bool) {
	switch s {
	case "bury":
		return Bury, true
	case "dead-letter":
		return DeadLetter, true
	case "delete":
		return Delete, true
	}
	return 0, false
}

// GiveUp is a tube's give-up path.
type GiveUp struct {
	// Action is what happens to the job; default Bury.
	Action Action
	// Tube is the dead-letter tube, required for DeadLetter and empty
	// otherwise.
	Tube string
}

// Retention bounds the buried jobs of a tube (dead letters included: they
// are buried in their dead-letter tube). When a bound is passed, the
// oldest buried jobs are deleted, each logged and counted. A zero field
// means that bound is off.
type Retention struct {
	// MaxAge deletes a buried job this long after it was buried.
	MaxAge time.Duration
	// MaxCount keeps at most this many buried jobs in the tube.
	MaxCount int
	// MaxBytes keeps the bodies of the tube's buried jobs within this
	// many bytes in all.
	MaxBytes int64
}

// IsZero reports whether no bound is set.
func (r Retention) IsZero() bool { return r == Retention{} }

// Policy is the failure policy of one tube. The engine applies it when a
// worker sends `fail` or a reservation's TTR expires (both count as one
// failure), when a job has waited ready longer than ReadyExpiry, and when
// a buried job is kicked. A tube without a Policy (nil) behaves exactly
// like beanstalkd.
type Policy struct {
	// Retry is the retry schedule; nil means no retry: the first failure
	// gives up at once.
	Retry *retry.Schedule
	// GiveUp is what happens when retries are used up.
	GiveUp GiveUp
	// Retention bounds the tube's buried jobs.
	Retention Retention
	// ReadyExpiry sends a job that has been ready this long without being
	// reserved to the give-up path; 0 means never. It is counted from the
	// moment the job last became ready.
	ReadyExpiry time.Duration
	// KickResetsAttempts makes a kick set the job's attempt count back to
	// zero (a fresh schedule); false keeps the count, so the next failure
	// goes on where the schedule was. Either way the kick is remembered in
	// the job's Failure.KickedAt.
	KickResetsAttempts bool

	// Concurrency is the most jobs of the tube reserved at once, across
	// every connection; 0 means no limit.
	Concurrency int
	// Rate limits how fast jobs of the tube are reserved; nil: no limit.
	Rate *Rate
	// Unique makes a put that duplicates a live job of the tube answer
	// that job's id instead of creating one; nil: every put is a job.
	Unique *Unique
}

// Rate is a token bucket: Limit reserves per Per, up to Burst at once
// after a quiet spell. A reserve takes one token; tokens come back at
// Limit/Per.
type Rate struct {
	Limit int
	Per   time.Duration
	Burst int
}

// Interval returns how long one token takes to come back.
func (r *Rate) Interval() time.Duration { return r.Per / time.Duration(r.Limit) }

// UniqueKey says what part of a job makes it a duplicate.
type UniqueKey struct {
	// Field, if set, is the name of a top-level field of a JSON object
	// body; its value (as written, for a string without quotes) is the
	// key. A body that is not a JSON object with that field is never a
	// duplicate. Empty: the key is the whole body.
	Field string
}

// String returns "body" or "json:FIELD", as written in the file.
func (k UniqueKey) String() string {
	if k.Field == "" {
		return "body"
	}
	return "json:" + k.Field
}

// Unique is a tube's dedupe rule. A put whose key matches a live job of
// the tube (ready, delayed or reserved; buried too with Buried) created
// less than Window ago (any age when 0) makes no job and is answered with
// that job's id.
type Unique struct {
	Key    UniqueKey
	Buried bool
	Window time.Duration
}
