package policy

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/reprieve/reprieve/internal/config"
	"github.com/reprieve/reprieve/internal/retry"
)

// Defaults returns the policy fields a policy entry starts from before
// its keys are read: no retry, give up by burying, no retention bound, no
// ready-expiry, and a kick starts a fresh schedule.
func Defaults() Policy {
	return Policy{GiveUp: GiveUp{Action: Bury}, KickResetsAttempts: true}
}

// The keys of the file, for validation and suggestions.
var (
	topKeys       = []string{"default", "tubes", "schedules"}
	policyKeys    = []string{"retry", "give-up", "retention", "ready-expiry", "kick-resets-attempts", "concurrency", "rate", "unique"}
	retryKeys     = []string{"initial", "factor", "cap", "jitter", "max-age", "max-attempts"}
	giveUpKeys    = []string{"action", "tube"}
	retentionKeys = []string{"max-age", "max-count", "max-bytes"}
)

// Load reads and validates the config file at path. Every problem found
// is returned at once in a *ConfigError (wrapping ErrInvalid), each as
// "FILE:LINE: KEY: what is wrong; how to fix it".
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: read config: %w", err)
	}
	return Parse(path, data)
}

// Reload loads path for a running server (SIGHUP). On success it returns
// the new set; on any error it returns old unchanged together with the
// error, so the caller keeps serving with the policies it had.
func Reload(old *Set, path string) (*Set, error) {
	s, err := Load(path)
	if err != nil {
		return old, err
	}
	return s, nil
}

// Parse reads and validates a config file's contents; name is used in
// messages.
func Parse(name string, data []byte) (*Set, error) {
	ps := &problems{file: name}
	root, err := config.Parse(data)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			ps.add(ce.Line, "", ce.What, ce.Fix)
		} else {
			ps.add(0, "", err.Error(), "correct the YAML")
		}
		return nil, ps.err()
	}
	r := &reader{ps: ps}
	entries := map[string]*Policy{}
	order := map[string]int{}
	dlLines := map[string]int{} // entry name -> line of its dead-letter tube
	var def *Policy
	var schedules []*Schedule
	defLine := 0
	top, _ := r.fields(root, 1, "", "start the file with the keys default: and tubes:")
	for _, tf := range top {
		switch tf.Key {
		case "default":
			def, _ = r.policy(tf, "default", dlLines)
			defLine = tf.Line
		case "tubes":
			tubes, _ := r.fields(tf.Value, tf.Line, "tubes", "list each tube name or pattern under tubes: with its policy beneath")
			for i, e := range tubes {
				path := "tubes." + e.Key
				if what, fix := checkEntryName(e.Key); what != "" {
					ps.add(e.Line, path, what, fix)
					continue
				}
				if p, ok := r.policy(e, path, dlLines); ok {
					entries[e.Key] = p
					order[e.Key] = i
				}
			}
		case "schedules":
			schedules = r.schedules(tf)
		default:
			if strings.HasPrefix(tf.Key, ".") || strings.HasPrefix(tf.Key, "x-") {
				continue // a place for anchors, like docker compose
			}
			if tf.Key == "serve" || tf.Key == "run" {
				continue // the flags of reprieve serve and run (docs/cli.md, "Configuration")
			}
			r.unknownKey(tf, "", topKeys)
		}
	}
	set := newSet(entries, order, def, name)
	set.schedules = schedules
	checkCycles(set, entries, def, defLine, dlLines, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return set, nil
}

// policy reads one policy entry; dlLines receives the line of its
// dead-letter tube for the cycle check.
func (r *reader) policy(e field, path string, dlLines map[string]int) (*Policy, bool) {
	fields, ok := r.fields(e.Value, e.Line, path, "give the policy as keys beneath, such as retry: true")
	if !ok {
		return nil, false
	}
	before := len(r.ps.list)
	p := Defaults()
	for _, f := range fields {
		fp := join(path, f.Key)
		switch f.Key {
		case "retry":
			p.Retry = r.retry(f, fp)
		case "give-up":
			p.GiveUp = r.giveUp(f, fp)
			if p.GiveUp.Action == DeadLetter {
				dlLines[entryName(path)] = f.Line
			}
		case "retention":
			p.Retention = r.retention(f, fp)
		case "ready-expiry":
			p.ReadyExpiry, _ = r.duration(f, fp, "15m")
		case "kick-resets-attempts":
			p.KickResetsAttempts, _ = r.boolean(f, fp)
		case "concurrency":
			p.Concurrency, _ = r.count(f, fp, "5")
		case "rate":
			p.Rate = r.rate(f, fp)
		case "unique":
			p.Unique = r.unique(f, fp)
		default:
			r.unknownKey(f, path, policyKeys)
		}
	}
	return &p, len(r.ps.list) == before
}

// entryName turns "tubes.NAME" or "default" back into the entry's name.
func entryName(path string) string {
	if path == "default" {
		return "default"
	}
	return strings.TrimPrefix(path, "tubes.")
}

