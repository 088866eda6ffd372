package policy

import (
	"fmt"
	"github.com/reprieve/reprieve/internal/config"
	"strings"
)

// String describes p in one line for logs and the command line, such as
// "retry 1m ×1.5 up to 1h ±10% for 3d, then dead-letter to dead;
// retention 30d, 1000 jobs; ready-expiry 15m; kick resets attempts".
func (p *Policy) String() string {
	if p == nil {
		return "none (beanstalkd behaviour)"
	}
	var parts []string
	giveUp := p.GiveUp.Action.String()
	if p.GiveUp.Action == DeadLetter {
		giveUp += " to " + p.GiveUp.Tube
	}
	if r := p.Retry; r != nil {
		s := fmt.Sprintf("retry %s ×%g up to %s", config.FormatDuration(r.Initial), r.Factor, config.FormatDuration(r.Cap))
		if r.Jitter > 0 {
			s += fmt.Sprintf(" ±%g%%", r.Jitter*100)
		}
		var limits []string
		if r.MaxAge > 0 {
			limits = append(limits, "for "+config.FormatDuration(r.MaxAge))
		}
		if r.MaxAttempts > 0 {
			l := fmt.Sprintf("at most %d attempts", r.MaxAttempts)
			if r.MaxAge > 0 && len(r.Plan())+1 < r.MaxAttempts {
				l += " (never reached: max-age comes first)"
			}
			limits = append(limits, l)
		}
		s += " " + strings.Join(limits, ", ") + ", then " + giveUp
		parts = append(parts, s)
	} else {
		parts = append(parts, "no retry; a failure gives up: "+giveUp)
	}
	if !p.Retention.IsZero() {
		var b []string
		if p.Retention.MaxAge > 0 {
			b = append(b, config.FormatDuration(p.Retention.MaxAge))
		}
		if p.Retention.MaxCount > 0 {
			b = append(b, fmt.Sprintf("%d jobs", p.Retention.MaxCount))
		}
		if p.Retention.MaxBytes > 0 {
			b = append(b, config.FormatSize(p.Retention.MaxBytes))
		}
		parts = append(parts, "retention "+strings.Join(b, ", "))
	}
	if p.ReadyExpiry > 0 {
		parts = append(parts, "ready-expiry "+config.FormatDuration(p.ReadyExpiry))
	}
	if p.KickResetsAttempts {
		parts = append(parts, "kick resets attempts")
	} else {
		parts = append(parts, "kick keeps attempts")
	}
	if p.Concurrency > 0 {
		parts = append(parts, fmt.Sprintf("at most %d reserved at once", p.Concurrency))
	}
	if r := p.Rate; r != nil {
		parts = append(parts, fmt.Sprintf("rate %d per %s, burst %d", r.Limit, config.FormatDuration(r.Per), r.Burst))
	}
	if u := p.Unique; u != nil {
		s := "unique by " + u.Key.String()
		if u.Buried {
			s += ", buried jobs included"
		}
		if u.Window > 0 {
			s += " within " + config.FormatDuration(u.Window)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// String describes s in one line, such as `nightly: "0 3 * * *"
// Europe/Paris into reports (priority 1024, ttr 1m), catch-up skip`.
func (s *Schedule) String() string {
	d := fmt.Sprintf("%s: %q %s into %s (priority %d", s.Name, s.Cron, s.Location, s.Tube, s.Priority)
	if s.Delay > 0 {
		d += ", delay " + config.FormatDuration(s.Delay)
	}
	return d + ", ttr " + config.FormatDuration(s.TTR) + "), catch-up " + s.CatchUp.String()
}
