package beanstalk

import (
	"bytes"
	"strconv"
)

// The state words of list-jobs and flush-tube.
const (
	StateReady    = "ready"
	StateDelayed  = "delayed"
	StateReserved = "reserved"
	StateBuried   = "buried"
	StateAll      = "all"
)

// MaxListLimit is the largest page list-jobs returns.
const MaxListLimit = 1000

// ValidState reports whether w is a state word of list-jobs/flush-tube.
func ValidState(w []byte) bool {
	switch string(w) {
	case StateReady, StateDelayed, StateReserved, StateBuried, StateAll:
		return true
	}
	return false
}

// words splits args into exactly n words separated by single spaces; any
// other spacing is a format error.
func words(args []byte, n int) ([][]byte, bool) {
	w := bytes.Split(args, []byte{' '})
	if len(w) != n {
		return nil, false
	}
	for _, x := range w {
		if len(x) == 0 {
			return nil, false
		}
	}
	return w, true
}

// decimal reads a whole unsigned decimal number of at most bits bits.
func decimal(w []byte, bits int) (uint64, bool) {
	if len(w) == 0 || len(w) > 20 {
		return 0, false
	}
	for _, c := range w {
		if !isDigit(c) {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(string(w), 10, bits)
	return v, err == nil
}

func parseFail(args []byte, c *Command) error {
	w, ok := words(args, 2)
	if !ok {
		return ErrBadFormat
	}
	id, ok1 := decimal(w[0], 64)
	size, ok2 := decimal(w[1], 32)
	if !ok1 || !ok2 {
		return ErrBadFormat
	}
	c.ID, c.Size = id, uint32(size)
	return nil
}

func parseListJobs(args []byte, c *Command) error {
	w, ok := words(args, 4)
	if !ok || !ValidTubeName(w[0]) || !ValidState(w[1]) {
		return ErrBadFormat
	}
	after, ok1 := decimal(w[2], 64)
	limit, ok2 := decimal(w[3], 32)
	if !ok1 || !ok2 || limit == 0 || limit > MaxListLimit {
		return ErrBadFormat
	}
	c.Tube, c.Args, c.ID, c.Bound = string(w[0]), append(c.Args[:0], w[1]...), after, uint32(limit)
	return nil
}

func parseKickTube(args []byte, c *Command) error {
	w, ok := words(args, 3)
	if !ok || !ValidTubeName(w[0]) {
		return ErrBadFormat
	}
	bound, ok1 := decimal(w[1], 32)
	size, ok2 := decimal(w[2], 32)
	if !ok1 || !ok2 {
		return ErrBadFormat
	}
	c.Tube, c.Bound, c.Size = string(w[0]), uint32(bound), uint32(size)
	return nil
}

func parseFlushTube(args []byte, c *Command) error {
	w, ok := words(args, 2)
	if !ok || !ValidTubeName(w[0]) || !ValidState(w[1]) {
		return ErrBadFormat
	}
	c.Tube, c.Args = string(w[0]), append(c.Args[:0], w[1]...)
	return nil
}

// MaxClaimTimeout is the longest wait claim takes, in seconds.
const MaxClaimTimeout = 1<<31 - 1

func parseClaim(args []byte, c *Command) error {
	w, ok := words(args, 1)
	if !ok {
		return ErrBadFormat
	}
	secs, ok := decimal(w[0], 31)
	if !ok {
		return ErrBadFormat
	}
	c.Timeout = int32(secs)
	return nil
}

// Claimed writes claim's success reply, "CLAIMED <id> <tube> <pri> <ttr>
// <failures> <history> <bytes>\r\n<body>\r\n": ttr in seconds, history
// 1 if the job has a failure history (stats-job's failure keys), else 0.
func (w *Writer) Claimed(id uint64, tube string, pri uint32, ttrSeconds uint64, failures uint32, history bool, body []byte) {
	b := append(w.scratch[:0], ReplyClaimed...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ' ')
	_, _ = w.bw.Write(b)
	_, _ = w.bw.WriteString(tube)
	b = append(w.scratch[:0], ' ')
	b = strconv.AppendUint(b, uint64(pri), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, ttrSeconds, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(failures), 10)
	if history {
		b = append(b, " 1 "...)
	} else {
		b = append(b, " 0 "...)
	}
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, '\r', '\n')
	_, _ = w.bw.Write(b)
	_, _ = w.bw.Write(body)
	_, _ = w.bw.WriteString("\r\n")
}

// The extension replies' words.
const (
	ReplyRetrying     = "RETRYING"      // RETRYING <attempts> <delay-seconds> <at RFC 3339>
	ReplyFailBuried   = "BURIED"        // BURIED <attempts>
	ReplyDeadLettered = "DEAD_LETTERED" // DEAD_LETTERED <attempts> <tube>
	ReplyFailDeleted  = "DELETED"       // DELETED <attempts>
	ReplyFlushed      = "FLUSHED"       // FLUSHED <count>
	ReplyClaimed      = "CLAIMED"       // CLAIMED <id> <tube> <pri> <ttr> <failures> <history> <bytes>
)
