package beanstalk

// table is the dispatch table: the commands of beanstalkd 1.12, in the
// order its which_cmd tests their prefixes (the order matters:
// "reserve-job " before "reserve", "stats-job " before "stats"), then
// Reprieve's extension commands, whose prefixes match no beanstalkd
// command, so a beanstalkd client never sees a reply change (beanstalkd
// itself answers them UNKNOWN_COMMAND).
var table = func() *dispatch {
	d := &dispatch{ops: map[*Spec]Op{}}
	for _, c := range []struct {
		op   Op
		spec Spec
	}{
		{OpPut, Spec{Name: "put", Prefix: "put ", Parse: parsePut}},
		{OpPeek, Spec{Name: "peek", Prefix: "peek ", Parse: parseID}},
		{OpPeekReady, Spec{Name: "peek-ready", Prefix: "peek-ready"}},
		{OpPeekDelayed, Spec{Name: "peek-delayed", Prefix: "peek-delayed"}},
		{OpPeekBuried, Spec{Name: "peek-buried", Prefix: "peek-buried"}},
		{OpReserveWithTimeout, Spec{Name: "reserve-with-timeout", Prefix: "reserve-with-timeout ", Parse: parseTimeout}},
		{OpReserveJob, Spec{Name: "reserve-job", Prefix: "reserve-job ", Parse: parseID}},
		{OpReserve, Spec{Name: "reserve", Prefix: "reserve"}},
		{OpDelete, Spec{Name: "delete", Prefix: "delete ", Parse: parseID}},
		{OpRelease, Spec{Name: "release", Prefix: "release ", Parse: parseRelease}},
		{OpBury, Spec{Name: "bury", Prefix: "bury ", Parse: parseBury}},
		{OpKick, Spec{Name: "kick", Prefix: "kick ", Parse: parseKick}},
		{OpKickJob, Spec{Name: "kick-job", Prefix: "kick-job ", Parse: parseID}},
		{OpTouch, Spec{Name: "touch", Prefix: "touch ", Parse: parseID}},
		{OpStatsJob, Spec{Name: "stats-job", Prefix: "stats-job ", Parse: parseID}},
		{OpStatsTube, Spec{Name: "stats-tube", Prefix: "stats-tube ", Parse: parseTube}},
		{OpStats, Spec{Name: "stats", Prefix: "stats"}},
		{OpUse, Spec{Name: "use", Prefix: "use ", Parse: parseTube}},
		{OpWatch, Spec{Name: "watch", Prefix: "watch ", Parse: parseTube}},
		{OpIgnore, Spec{Name: "ignore", Prefix: "ignore ", Parse: parseTube}},
		{OpListTubesWatched, Spec{Name: "list-tubes-watched", Prefix: "list-tubes-watched"}},
		{OpListTubeUsed, Spec{Name: "list-tube-used", Prefix: "list-tube-used"}},
		{OpListTubes, Spec{Name: "list-tubes", Prefix: "list-tubes"}},
		// beanstalkd quits on any line starting with "quit".
		{OpQuit, Spec{Name: "quit", Prefix: "quit", Parse: ignoreArgs}},
		{OpPauseTube, Spec{Name: "pause-tube", Prefix: "pause-tube", Parse: parsePauseTube}},

		{OpFail, Spec{Name: "fail", Prefix: "fail ", Parse: parseFail, Body: true}},
		{OpGiveUp, Spec{Name: "give-up", Prefix: "give-up ", Parse: parseFail, Body: true}},
		{OpListJobs, Spec{Name: "list-jobs", Prefix: "list-jobs ", Parse: parseListJobs}},
		{OpKickTube, Spec{Name: "kick-tube", Prefix: "kick-tube ", Parse: parseKickTube, Body: true}},
		{OpFlushTube, Spec{Name: "flush-tube", Prefix: "flush-tube ", Parse: parseFlushTube}},
		{OpClaim, Spec{Name: "claim", Prefix: "claim ", Parse: parseClaim}},
	} {
		if op := d.add(c.spec); op != c.op {
			panic("beanstalk: command " + c.spec.Name + " out of order")
		}
	}
	return d
}()

func ignoreArgs([]byte, *Command) error { return nil }

// parsePut reads "<pri> <delay> <ttr> <bytes>". Trailing garbage after the
// size is reported as counted (beanstalkd counts the put and checks the
// size limit first; Reader relies on Size being set).
func parsePut(b []byte, c *Command) error {
	var ok bool
	if c.Pri, b, ok = readU32(b, false); !ok {
		return ErrBadFormat
	}
	if c.Delay, b, ok = readU32(b, false); !ok {
		return ErrBadFormat
	}
	if c.TTR, b, ok = readU32(b, false); !ok {
		return ErrBadFormat
	}
	if c.Size, b, ok = readU32(b, false); !ok {
		return ErrBadFormat
	}
	if len(b) != 0 {
		return errCounted
	}
	return nil
}

func parseID(b []byte, c *Command) error {
	var ok bool
	if c.ID, _, ok = readU64(b, true); !ok {
		return ErrBadFormat
	}
	return nil
}

func parseRelease(b []byte, c *Command) error {
	var ok bool
	if c.ID, b, ok = readU64(b, false); !ok {
		return ErrBadFormat
	}
	if c.Pri, b, ok = readU32(b, false); !ok {
		return ErrBadFormat
	}
	if c.Delay, _, ok = readU32(b, true); !ok {
		return ErrBadFormat
	}
	return nil
}

func parseBury(b []byte, c *Command) error {
	var ok bool
	if c.ID, b, ok = readU64(b, false); !ok {
		return ErrBadFormat
	}
	if c.Pri, _, ok = readU32(b, true); !ok {
		return ErrBadFormat
	}
	return nil
}

// parseTimeout is beanstalkd's strtol: no digits means 0, trailing
// garbage is ignored, the long is truncated to a C int.
func parseTimeout(b []byte, c *Command) error {
	v, ok := strtol(b)
	if !ok {
		return ErrBadFormat
	}
	c.Timeout = int32(v)
	return nil
}

// parseKick is beanstalkd's strtoul truncated to an unsigned int: at least
// one digit, trailing garbage ignored, "-1" kicks up to 2^32-1 jobs.
func parseKick(b []byte, c *Command) error {
	v, digits, ok := strtoul(b)
	if !digits || !ok {
		return ErrBadFormat
	}
	c.Bound = uint32(v)
	return nil
}

func parseTube(b []byte, c *Command) error {
	if !ValidTubeName(b) {
		return ErrBadFormat
	}
	c.Tube = string(b)
	return nil
}

// parsePauseTube reads "<tube> <delay>" the way beanstalkd does: the name
// is the longest run of name characters after the spaces, and its other
// rules are checked only after the command is counted.
func parsePauseTube(b []byte, c *Command) error {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	n := 0
	for n < len(b) && nameChars[b[n]] {
		n++
	}
	if n == 0 {
		return ErrBadFormat
	}
	name := b[:n]
	var ok bool
	if c.Delay, _, ok = readU32(b[n:], true); !ok {
		return ErrBadFormat
	}
	if !ValidTubeName(name) {
		return errCounted
	}
	c.Tube = string(name)
	return nil
}
