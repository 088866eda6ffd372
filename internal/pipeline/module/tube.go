package module

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/pipeline"
)

var tubeKinds = []*pipeline.Kind{
	{
		Name: "input.tube",
		Summary: "reserves jobs from a Reprieve or beanstalkd server; a job whose message leaves the pipeline successfully is deleted, " +
			"one that fails is reported with fail (Reprieve: the tube's retry policy applies), or released or buried",
		Out: []string{"outbox"},
		Args: append([]pipeline.Arg{
			{Name: "address", Type: pipeline.String, Default: "127.0.0.1:11300", Doc: "the server's host:port"},
			{Name: "tubes", Type: pipeline.Strings, Default: []string{"default"}, Doc: "tubes to watch"},
			{Name: "on_failure", Type: pipeline.String, Default: "fail", Doc: "\"fail\" (Reprieve's extension carrying the error; on a server without it, release), \"release\" or \"bury\""},
			{Name: "release_delay", Type: pipeline.Duration, Default: time.Minute, Doc: "delay of a job released after a failure"},
			{Name: "max_in_flight", Type: pipeline.Int, Default: 16, Doc: "most jobs reserved and not yet finished; held jobs are touched when the server warns DEADLINE_SOON"},
		}, tlsArgs...),
		Check: func(a pipeline.Args) error {
			switch a.String("on_failure") {
			case "fail", "release", "bury":
			default:
				return &pipeline.ArgError{Arg: "on_failure", Msg: fmt.Sprintf("want \"fail\", \"release\" or \"bury\", got %q", a.String("on_failure"))}
			}
			if a.Int("max_in_flight") < 1 {
				return &pipeline.ArgError{Arg: "max_in_flight", Msg: "must be >= 1"}
			}
			_, err := tlsConfig(a)
			return err
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			cfg, err := tlsConfig(a)
			if err != nil {
				return nil, err
			}
			return &tubeIn{env: env, addr: a.String("address"), dial: dialer(cfg), tubes: a.Strings("tubes"), onFailure: a.String("on_failure"),
				releaseDelay: a.Duration("release_delay"), max: a.Int("max_in_flight")}, nil
		},
	},
	{
		Name:    "output.tube",
		Summary: "puts each message's body as a job into a tube of a Reprieve or beanstalkd server",
		In:      []string{"inbox"},
		Args: append([]pipeline.Arg{
			{Name: "address", Type: pipeline.String, Default: "127.0.0.1:11300", Doc: "the server's host:port"},
			{Name: "tube", Type: pipeline.String, Default: "default", Doc: "the tube to put into"},
			{Name: "priority", Type: pipeline.Int, Default: 1024, Doc: "job priority (0 is most urgent)"},
			{Name: "delay", Type: pipeline.Duration, Default: time.Duration(0), Doc: "job delay"},
			{Name: "ttr", Type: pipeline.Duration, Default: time.Minute, Doc: "job time-to-run"},
			{Name: "timeout", Type: pipeline.Duration, Default: 5 * time.Second, Doc: "connect and put timeout"},
		}, tlsArgs...),
		Check: func(a pipeline.Args) error {
			if p := a.Int("priority"); p < 0 || p > 1<<32-1 {
				return &pipeline.ArgError{Arg: "priority", Msg: fmt.Sprintf("want 0-4294967295, got %d", p)}
			}
			_, err := tlsConfig(a)
			return err
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			cfg, err := tlsConfig(a)
			if err != nil {
				return nil, err
			}
			return &tubeOut{addr: a.String("address"), dial: dialer(cfg), tube: a.String("tube"), pri: uint32(a.Int("priority")),
				delay: a.Duration("delay"), ttr: a.Duration("ttr"), timeout: a.Duration("timeout")}, nil
		},
	},
}

type tubeOut struct {
	addr, tube string
	dial       func(ctx context.Context, addr string) (*client.Conn, error)
	pri        uint32
	delay, ttr time.Duration
	timeout    time.Duration

	mu   sync.Mutex // protects conn
	conn *client.Conn
}

// Handle puts one job.
func (t *tubeOut) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	if t.conn == nil {
		c, err := t.dial(ctx, t.addr)
		if err != nil {
			return err
		}
		t.conn = c
	}
	_, err := t.conn.PutIn(ctx, t.tube, m.Body, t.pri, t.delay, t.ttr)
	if err != nil && t.conn.Err() != nil {
		t.conn.Close()
		t.conn = nil
	}
	return err
}

// Close closes the connection.
func (t *tubeOut) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
	return nil
}

type tubeIn struct {
	env          *pipeline.Env
	addr         string
	dial         func(ctx context.Context, addr string) (*client.Conn, error)
	tubes        []string
	onFailure    string
	releaseDelay time.Duration
	max          int
}

// ack is the outcome of one reserved job's message.
type ack struct {
	id  uint64
	err error
}

