package promtext

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every error of Parse.
var ErrFormat = errors.New("promtext: bad exposition")

// Exposition is an exposition parsed back by Parse.
type Exposition struct {
	// Series maps each series to its value. A series is written
	// name{k1="v1",k2="v2"} with its labels sorted by name and their values
	// unescaped, then quoted as strconv.Quote does; a sample without labels
	// is its bare name.
	Series map[string]float64
	// Types maps each family's name to its type: "counter", "gauge" or
	// "histogram" (whose series are NAME_bucket{…,le="…"}, NAME_sum and
	// NAME_count).
	Types map[string]string
	// Order lists the families in the order they appear.
	Order []string
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Parse reads an exposition strictly, as Writer writes it and as tests
// want it checked: every family has one HELP and one TYPE line (counter,
// gauge or histogram) before its samples, its samples are contiguous and it has at
// least one, names and label names are valid, label values use only the
// format's escapes, no series repeats, counters and only counters end in
// _total, there are no other comments, no blank lines and no timestamps.
// The error, wrapping ErrFormat, names the first bad line.
func Parse(text string) (Exposition, error) {
	x := Exposition{Series: map[string]float64{}, Types: map[string]string{}}
	help := map[string]bool{}
	done := map[string]bool{} // families whose samples have ended
	current := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if err := x.line(line, help, done, &current); err != nil {
			return x, fmt.Errorf("%w: line %d %q: %s", ErrFormat, n, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return x, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	for _, name := range x.Order {
		if !done[name] && name != current {
			return x, fmt.Errorf("%w: family %s has no samples", ErrFormat, name)
		}
	}
	return x, nil
}

// line parses one line into x; help, done and current carry the state
// between lines.
func (x *Exposition) line(line string, help, done map[string]bool, current *string) error {
	if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
		name, doc, _ := strings.Cut(rest, " ")
		if !metricName.MatchString(name) || help[name] || doc == "" {
			return errors.New("bad or repeated HELP")
		}
		help[name] = true
		return nil
	}
	if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
		name, typ, _ := strings.Cut(rest, " ")
		if !help[name] || x.Types[name] != "" {
			return errors.New("TYPE without HELP before it, or repeated")
		}
		switch typ {
		case Counter:
			if !strings.HasSuffix(name, "_total") {
				return errors.New("counter not named _total")
			}
		case Gauge, Histogram:
			if strings.HasSuffix(name, "_total") {
				return fmt.Errorf("%s named _total", typ)
			}
		default:
			return fmt.Errorf("type %q", typ)
		}
		x.Types[name] = typ
		x.Order = append(x.Order, name)
		return nil
	}
	if strings.HasPrefix(line, "#") || line == "" {
		return errors.New("unexpected comment or blank line")
	}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return errors.New("no value")
	}
	name, rest := line[:i], line[i:]
	family := histogramFamily(x.Types, name)
	if x.Types[family] == "" {
		return errors.New("sample before its TYPE")
	}
	if family != *current {
		if done[family] {
			return fmt.Errorf("samples of %s are not contiguous", family)
		}
		done[*current] = true
		*current = family
	}
	labels, rest, err := parseLabels(rest)
	if err != nil {
		return err
	}
	if hasLE := strings.HasSuffix(name, "_bucket") && family != name; hasLE != slicesContainsPrefix(labels, "le=") {
		return errors.New("a histogram's _bucket samples, and only they, carry le")
	}
	val, ok := strings.CutPrefix(rest, " ")
	if !ok {
		return errors.New("no space before the value")
	}
	f, err := strconv.ParseFloat(val, 64)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	sort.Strings(labels)
	key := name
	if len(labels) > 0 {
		key += "{" + strings.Join(labels, ",") + "}"
	}
	if _, dup := x.Series[key]; dup {
		return errors.New("series repeated")
	}
	x.Series[key] = f
	return nil
}

// histogramFamily returns the histogram family a sample name belongs to
// (NAME_bucket, NAME_sum, NAME_count), or name itself.
func histogramFamily(types map[string]string, name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && types[base] == Histogram {
			return base
		}
	}
	return name
}

func slicesContainsPrefix(labels []string, prefix string) bool {
	for _, l := range labels {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// parseLabels reads an optional {k="v",…} at the start of rest and
// returns each label as k="v" (v quoted by strconv.Quote) and what follows.
func parseLabels(rest string) ([]string, string, error) {
	if rest == "" || rest[0] != '{' {
		return nil, rest, nil
	}
	var labels []string
	rest = rest[1:]
	for {
		if rest == "" {
			return nil, "", errors.New("unterminated labels")
		}
		if rest[0] == '}' {
			return labels, rest[1:], nil
		}
		eq := strings.Index(rest, `="`)
		if eq < 0 || !labelName.MatchString(rest[:eq]) {
			return nil, "", errors.New("bad label")
		}
		key := rest[:eq]
		rest = rest[eq+2:]
		var v strings.Builder
		for {
			if rest == "" {
				return nil, "", errors.New("unterminated label value")
			}
			c := rest[0]
			rest = rest[1:]
			if c == '"' {
				break
			}
			if c == '\n' {
				return nil, "", errors.New("raw newline in a label value")
			}
			if c == '\\' {
				if rest == "" {
					return nil, "", errors.New("unterminated escape")
				}
				switch rest[0] {
				case '\\':
					v.WriteByte('\\')
				case '"':
					v.WriteByte('"')
				case 'n':
					v.WriteByte('\n')
				default:
					return nil, "", fmt.Errorf("bad escape \\%c", rest[0])
				}
				rest = rest[1:]
				continue
			}
			v.WriteByte(c)
		}
		labels = append(labels, key+"="+strconv.Quote(v.String()))
		switch {
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		case strings.HasPrefix(rest, "}"):
		default:
			return nil, "", errors.New("want , or } after a label")
		}
	}
}
