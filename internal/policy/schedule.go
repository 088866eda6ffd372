package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/reprieve/reprieve/internal/config"
)

// CatchUp is what a schedule does, at start, with the ticks it missed
// while no server ran it.
type CatchUp uint8

// The catch-up rules. The zero value is Skip.
const (
	// Skip drops the missed ticks: the next job is put at the next tick
	// after the start.
	Skip CatchUp = iota
	// Once puts one job at once for all the missed ticks, then goes on at
	// the next tick.
	Once
)

// String returns "skip" or "once", as written in the file.
func (c CatchUp) String() string {
	if c == Once {
		return "once"
	}
	return "skip"
}

// Schedule is a periodic job: at each tick of Cron, in Location, the
// server puts a job with Body, Priority, Delay and TTR into Tube. Name
// identifies the schedule across restarts and reloads: the last tick it
// fired is kept in the log under that name.
type Schedule struct {
	Name     string
	Cron     string // as written: five fields, or a descriptor such as @every 10m
	Location *time.Location
	Tube     string
	Body     []byte
	Priority uint32
	Delay    time.Duration
	TTR      time.Duration
	CatchUp  CatchUp
	// Line is where the schedule is written in its file.
	Line int

	spec cron.Schedule
}

// Next returns the first tick strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.spec.Next(t.In(s.Location))
}

// Equal reports whether s and o put the same jobs at the same ticks.
func (s *Schedule) Equal(o *Schedule) bool {
	return s.Name == o.Name && s.Cron == o.Cron && s.Location.String() == o.Location.String() &&
		s.Tube == o.Tube && string(s.Body) == string(o.Body) && s.Priority == o.Priority &&
		s.Delay == o.Delay && s.TTR == o.TTR && s.CatchUp == o.CatchUp
}

// ParseCron reads a cron expression: five fields (minute hour
// day-of-month month day-of-week) or a descriptor (@yearly, @monthly,
// @weekly, @daily, @hourly, @every DURATION).
func ParseCron(expr string) (cron.Schedule, error) {
	return cronParser.Parse(expr)
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var scheduleKeys = []string{"cron", "timezone", "tube", "body", "priority", "delay", "ttr", "catch-up"}

// schedules reads the top-level `schedules:` mapping of name to schedule.
func (r *reader) schedules(f field) []*Schedule {
	entries, ok := r.fields(f.Value, f.Line, "schedules", "list each schedule by name under schedules:, with cron: and tube: beneath")
	if !ok {
		return nil
	}
	var out []*Schedule
	for _, e := range entries {
		if s := r.schedule(e, "schedules."+e.Key); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (r *reader) schedule(e field, path string) *Schedule {
	fields, ok := r.fields(e.Value, e.Line, path, "give the schedule as keys beneath: cron, tube, body, ...")
	if !ok {
		return nil
	}
	s := &Schedule{Name: e.Key, Location: time.UTC, TTR: 60 * time.Second, Priority: 1024, Line: e.Line}
	before := len(r.ps.list)
	if what, fix := checkTubeName(e.Key); what != "" {
		r.ps.add(e.Line, path, strings.Replace(what, "tube name", "schedule name", 1), fix)
	}
	for _, k := range fields {
		kp := join(path, k.Key)
		switch k.Key {
		case "cron":
			fix := `write five fields (minute hour day month weekday) such as "0 3 * * *", or @every 10m, @hourly, @daily`
			expr, ok := r.scalar(k, kp, fix)
			if !ok {
				break
			}
			spec, err := ParseCron(expr)
			if err != nil {
				r.ps.add(k.Value.Line, kp, fmt.Sprintf("%q: %v", expr, err), fix)
				break
			}
			s.Cron, s.spec = expr, spec
		case "timezone":
			fix := "write an IANA time zone such as Europe/Paris, or UTC"
			name, ok := r.scalar(k, kp, fix)
			if !ok {
				break
			}
			loc, err := time.LoadLocation(name)
			if err != nil {
				r.ps.add(k.Value.Line, kp, fmt.Sprintf("unknown time zone %q", name), fix)
				break
			}
			s.Location = loc
		case "tube":
			name, ok := r.scalar(k, kp, "write the tube's name")
			if !ok {
				break
			}
			if what, fix := checkTubeName(name); what != "" {
				r.ps.add(k.Value.Line, kp, what, fix)
				break
			}
			s.Tube = name
		case "body":
			if k.Value.Kind == config.Null {
				break
			}
			body, ok := r.scalar(k, kp, "write the job's body as a string")
			if ok {
				s.Body = []byte(body)
			}
		case "priority":
			n, ok := r.count(k, kp, "1024")
			if ok && n > 1<<32-1 {
				r.ps.add(k.Value.Line, kp, fmt.Sprintf("%d is above 4294967295", n), "write a priority from 0 (most urgent) to 4294967295")
			}
			s.Priority = uint32(n)
		case "delay":
			s.Delay, _ = r.duration(k, kp, "30s")
		case "ttr":
			s.TTR, _ = r.duration(k, kp, "60s")
		case "catch-up":
			fix := "write skip (missed ticks are dropped) or once (one job for all the missed ticks)"
			v, ok := r.scalar(k, kp, fix)
			switch {
			case !ok:
			case v == "skip":
				s.CatchUp = Skip
			case v == "once":
				s.CatchUp = Once
			default:
				r.ps.add(k.Value.Line, kp, fmt.Sprintf("unknown catch-up %q", v), fix)
			}
		default:
			r.unknownKey(k, path, scheduleKeys)
		}
	}
	if s.spec == nil && len(r.ps.list) == before {
		r.ps.add(e.Line, path, "has no cron", `add cron: "0 3 * * *" (five fields) or cron: "@every 10m"`)
	}
	if s.Tube == "" && len(r.ps.list) == before {
		r.ps.add(e.Line, path, "has no tube", "add tube: NAME, the tube the job is put into")
	}
	if len(r.ps.list) != before {
		return nil
	}
	if s.TTR < time.Second {
		s.TTR = time.Second
	}
	return s
}
