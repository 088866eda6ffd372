package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/reprieve/reprieve/internal/config"
)

// The keys of the flow-control entries, for validation and suggestions.
var (
	rateKeys   = []string{"limit", "per", "burst"}
	uniqueKeys = []string{"key", "buried", "window"}
)

// rate reads `rate: {limit: N, per: second|minute|hour|DURATION, burst: B}`.
func (r *reader) rate(f field, path string) *Rate {
	fix := "write rate: {limit: 100, per: minute, burst: 10}"
	fields, ok := r.fields(f.Value, f.Line, path, fix)
	if !ok {
		return nil
	}
	rt := Rate{Per: perWords["second"]}
	before := len(r.ps.list)
	limitLine := 0
	for _, k := range fields {
		kp := join(path, k.Key)
		switch k.Key {
		case "limit":
			rt.Limit, _ = r.count(k, kp, "100")
			limitLine = k.Line
		case "per":
			rt.Per = r.per(k, kp)
		case "burst":
			rt.Burst, _ = r.count(k, kp, "10")
		default:
			r.unknownKey(k, path, rateKeys)
		}
	}
	if len(r.ps.list) != before {
		return nil
	}
	switch {
	case limitLine == 0:
		r.ps.add(f.Line, path, "has no limit", "add limit: N, the reserves allowed per period")
		return nil
	case rt.Limit == 0:
		r.ps.add(limitLine, join(path, "limit"), "0 would never let a job out", "write a limit of at least 1, or remove rate:")
		return nil
	case rt.Interval() <= 0:
		r.ps.add(limitLine, join(path, "limit"), fmt.Sprintf("%d per %s is more than one a nanosecond", rt.Limit, rt.Per), "lower the limit or lengthen per")
		return nil
	}
	if rt.Burst == 0 {
		rt.Burst = 1
	}
	return &rt
}

// perWords are the words rate.per takes besides a duration.
var perWords = map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour}

// per reads second, minute, hour or a positive duration.
func (r *reader) per(f field, path string) time.Duration {
	s, ok := r.scalar(f, path, "write second, minute, hour or a duration such as 10s")
	if !ok {
		return 0
	}
	if w, ok := perWords[strings.ToLower(s)]; ok {
		return w
	}
	d, ok := r.duration(f, path, "10s")
	if ok && d == 0 {
		r.ps.add(f.Value.Line, path, "0 is not a period", "write second, minute, hour or a duration such as 10s")
	}
	return d
}

// unique reads `unique: true|false` or `unique: {key: body|json:FIELD,
// buried: BOOL, window: DURATION}`.
func (r *reader) unique(f field, path string) *Unique {
	if b, ok := f.Value.Value.(bool); ok && f.Value.Kind == config.Scalar {
		if !b {
			return nil
		}
		return &Unique{}
	}
	fix := "write unique: true (the body is the key), or keys beneath it (key, buried, window)"
	if f.Value.Kind == config.Null {
		r.ps.add(f.Line, path, "has no value", fix)
		return nil
	}
	fields, ok := r.fields(f.Value, f.Line, path, fix)
	if !ok {
		return nil
	}
	var u Unique
	before := len(r.ps.list)
	for _, k := range fields {
		kp := join(path, k.Key)
		switch k.Key {
		case "key":
			keyFix := "write body (the whole body) or json:FIELD (a top-level field of a JSON object body)"
			s, ok := r.scalar(k, kp, keyFix)
			if !ok {
				break
			}
			switch field, isJSON := strings.CutPrefix(s, "json:"); {
			case s == "body":
			case isJSON && field != "":
				u.Key.Field = field
			default:
				r.ps.add(k.Value.Line, kp, fmt.Sprintf("unknown key %q", s), keyFix)
			}
		case "buried":
			u.Buried, _ = r.boolean(k, kp)
		case "window":
			u.Window, _ = r.duration(k, kp, "1h")
		default:
			r.unknownKey(k, path, uniqueKeys)
		}
	}
	if len(r.ps.list) != before {
		return nil
	}
	return &u
}
