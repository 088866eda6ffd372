package pipetest

import (
	"fmt"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

// override sets argument name of mc to v, a value decoded from YAML,
// converted to the argument's type.
func override(mc *pipeline.ModuleConfig, name string, v any) error {
	for _, a := range mc.Kind.Args {
		if a.Name != name {
			continue
		}
		tv, err := convert(a.Type, v)
		if err != nil {
			return fmt.Errorf("argument %q: %w", name, err)
		}
		mc.Args[name] = tv
		return nil
	}
	return fmt.Errorf("%s has no argument %q (reprieve modules lists them)", mc.Kind.Name, name)
}

func convert(t pipeline.ArgType, v any) (any, error) {
	bad := fmt.Errorf("want a value of type %s, got %v", t, v)
	switch t {
	case pipeline.String:
		switch x := v.(type) {
		case string:
			return x, nil
		case nil:
			return nil, bad
		}
		return fmt.Sprint(v), nil
	case pipeline.Int:
		switch x := v.(type) {
		case uint64:
			return int(x), nil
		case int64:
			return int(x), nil
		}
	case pipeline.Float:
		switch x := v.(type) {
		case uint64:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case pipeline.Bool:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case pipeline.Duration:
		switch x := v.(type) {
		case uint64:
			return time.Duration(x) * time.Second, nil
		case int64:
			return time.Duration(x) * time.Second, nil
		case float64:
			return time.Duration(x * float64(time.Second)), nil
		case string:
			if d, err := time.ParseDuration(x); err == nil {
				return d, nil
			}
		}
	case pipeline.Strings:
		if xs, ok := v.([]any); ok {
			out := make([]string, len(xs))
			for i, x := range xs {
				s, ok := x.(string)
				if !ok {
					return nil, bad
				}
				out[i] = s
			}
			return out, nil
		}
	}
	return nil, bad
}