// retry reads `retry: true|false|{...}`.
func (r *reader) retry(f field, path string) *retry.Schedule {
	n := f.Value
	if b, ok := n.Value.(bool); ok && n.Kind == config.Scalar {
		if !b {
			return nil
		}
		s := retry.DefaultSchedule()
		return &s
	}
	fix := "write retry: true for the default schedule, or keys beneath it (initial, factor, cap, jitter, max-age, max-attempts)"
	if n.Kind == config.Null {
		r.ps.add(f.Line, path, "has no value", fix)
		return nil
	}
	fields, ok := r.fields(f.Value, f.Line, path, fix)
	if !ok {
		return nil
	}
	s := retry.DefaultSchedule()
	keyLine := map[string]int{}
	before := len(r.ps.list)
	for _, k := range fields {
		kp := join(path, k.Key)
		keyLine[k.Key] = k.Line
		switch k.Key {
		case "initial":
			s.Initial, _ = r.duration(k, kp, "1m")
		case "factor":
			s.Factor, _ = r.number(k, kp, "write a growth factor such as 1.5 (1 keeps the delay fixed)")
		case "cap":
			s.Cap, _ = r.duration(k, kp, "1h")
		case "jitter":
			s.Jitter, _ = r.number(k, kp, "write a fraction such as 0.1 for ±10%, or 0 for none")
		case "max-age":
			s.MaxAge, _ = r.duration(k, kp, "72h or 3d")
		case "max-attempts":
			s.MaxAttempts, _ = r.count(k, kp, "80")
		default:
			r.unknownKey(k, path, retryKeys)
		}
	}
	if len(r.ps.list) != before {
		return nil
	}
	if err := s.Validate(); err != nil {
		var ie *retry.InvalidError
		if errors.As(err, &ie) {
			l, ok := keyLine[ie.Field]
			if !ok {
				l = f.Line
			}
			r.ps.add(l, join(path, ie.Field), ie.Problem, ie.Fix)
		} else {
			r.ps.add(f.Line, path, err.Error(), "")
		}
		return nil
	}
	return &s
}

// giveUp reads `give-up: bury|delete` or `give-up: {action: dead-letter, tube: T}`.
func (r *reader) giveUp(f field, path string) GiveUp {
	n := f.Value
	actionFix := "write bury, delete, or dead-letter with a tube: give-up: {action: dead-letter, tube: NAME}"
	var g GiveUp
	var tubeField *field
	actionLine := f.Line
	if n.Kind == config.Map {
		fields, _ := r.fields(n, f.Line, path, actionFix)
		var action *field
		for i, k := range fields {
			switch k.Key {
			case "action":
				action = &fields[i]
			case "tube":
				tubeField = &fields[i]
			default:
				r.unknownKey(k, path, giveUpKeys)
			}
		}
		if action == nil {
			r.ps.add(f.Line, path, "has no action", actionFix)
			return g
		}
		actionLine = action.Line
		f = *action
		path = join(path, "action")
	}
	s, ok := r.scalar(f, path, actionFix)
	if !ok {
		return g
	}
	a, ok := ParseAction(s)
	if !ok {
		r.ps.add(f.Value.Line, path, fmt.Sprintf("unknown action %q", s), actionFix)
		return g
	}
	g.Action = a
	base := strings.TrimSuffix(path, ".action")
	switch {
	case a == DeadLetter && tubeField == nil:
		r.ps.add(actionLine, base, "dead-letter needs a tube to move jobs to", "add tube: NAME beside action: dead-letter")
	case a == DeadLetter:
		tp := join(base, "tube")
		name, ok := r.scalar(*tubeField, tp, "write the dead-letter tube's name")
		if !ok {
			break
		}
		if what, fix := checkTubeName(name); what != "" {
			r.ps.add(tubeField.Line, tp, what, fix)
			break
		}
		g.Tube = name
	case tubeField != nil:
		r.ps.add(tubeField.Line, join(base, "tube"), fmt.Sprintf("a tube is only used with action dead-letter, not %s", a), "remove tube:, or set action: dead-letter")
	}
	return g
}

// retention reads `retention: {max-age, max-count, max-bytes}`.
func (r *reader) retention(f field, path string) Retention {
	var ret Retention
	fields, ok := r.fields(f.Value, f.Line, path, "give the bounds as keys beneath: max-age, max-count, max-bytes")
	if !ok {
		return ret
	}
	for _, k := range fields {
		kp := join(path, k.Key)
		switch k.Key {
		case "max-age":
			ret.MaxAge, _ = r.duration(k, kp, "30d")
		case "max-count":
			ret.MaxCount, _ = r.count(k, kp, "10000")
		case "max-bytes":
			ret.MaxBytes, _ = r.size(k, kp)
		default:
			r.unknownKey(k, path, retentionKeys)
		}
	}
	return ret
}