// Run reserves jobs and settles them as their messages finish. Reserved
// jobs belong to the connection, so a single goroutine does both, between
// short reserves; if the connection breaks the server releases the jobs
// still reserved and they come back (at least once).
func (t *tubeIn) Run(ctx context.Context) error {
	conn, err := t.dial(ctx, t.addr)
	if err != nil {
		return fmt.Errorf("input.tube: %w", err)
	}
	defer conn.Close()
	for _, tube := range t.tubes {
		if _, err := conn.Watch(ctx, tube); err != nil {
			return fmt.Errorf("input.tube: watch %s: %w", tube, err)
		}
	}
	if !contains(t.tubes, "default") {
		if _, err := conn.Ignore(ctx, "default"); err != nil {
			return fmt.Errorf("input.tube: ignore default: %w", err)
		}
	}
	// Only Reprieve knows fail: a body sent after an unknown command would
	// be read as more commands, so look for Reprieve's stats keys first.
	noFail := true
	if t.onFailure == "fail" {
		st, err := conn.Stats(ctx)
		if err != nil {
			return fmt.Errorf("input.tube: stats: %w", err)
		}
		if _, ok := st["total-failures"]; ok { // a Reprieve extension key
			noFail = false
		} else {
			t.env.Log.Info("server has no fail command (not Reprieve); failed jobs will be released", "address", t.addr, "delay", t.releaseDelay)
		}
	}
	acks := make(chan ack, t.max)
	held := map[uint64]bool{} // jobs reserved and not yet settled
	inFlight := 0
	settle := func(a ack) error {
		inFlight--
		delete(held, a.id)
		return t.settle(ctx, conn, a, &noFail)
	}
	for {
		// Settle whatever has finished.
		for drained := false; !drained; {
			select {
			case a := <-acks:
				if err := settle(a); err != nil {
					return err
				}
			default:
				drained = true
			}
		}
		if inFlight >= t.max {
			select {
			case a := <-acks:
				if err := settle(a); err != nil {
					return err
				}
				continue
			case <-ctx.Done():
				return nil
			}
		}
		wait := time.Second
		if inFlight > 0 {
			wait = 0
		}
		job, err := conn.ReserveWithTimeout(ctx, wait)
		if errors.Is(err, client.ErrDeadlineSoon) {
			// A job still in the pipeline is about to reach its TTR: give
			// every held job its whole TTR again rather than let the server
			// hand it to someone else.
			for id := range held {
				if terr := conn.Touch(ctx, id); terr != nil && !errors.Is(terr, client.ErrNotFound) {
					return fmt.Errorf("input.tube: touch %d: %w", id, terr)
				}
			}
		}
		switch {
		case errors.Is(err, client.ErrTimedOut) || errors.Is(err, client.ErrDeadlineSoon):
			if inFlight > 0 {
				// Nothing ready: wait for a message to finish, or poll again.
				poll := make(chan struct{})
				timer := t.env.Clock.AfterFunc(50*time.Millisecond, func() { close(poll) })
				select {
				case a := <-acks:
					timer.Stop()
					if err := settle(a); err != nil {
						return err
					}
				case <-poll:
				case <-ctx.Done():
					timer.Stop()
					return nil
				}
			}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("input.tube: %w", err)
		}
		m := pipeline.NewMessage(t.addr+"/"+strconv.FormatUint(job.ID, 10), job.Body)
		m.Meta = map[string]string{"tube.job": strconv.FormatUint(job.ID, 10), "tube.server": t.addr}
		if m.Attempt, err = priorAttempts(ctx, conn, job.ID); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("input.tube: %w", err)
		}
		id := job.ID
		m.OnDone(func(err error) { acks <- ack{id: id, err: err} })
		inFlight++
		held[id] = true
		if err := t.env.Emit(ctx, "outbox", m); err != nil {
			return nil // shutting down: closing the connection releases the job
		}
	}
}

// priorAttempts returns how many times job id was tried and failed before,
// as the server counts: the failures of its series on Reprieve (its
// stats-job failures key), its reserves before this one on beanstalkd. A
// job gone meanwhile (its TTR ran out) counts 0.
func priorAttempts(ctx context.Context, conn *client.Conn, id uint64) (int, error) {
	st, err := conn.StatsJob(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if _, ok := st["failures"]; ok {
		n, err := st.Int("failures")
		return int(n), err
	}
	n, err := st.Int("reserves")
	return max(int(n)-1, 0), err
}

// settle deletes a finished job or reports its failure.
func (t *tubeIn) settle(ctx context.Context, conn *client.Conn, a ack, noFail *bool) error {
	var err error
	switch {
	case a.err == nil:
		err = conn.Delete(ctx, a.id)
	case t.onFailure == "bury":
		err = conn.Bury(ctx, a.id, 1024)
	case t.onFailure == "fail" && !*noFail:
		var res client.FailResult
		res, err = conn.Fail(ctx, a.id, a.err.Error())
		if err == nil {
			t.env.Log.Debug("job failed on the server", "job", a.id, "action", res.Action, "attempts", res.Attempts)
		}
	default:
		err = conn.Release(ctx, a.id, 1024, t.releaseDelay)
	}
	if errors.Is(err, client.ErrNotFound) {
		// Its TTR ran out or a previous connection held it: the server has
		// it back already.
		t.env.Log.Warn("job no longer reserved when settled", "job", a.id)
		return nil
	}
	if err != nil && conn.Err() != nil {
		return fmt.Errorf("input.tube: %w", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
