package promtext_test

import (
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/reprieve/reprieve/internal/promtext"
)

// TestWriterExactText checks every byte Writer writes, escapes included.
func TestWriterExactText(t *testing.T) {
	var w promtext.Writer
	w.Family("jobs", promtext.Gauge, "Jobs by state.\nSecond line with a \\ and a \"quote\".")
	w.Sample("jobs", 3, "tube", "we\"ird\\tube\nx", "state", "ready")
	w.Sample("jobs", 0.5, "tube", "mail", "state", "buried")
	w.One("puts_total", promtext.Counter, "Puts.", 12345678901)
	w.One("up", promtext.Gauge, "Up.", math.Inf(1))
	const want = "# HELP jobs Jobs by state.\\nSecond line with a \\\\ and a \"quote\".\n" +
		"# TYPE jobs gauge\n" +
		`jobs{tube="we\"ird\\tube\nx",state="ready"} 3` + "\n" +
		`jobs{tube="mail",state="buried"} 0.5` + "\n" +
		"# HELP puts_total Puts.\n# TYPE puts_total counter\nputs_total 12345678901\n" +
		"# HELP up Up.\n# TYPE up gauge\nup +Inf\n"
	if got := w.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if string(w.Bytes()) != want {
		t.Fatal("Bytes differs from String")
	}
}

// TestWriterRoundTrip parses what Writer wrote back to the same series.
func TestWriterRoundTrip(t *testing.T) {
	var w promtext.Writer
	weird := "a\\b\"c\nd,e}f=g"
	w.Family("x_total", promtext.Counter, "X.")
	w.Sample("x_total", 1, "k", weird)
	w.Sample("x_total", 2, "k", "", "j", "2")
	w.One("y", promtext.Gauge, "Y.", -1.25)
	x, err := promtext.Parse(w.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"x_total{k=" + strconv.Quote(weird) + "}": 1,
		`x_total{j="2",k=""}`:                     2,
		"y":                                       -1.25,
	}
	if len(x.Series) != len(want) {
		t.Errorf("series %v, want %v", x.Series, want)
	}
	for k, v := range want {
		if got, ok := x.Series[k]; !ok || got != v {
			t.Errorf("%s = %v (%v), want %v", k, got, ok, v)
		}
	}
	if x.Types["x_total"] != "counter" || x.Types["y"] != "gauge" || len(x.Order) != 2 || x.Order[0] != "x_total" {
		t.Errorf("types %v order %v", x.Types, x.Order)
	}
}

// TestParseRejects makes sure Parse catches each mistake it checks for.
func TestParseRejects(t *testing.T) {
	const ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n"
	if _, err := promtext.Parse(ok); err != nil {
		t.Fatalf("valid input: %v", err)
	}
	for _, tc := range []struct{ name, text string }{
		{"sample without family", "a_total 1\n"},
		{"TYPE without HELP", "# TYPE a_total counter\na_total 1\n"},
		{"counter without _total", "# HELP a A.\n# TYPE a counter\na 1\n"},
		{"gauge with _total", "# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n"},
		{"bad escape", "# HELP a A.\n# TYPE a gauge\na{x=\"q\\tz\"} 1\n"},
		{"repeated series", "# HELP a A.\n# TYPE a gauge\na{x=\"q\"} 1\na{x=\"q\"} 2\n"},
		{"not contiguous", "# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n"},
		{"bad value", "# HELP a A.\n# TYPE a gauge\na one\n"},
		{"no samples", "# HELP a A.\n# TYPE a gauge\n"},
		{"bad label name", "# HELP a A.\n# TYPE a gauge\na{1x=\"q\"} 1\n"},
		{"repeated HELP", "# HELP a A.\n# HELP a A.\n# TYPE a gauge\na 1\n"},
		{"empty HELP", "# HELP a\n# TYPE a gauge\na 1\n"},
		{"unknown type", "# HELP a A.\n# TYPE a summary\na 1\n"},
		{"other comment", "# HELP a A.\n# TYPE a gauge\n# hello\na 1\n"},
		{"blank line", "# HELP a A.\n# TYPE a gauge\n\na 1\n"},
		{"timestamp", "# HELP a A.\n# TYPE a gauge\na 1 1700000000\n"},
		{"unterminated labels", "# HELP a A.\n# TYPE a gauge\na{x=\"1\"\n"},
		{"unterminated value", "# HELP a A.\n# TYPE a gauge\na{x=\"1} 1\n"},
		{"junk after label", "# HELP a A.\n# TYPE a gauge\na{x=\"1\"y=\"2\"} 1\n"},
		{"no value", "# HELP a A.\n# TYPE a gauge\na\n"},
	} {
		if _, err := promtext.Parse(tc.text); err == nil {
			t.Errorf("%s: accepted %q", tc.name, tc.text)
		} else if !errors.Is(err, promtext.ErrFormat) {
			t.Errorf("%s: %v does not wrap ErrFormat", tc.name, err)
		}
	}
}

// TestHistogram writes a histogram and parses it back: cumulative buckets,
// +Inf equal to the count, the sum; a bucket without le is refused.
func TestHistogram(t *testing.T) {
	var w promtext.Writer
	w.Family("job_wait_seconds", promtext.Histogram, "Wait.")
	w.HistogramSample("job_wait_seconds", []float64{0.5, 1}, []uint64{2, 0, 3}, 7.25, "tube", "a")
	want := `# HELP job_wait_seconds Wait.
# TYPE job_wait_seconds histogram
job_wait_seconds_bucket{tube="a",le="0.5"} 2
job_wait_seconds_bucket{tube="a",le="1"} 2
job_wait_seconds_bucket{tube="a",le="+Inf"} 5
job_wait_seconds_sum{tube="a"} 7.25
job_wait_seconds_count{tube="a"} 5
`
	if w.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", w.String(), want)
	}
	x, err := promtext.Parse(w.String())
	if err != nil || x.Types["job_wait_seconds"] != promtext.Histogram || x.Series[`job_wait_seconds_bucket{le="+Inf",tube="a"}`] != 5 || x.Series[`job_wait_seconds_sum{tube="a"}`] != 7.25 {
		t.Fatalf("parsed back: %+v, %v", x, err)
	}
	bad := "# HELP h H.\n# TYPE h histogram\nh_bucket{tube=\"a\"} 1\n"
	if _, err := promtext.Parse(bad); err == nil {
		t.Fatal("a _bucket sample without le was accepted")
	}
}
