// Package promtext writes metrics in the Prometheus text exposition format,
// version 0.0.4, and parses that format back strictly for tests.
//
// Writer is all a /metrics handler needs: every family gets its HELP and
// TYPE lines, label values and help texts are escaped as the format says,
// values are written in the shortest form that reads back exactly. It keeps
// no registry: a handler reads its counters and writes them at each scrape.
package promtext

import (
	"bytes"
	"strconv"
	"strings"
)

// ContentType is the Content-Type of a reply holding an exposition.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metric types for Family. A counter's name should end in _total.
const (
	Counter   = "counter"
	Gauge     = "gauge"
	Histogram = "histogram"
)

// Writer builds one exposition in memory. The zero value is ready to use;
// a Writer is not safe for concurrent use.
type Writer struct {
	b bytes.Buffer
}

// Family starts a metric family: its HELP line (help escaped) and its TYPE
// line. The samples of the family must follow before the next Family.
func (w *Writer) Family(name, typ, help string) {
	w.b.WriteString("# HELP ")
	w.b.WriteString(name)
	w.b.WriteByte(' ')
	w.b.WriteString(helpEscaper.Replace(help))
	w.b.WriteString("\n# TYPE ")
	w.b.WriteString(name)
	w.b.WriteByte(' ')
	w.b.WriteString(typ)
	w.b.WriteByte('\n')
}

// Sample writes one sample of the current family; labels alternate names
// and values (name1, value1, name2, value2…), values escaped; an odd last
// element is ignored.
func (w *Writer) Sample(name string, v float64, labels ...string) {
	w.b.WriteString(name)
	if len(labels) > 1 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(labels[i])
			w.b.WriteString(`="`)
			w.b.WriteString(labelEscaper.Replace(labels[i+1]))
			w.b.WriteByte('"')
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	w.b.WriteByte('\n')
}

// HistogramSample writes one histogram of the current family (of type
// Histogram): NAME_bucket for each upper bound of bounds (ascending) with
// the cumulative count of observations at most that bound, then
// le="+Inf" (count), NAME_sum and NAME_count. counts holds the
// observations per bucket, not cumulative: one per bound and a last one
// for those above every bound. labels are as for Sample.
func (w *Writer) HistogramSample(name string, bounds []float64, counts []uint64, sum float64, labels ...string) {
	var cum uint64
	le := append(append([]string(nil), labels...), "le", "")
	for i, b := range bounds {
		cum += counts[i]
		le[len(le)-1] = strconv.FormatFloat(b, 'f', -1, 64)
		w.Sample(name+"_bucket", float64(cum), le...)
	}
	cum += counts[len(bounds)]
	le[len(le)-1] = "+Inf"
	w.Sample(name+"_bucket", float64(cum), le...)
	w.Sample(name+"_sum", sum, labels...)
	w.Sample(name+"_count", float64(cum), labels...)
}

// One writes a family with a single unlabelled sample.
func (w *Writer) One(name, typ, help string, v float64) {
	w.Family(name, typ, help)
	w.Sample(name, v)
}

// Bytes returns the exposition written so far; it aliases the Writer's
// buffer until the next write.
func (w *Writer) Bytes() []byte { return w.b.Bytes() }

// String returns the exposition written so far.
func (w *Writer) String() string { return w.b.String() }

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)
