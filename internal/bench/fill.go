package bench

import (
	"context"
	"fmt"
	"sync"
)

// tubeJobs is a number of jobs to put into one tube.
type tubeJobs struct {
	tube string
	n    int64
}

// fillWindow is how many replies the filler lets pile up before reading.
const fillWindow = 256

// fill puts the given jobs with up to conns connections, pipelined, before
// a run. It is not measured.
func fill(ctx context.Context, cfg Config, jobs []tubeJobs, conns int) error {
	// Cut big tubes into chunks so that one tube can be filled by several
	// connections at once.
	const chunk = 20_000
	var parts []tubeJobs
	for _, tj := range jobs {
		for n := tj.n; n > 0; n -= chunk {
			parts = append(parts, tubeJobs{tube: tj.tube, n: min(n, chunk)})
		}
	}
	if len(parts) == 0 {
		return nil
	}
	conns = min(conns, len(parts))
	header := putHeader(cfg.Priority, int(cfg.TTR.Seconds()), cfg.Size)
	body := make([]byte, cfg.Size)
	for i := range body {
		body[i] = 'x'
	}
	return parallel(conns, func(i int) error {
		c, err := dial(ctx, cfg.Addr, cfg.TLS)
		if err != nil {
			return err
		}
		defer c.close()
		pendingReplies := 0
		read := func(upto int) error {
			if err := c.w.Flush(); err != nil {
				return fmt.Errorf("bench: prefill: %w", err)
			}
			for pendingReplies > upto {
				line, err := c.readLine()
				if err != nil {
					return fmt.Errorf("bench: prefill: %w", err)
				}
				if k := kindOf(line); k != replyInserted && k != replyUsing {
					return fmt.Errorf("%w: prefill put answered %q", ErrProtocol, line)
				}
				pendingReplies--
			}
			return nil
		}
		for p := i; p < len(parts); p += conns {
			c.w.WriteString("use " + parts[p].tube + "\r\n")
			pendingReplies++
			for range parts[p].n {
				c.writePut(header, body)
				pendingReplies++
				if pendingReplies >= fillWindow {
					if err := read(fillWindow / 2); err != nil {
						return err
					}
				}
			}
		}
		return read(0)
	})
}

// bury puts n jobs into tube and buries them.
func bury(ctx context.Context, cfg Config, tube string, n int) error {
	if n == 0 {
		return nil
	}
	c, err := dial(ctx, cfg.Addr, cfg.TLS)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.useTube(tube); err != nil {
		return err
	}
	if err := c.watchOnly(tube); err != nil {
		return err
	}
	header := putHeader(cfg.Priority, int(cfg.TTR.Seconds()), cfg.Size)
	body := make([]byte, cfg.Size)
	for range n {
		c.writePut(header, body)
		if err := c.w.Flush(); err != nil {
			return fmt.Errorf("bench: bury: %w", err)
		}
		if line, err := c.readLine(); err != nil || kindOf(line) != replyInserted {
			return fmt.Errorf("%w: put before bury answered %q (%v)", ErrProtocol, line, err)
		}
		line, err := c.roundTrip("reserve-with-timeout 0")
		if err != nil {
			return err
		}
		if kindOf(line) != replyReserved {
			return fmt.Errorf("%w: reserve before bury answered %q", ErrProtocol, line)
		}
		id, _, err := c.readJob(line, false)
		if err != nil {
			return err
		}
		c.writeBury(id, cfg.Priority)
		if err := c.w.Flush(); err != nil {
			return fmt.Errorf("bench: bury: %w", err)
		}
		if line, err := c.readLine(); err != nil || kindOf(line) != replyBuried {
			return fmt.Errorf("%w: bury answered %q (%v)", ErrProtocol, line, err)
		}
	}
	return nil
}

// peekDrain deletes every ready and delayed job of the given tubes with up
// to conns connections, one peek and one delete at a time; it serves for
// the tubes that hold few jobs (delayed jobs, background tubes).
func peekDrain(ctx context.Context, cfg Config, tubes []string, conns int) error {
	conns = min(conns, len(tubes))
	return parallel(conns, func(i int) error {
		c, err := dial(ctx, cfg.Addr, cfg.TLS)
		if err != nil {
			return err
		}
		defer c.close()
		for t := i; t < len(tubes); t += conns {
			if err := c.useTube(tubes[t]); err != nil {
				return err
			}
			for _, peek := range []string{"peek-ready", "peek-delayed"} {
				for {
					if err := ctx.Err(); err != nil {
						return err
					}
					line, err := c.roundTrip(peek)
					if err != nil {
						return err
					}
					if kindOf(line) == replyNotFound {
						break
					}
					if kindOf(line) != replyFound {
						return fmt.Errorf("%w: %s answered %q", ErrProtocol, peek, line)
					}
					id, _, err := c.readJob(line, false)
					if err != nil {
						return err
					}
					c.writeDelete(id)
					if err := c.w.Flush(); err != nil {
						return fmt.Errorf("bench: drain: %w", err)
					}
					if _, err := c.readLine(); err != nil { // DELETED, or NOT_FOUND if someone was faster
						return err
					}
				}
			}
		}
		return nil
	})
}

// parallel runs f(0) … f(n-1) at once, waits for all, and returns the
// first error.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
