package server

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"syscall"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/job"
	"github.com/reprieve/reprieve/internal/stats"
)

// instanceID identifies this process in stats ("id"), random per process
// as in beanstalkd.
var instanceID = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// writeStats fills d with the stats reply: the keys of stats.ServerFields,
// then Config.ExtraStats.
func (s *Server) writeStats(d *beanstalk.Dict) {
	stats.WriteEntries(d, s.Stats())
}

// snapshot gathers what the stats reply reports.
func (s *Server) snapshot() stats.Server {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	bl := BinlogStats{MaxSize: 10 << 20}
	if s.cfg.Binlog != nil {
		bl = s.cfg.Binlog()
	}
	return stats.Server{
		Engine:     s.b.Stats(),
		Commands:   s.Count,
		MaxJobSize: s.cfg.MaxJobSize,
		PID:        os.Getpid(),
		Version:    s.cfg.Version,
		UserTime:   time.Duration(ru.Utime.Nano()),
		SystemTime: time.Duration(ru.Stime.Nano()),
		Binlog:     bl,
		ID:         instanceID,
		Hostname:   host.name,
		OS:         host.os,
		Platform:   host.platform,
		Refused:    s.refused.Load(),
	}
}

// Stats returns what the stats command answers, as typed keys and values
// in the reply's order (Config.ExtraStats last, as raw text): for callers
// that show the server's stats elsewhere, such as the admin interface.
func (s *Server) Stats() []stats.Entry {
	snap := s.snapshot()
	es := stats.Entries(stats.ServerFields, &snap)
	if s.cfg.ExtraStats != nil {
		for _, kv := range s.cfg.ExtraStats() {
			es = append(es, stats.Entry{Key: kv.Key, Value: stats.Raw(kv.Value)})
		}
	}
	return es
}

func handleStats(c *Conn, _ *beanstalk.Command) bool {
	d := c.Dict()
	c.srv.writeStats(d)
	c.w.OK(d.Bytes())
	return true
}

func handleStatsTube(c *Conn, cmd *beanstalk.Command) bool {
	ts, err := c.srv.b.StatsTube(cmd.Tube)
	if err != nil {
		return c.ReplyError(err)
	}
	d := c.Dict()
	stats.Write(d, stats.Tube, &ts)
	c.w.OK(d.Bytes())
	return true
}

func handleStatsJob(c *Conn, cmd *beanstalk.Command) bool {
	js, err := c.srv.b.StatsJob(job.ID(cmd.ID))
	if err != nil {
		return c.ReplyError(err)
	}
	d := c.Dict()
	stats.Write(d, stats.Job, &js)
	c.w.OK(d.Bytes())
	return true
}
