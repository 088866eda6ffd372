package beanstalk

import "errors"

// MaxLineLen is the longest command line beanstalkd reads, "\r\n" included.
const MaxLineLen = 224

// MaxTubeNameLen is the longest tube name, in bytes.
const MaxTubeNameLen = 200

// DefaultMaxJobSize is beanstalkd's default limit on a job body, in bytes.
const DefaultMaxJobSize = 65535

// Protocol errors: each is answered with the reply of the same name and the
// connection goes on with the next command.
var (
	ErrBadFormat      = errors.New("beanstalk: BAD_FORMAT")
	ErrUnknownCommand = errors.New("beanstalk: UNKNOWN_COMMAND")
	ErrExpectedCRLF   = errors.New("beanstalk: EXPECTED_CRLF")
	ErrJobTooBig      = errors.New("beanstalk: JOB_TOO_BIG")
)

// errCounted is a BAD_FORMAT found after beanstalkd has counted the command
// in its cmd-* statistics; ParseCommand reports it as ErrBadFormat but
// leaves Command.Op set.
var errCounted = errors.New("beanstalk: BAD_FORMAT (counted)")

// Op identifies a command. The zero Op is no command.
type Op uint8

// The commands of beanstalkd 1.12, then Reprieve's extension commands
// (docs/protocol.md, "Extensions"), in the order of the command table
// (commands.go).
const (
	OpNone Op = iota
	OpPut
	OpPeek
	OpPeekReady
	OpPeekDelayed
	OpPeekBuried
	OpReserveWithTimeout
	OpReserveJob
	OpReserve
	OpDelete
	OpRelease
	OpBury
	OpKick
	OpKickJob
	OpTouch
	OpStatsJob
	OpStatsTube
	OpStats
	OpUse
	OpWatch
	OpIgnore
	OpListTubesWatched
	OpListTubeUsed
	OpListTubes
	OpQuit
	OpPauseTube

	// OpFail is "fail <id> <bytes>\r\n<error text>\r\n": ID, Size, Body.
	OpFail
	// OpGiveUp is "give-up <id> <bytes>\r\n<error text>\r\n", fail without
	// a retry: ID, Size, Body.
	OpGiveUp
	// OpListJobs is "list-jobs <tube> <state> <after-id> <limit>": Tube,
	// Args (the state word), ID (after-id), Bound (limit).
	OpListJobs
	// OpKickTube is "kick-tube <tube> <bound> <bytes>\r\n<text>\r\n":
	// Tube, Bound, Size, Body (the text the last error must contain;
	// empty for every buried job).
	OpKickTube
	// OpFlushTube is "flush-tube <tube> <state>": Tube, Args (the state
	// word).
	OpFlushTube
	// OpClaim is "claim <seconds>", reserve-with-timeout whose reply
	// carries the job's tube, priority, TTR and failure count: Timeout.
	OpClaim

	numOps
)

// MaxOps bounds the number of Ops, extensions included, so that per-Op
// tables can be arrays.
const MaxOps = 64

var _ [MaxOps - numOps]struct{} // numOps <= MaxOps

// String returns the command's name as written on the wire ("put",
// "reserve-with-timeout"), or "" for OpNone or an Op past the last.
func (op Op) String() string {
	if int(op) < len(table.byOp) && table.byOp[op] != nil {
		return table.byOp[op].Name
	}
	return ""
}

// Command is one parsed command. Which fields are set depends on Op; the
// parser reuses a Command, so a caller that keeps a field beyond the next
// command must copy it (Tube and Args excepted, which are fresh strings).
type Command struct {
	Op Op
	// ID is the job id of peek, reserve-job, delete, release, bury,
	// kick-job, touch and stats-job.
	ID uint64
	// Pri is the priority of put, release and bury.
	Pri uint32
	// Delay is the delay of put and release, the pause of pause-tube, in
	// seconds.
	Delay uint32
	// TTR is put's time to run in seconds, as sent (0 is raised to 1 by
	// the engine).
	TTR uint32
	// Size is put's body size in bytes.
	Size uint32
	// Body is put's body (without the trailing "\r\n"), freshly allocated
	// for each put: the engine may keep it.
	Body []byte
	// Timeout is reserve-with-timeout's timeout in seconds; negative waits
	// forever, as in beanstalkd. claim's is never negative.
	Timeout int32
	// Bound is kick's bound.
	Bound uint32
	// Tube is the tube name of use, watch, ignore, stats-tube, pause-tube.
	Tube string
	// Args is the text after the command's prefix, for extension commands
	// that parse it themselves.
	Args []byte
}

// reset clears c for the next command, keeping nothing.
func (c *Command) reset() {
	*c = Command{}
}
