package admin_test

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/beanstalk"
	"github.com/reprieve/reprieve/internal/server"
	"github.com/reprieve/reprieve/internal/wal"
)

// exposition is /metrics parsed back: each series ("name{k="v",…}" with
// labels sorted and values unescaped) and its value, and each family's type.
type exposition struct {
	series map[string]float64
	types  map[string]string
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition parses the Prometheus text format strictly: every
// family has one HELP and one TYPE line before its samples, its samples
// are contiguous, names and label names are valid, label values use only
// the format's escapes, no series repeats, counters end in _total.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	x, err := parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// errBadLine stops parse at the first bad line.
type errBadLine struct{ msg string }

func (e errBadLine) Error() string { return e.msg }

func parse(text string) (x exposition, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(errBadLine); ok {
				err = e
				return
			}
			panic(r)
		}
	}()
	x = exposition{series: map[string]float64{}, types: map[string]string{}}
	help := map[string]bool{}
	done := map[string]bool{} // families whose samples have ended
	current := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fail := func(format string, a ...any) {
			panic(errBadLine{fmt.Sprintf("line %d %q: %s", n, line, fmt.Sprintf(format, a...))})
		}
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, doc, _ := strings.Cut(rest, " ")
			if !metricName.MatchString(name) || help[name] || doc == "" {
				fail("bad or repeated HELP")
			}
			help[name] = true
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if !help[name] || x.types[name] != "" {
				fail("TYPE without HELP before it, or repeated")
			}
			switch typ {
			case "counter":
				if !strings.HasSuffix(name, "_total") {
					fail("counter not named _total")
				}
			case "gauge":
				if strings.HasSuffix(name, "_total") {
					fail("gauge named _total")
				}
			default:
				fail("type %q", typ)
			}
			x.types[name] = typ
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			fail("unexpected comment or blank line")
		}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			fail("no value")
		}
		name, rest := line[:i], line[i:]
		if x.types[name] == "" {
			fail("sample before its TYPE")
		}
		if name != current {
			if done[name] {
				fail("samples of %s are not contiguous", name)
			}
			done[current] = true
			current = name
		}
		var labels []string
		if rest[0] == '{' {
			rest = rest[1:]
			for rest[0] != '}' {
				eq := strings.Index(rest, `="`)
				if eq < 0 || !labelName.MatchString(rest[:eq]) {
					fail("bad label")
				}
				key := rest[:eq]
				rest = rest[eq+2:]
				var v strings.Builder
				for {
					if rest == "" {
						fail("unterminated label value")
					}
					c := rest[0]
					rest = rest[1:]
					if c == '"' {
						break
					}
					if c == '\n' {
						fail("raw newline in a label value")
					}
					if c == '\\' {
						switch rest[0] {
						case '\\':
							v.WriteByte('\\')
						case '"':
							v.WriteByte('"')
						case 'n':
							v.WriteByte('\n')
						default:
							fail("bad escape \\%c", rest[0])
						}
						rest = rest[1:]
						continue
					}
					v.WriteByte(c)
				}
				labels = append(labels, key+"="+strconv.Quote(v.String()))
				if rest[0] == ',' {
					rest = rest[1:]
				}
			}
			rest = rest[1:]
		}
		val, ok := strings.CutPrefix(rest, " ")
		if !ok {
			fail("no space before the value")
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			fail("value: %v", err)
		}
		sort.Strings(labels)
		key := name
		if len(labels) > 0 {
			key += "{" + strings.Join(labels, ",") + "}"
		}
		if _, dup := x.series[key]; dup {
			fail("series repeated")
		}
		x.series[key] = f
	}
	for name := range x.types {
		if !done[name] && name != current {
			return x, errBadLine{"family " + name + " has no samples"}
		}
	}
	return x, nil
}

