package pipeline

import (
	"fmt"
	"github.com/reprieve/reprieve/internal/config"
	"math"
	"strconv"
	"strings"
	"time"
)

// ArgType is the type of a module argument.
type ArgType int

// Argument types. Durations are written in the config dialect: seconds
// (0.5) or with units ("500ms", "2m", "1d"); see internal/config.
const (
	String ArgType = iota
	Int
	Float
	Bool
	Duration
	Strings
)

// String names the type as messages and 'reprieve modules' show it.
func (t ArgType) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "integer"
	case Float:
		return "number"
	case Bool:
		return "boolean"
	case Duration:
		return "duration"
	case Strings:
		return "list of strings"
	}
	return "?"
}

// Arg documents one argument of a kind.
type Arg struct {
	Name string
	Type ArgType
	// Default is used when the argument is absent; nil with Required false
	// means the zero value.
	Default any
	// Required arguments have no default.
	Required bool
	// Doc is one sentence for 'reprieve modules'.
	Doc string
}

// DefaultString renders the default for documentation.
func (a Arg) DefaultString() string {
	if a.Required {
		return "required"
	}
	switch v := a.Default.(type) {
	case nil:
		return `""`
	case string:
		return strconv.Quote(v)
	case time.Duration:
		return v.String()
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	}
	return fmt.Sprint(a.Default)
}

// Args holds a module's decoded arguments, defaults filled in. The typed
// getters panic on a name the kind does not declare (a programming error).
type Args map[string]any

func (a Args) get(name string) any {
	v, ok := a[name]
	if !ok {
		panic("pipeline: undeclared argument " + name)
	}
	return v
}

// String returns a string argument.
func (a Args) String(name string) string { return a.get(name).(string) }

// Int returns an integer argument.
func (a Args) Int(name string) int { return a.get(name).(int) }

// Float returns a number argument.
func (a Args) Float(name string) float64 { return a.get(name).(float64) }

// Bool returns a boolean argument.
func (a Args) Bool(name string) bool { return a.get(name).(bool) }

// Duration returns a duration argument.
func (a Args) Duration(name string) time.Duration { return a.get(name).(time.Duration) }

// Strings returns a list argument.
func (a Args) Strings(name string) []string { return a.get(name).([]string) }

// zero returns the default value of a, typed.
func (a Arg) zero() any {
	if a.Default != nil {
		return a.Default
	}
	switch a.Type {
	case Int:
		return 0
	case Float:
		return 0.0
	case Bool:
		return false
	case Duration:
		return time.Duration(0)
	case Strings:
		return []string(nil)
	}
	return ""
}

// decodeArg converts a YAML value to the argument's type.
func decodeArg(a Arg, n *ynode) (any, error) {
	bad := func() error {
		return fmt.Errorf("want %s %s, got %s", article(a.Type), a.Type, describe(n))
	}
	switch a.Type {
	case String:
		if n.Kind != config.Scalar {
			return nil, bad()
		}
		return fmt.Sprint(n.Value), nil
	case Int:
		switch v := n.Value.(type) {
		case int64:
			return int(v), nil
		case uint64:
			if v > math.MaxInt64 {
				return nil, bad()
			}
			return int(v), nil
		}
		return nil, bad()
	case Float:
		switch v := n.Value.(type) {
		case int64:
			return float64(v), nil
		case uint64:
			return float64(v), nil
		case float64:
			return v, nil
		}
		return nil, bad()
	case Bool:
		if v, ok := n.Value.(bool); ok {
			return v, nil
		}
		return nil, bad()
	case Duration:
		var d time.Duration
		switch v := n.Value.(type) {
		case int64:
			d = time.Duration(v) * time.Second
		case uint64:
			d = time.Duration(v) * time.Second
		case float64:
			d = time.Duration(v * float64(time.Second))
		case string:
			p, err := config.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("want a duration (seconds, or like \"500ms\", \"2m\"), got %q", v)
			}
			d = p
		default:
			return nil, fmt.Errorf("want a duration (seconds, or like \"500ms\", \"2m\"), got %s", describe(n))
		}
		if d < 0 {
			return nil, fmt.Errorf("want a duration >= 0, got %s", d)
		}
		return d, nil
	case Strings:
		if n.Kind == config.Scalar {
			return []string{fmt.Sprint(n.Value)}, nil
		}
		if n.Kind != config.List {
			return nil, bad()
		}
		out := make([]string, 0, len(n.Items))
		for _, e := range n.Items {
			if e.Kind != config.Scalar {
				return nil, fmt.Errorf("want a list of strings, got %s at line %d", describe(e), e.Line)
			}
			out = append(out, fmt.Sprint(e.Value))
		}
		return out, nil
	}
	return nil, bad()
}

func article(t ArgType) string {
	if t == Int {
		return "an"
	}
	if t == Strings {
		return "a"
	}
	return "a"
}