// TestParseExpositionRejects makes sure the parser above catches each
// mistake it checks for.
func TestParseExpositionRejects(t *testing.T) {
	const ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n"
	if _, err := parse(ok); err != nil {
		t.Fatalf("valid input: %v", err)
	}
	for _, bad := range []string{
		"a_total 1\n",
		"# TYPE a_total counter\na_total 1\n",
		"# HELP a A.\n# TYPE a counter\na 1\n",
		"# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n",
		"# HELP a A.\n# TYPE a gauge\na{x=\"q\\tz\"} 1\n",
		"# HELP a A.\n# TYPE a gauge\na{x=\"q\"} 1\na{x=\"q\"} 2\n",
		"# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n",
		"# HELP a A.\n# TYPE a gauge\na one\n",
		"# HELP a A.\n# TYPE a gauge\n",
		"# HELP a A.\n# TYPE a gauge\na{1x=\"q\"} 1\n",
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// want checks series values.
func (x exposition) want(t *testing.T, values map[string]float64) {
	t.Helper()
	for k, v := range values {
		got, ok := x.series[k]
		if !ok {
			t.Errorf("no series %s", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

// TestMetrics parses /metrics back and checks the values of the server,
// tube, command and log families, and the escaping of label values.
func TestMetrics(t *testing.T) {
	logStats := wal.Stats{
		Policy: "interval", Fsyncs: 12, Batches: 7, Compactions: 2, CompactedBytes: 4096,
		Hot:    wal.StoreStats{Segments: 2, DiskBytes: 2 << 20, LiveBytes: 300, DeadBytes: 100, PerSegment: []wal.SegmentStats{{Num: 1}}},
		Buried: wal.StoreStats{Segments: 1, DiskBytes: 1 << 20, LiveBytes: 50},
	}
	e := start(t, options{config: func(c *admin.Config) {
		c.Binlog = func() server.BinlogStats {
			return server.BinlogStats{OldestIndex: 1, CurrentIndex: 2, RecordsWritten: 40, RecordsMigrated: 3, MaxSize: 1 << 20}
		}
		c.ExtraStats = func() []beanstalk.KeyValue {
			var kv []beanstalk.KeyValue
			for _, p := range logStats.StatsKeys() {
				kv = append(kv, beanstalk.KeyValue{Key: p[0], Value: p[1]})
			}
			return kv
		}
	}})
	c := e.dial(t)
	put(t, c, "mail", "a")
	put(t, c, "mail", "b")
	bury(t, c, "mail", "ccc", "smtp down")
	// A tube name the protocol would refuse, made on the engine directly,
	// to check the escaping of label values.
	weird := "we\"ird\\tube\nx"
	s := e.srv.Broker.Open()
	s.Use(weird)
	if _, err := s.Put(0, 0, time.Minute, []byte("x")); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := e.srv.Broker.PauseTube("mail", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(10 * time.Second)

	r := e.do(t, "GET", "/metrics")
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics: %d %v", r.status, r.header)
	}
	if !strings.Contains(r.body, `reprieve_tube_jobs{tube="we\"ird\\tube\nx",state="ready"} 1`+"\n") {
		t.Errorf("the tube label is not escaped as the format says:\n%s", r.body)
	}
	x := parseExposition(t, r.body)
	q := strconv.Quote
	x.want(t, map[string]float64{
		`reprieve_jobs{state="ready"}`:                            3,
		`reprieve_jobs{state="buried"}`:                           1,
		`reprieve_jobs{state="reserved"}`:                         0,
		`reprieve_jobs_urgent`:                                    1,
		`reprieve_jobs_total`:                                     4,
		`reprieve_commands_total{cmd="put"}`:                      3,
		`reprieve_commands_total{cmd="fail"}`:                     1,
		`reprieve_commands_total{cmd="reserve-with-timeout"}`:     0,
		`reprieve_connections`:                                    2,
		`reprieve_connections_total`:                              2,
		`reprieve_tubes`:                                          3,
		`reprieve_uptime_seconds`:                                 10,
		`reprieve_failures_total`:                                 1,
		`reprieve_gave_up_total`:                                  1,
		`reprieve_draining`:                                       0,
		`reprieve_tube_jobs{state="ready",tube="mail"}`:           2,
		`reprieve_tube_jobs{state="buried",tube="mail"}`:          1,
		`reprieve_tube_jobs{state="ready",tube=` + q(weird) + `}`: 1,
		`reprieve_tube_jobs_total{tube="mail"}`:                   3,
		`reprieve_tube_paused{tube="mail"}`:                       1,
		`reprieve_tube_pause_left_seconds{tube="mail"}`:           20,
		`reprieve_tube_paused{tube="default"}`:                    0,
		`reprieve_tube_failures_total{tube="mail"}`:               1,
		`reprieve_tube_buried_bytes{tube="mail"}`:                 3,
		`reprieve_tube_pauses_total{tube="mail"}`:                 1,
		`reprieve_log_records_written_total`:                      40,
		`reprieve_log_segment_max_bytes`:                          1 << 20,
		`reprieve_wal_fsyncs_total`:                               12,
		`reprieve_wal_compacted_bytes_total`:                      4096,
		`reprieve_wal_no_space`:                                   0,
		`reprieve_wal_disk_bytes{store="hot"}`:                    2 << 20,
		`reprieve_wal_disk_bytes{store="buried"}`:                 1 << 20,
		`reprieve_wal_live_bytes{store="hot"}`:                    300,
		`reprieve_wal_dead_bytes{store="hot"}`:                    100,
		`reprieve_wal_segments{store="buried"}`:                   1,
	})
	if x.types["reprieve_commands_total"] != "counter" || x.types["reprieve_tube_jobs"] != "gauge" {
		t.Errorf("types: %v", x.types)
	}
}

// TestMetricsWithoutLog leaves the log families out for a server kept in
// memory, and the command family out without a command source.
func TestMetricsWithoutLog(t *testing.T) {
	e := start(t, options{config: func(c *admin.Config) { c.Commands = nil }})
	x := parseExposition(t, e.do(t, "GET", "/metrics").body)
	for name := range x.types {
		if strings.HasPrefix(name, "reprieve_wal_") || strings.HasPrefix(name, "reprieve_log_") || name == "reprieve_commands_total" {
			t.Errorf("family %s without its source", name)
		}
	}
	x.want(t, map[string]float64{`reprieve_tube_jobs{state="ready",tube="default"}`: 0})
}
