package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/reprieve/reprieve/internal/pipeline"
	"github.com/reprieve/reprieve/internal/promtext"
)

// This file is the admin interface of 'reprieve run': the pipeline's
// counters as Prometheus metrics and as JSON, and its health, behind the
// same token, TLS and error replies as the job server's interface.

// PipelineConfig configures the handler of a running pipeline.
type PipelineConfig struct {
	// Stats returns the counters of every module in file order, as
	// (*pipeline.Pipeline).Stats does; required.
	Stats func() []pipeline.ModuleStats
	// File is the pipeline file's path, shown by /api/v1/pipeline.
	File string
	// Stopping reports that the pipeline is shutting down; /readyz then
	// answers 503. Nil: never.
	Stopping func() bool
	// Settings, if set, gives the effective configuration that GET
	// /api/v1/config shows (as JSON; secrets must be hidden already).
	Settings func() any
	// Token, when not empty, is required as "Authorization: Bearer
	// <Token>" by /api/v1/pipeline and by /metrics (unless MetricsPublic).
	Token string
	// MetricsPublic serves /metrics without the token.
	MetricsPublic bool
}

// Validate reports a PipelineConfig that cannot work; its errors wrap
// ErrConfig.
func (c PipelineConfig) Validate() error {
	if c.Stats == nil {
		return errors.Join(ErrConfig, errors.New("admin: Stats is required"))
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return errors.Join(ErrConfig, errors.New("admin: the token must not contain spaces or line breaks"))
	}
	return nil
}

// PipelineHandler serves a pipeline's /metrics, /api/v1/pipeline,
// /healthz and /readyz; docs/pipelines.md describes the replies.
type PipelineHandler struct {
	router
	cfg PipelineConfig
}

// NewPipelineHandler returns the handler for cfg, or the error of
// cfg.Validate.
func NewPipelineHandler(cfg PipelineConfig) (*PipelineHandler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &PipelineHandler{router: newRouter(cfg.Token), cfg: cfg}
	h.handle("/api/v1/pipeline", route{methods: get(h.pipeline)})
	h.handle("/api/v1/config", route{methods: get(func(w http.ResponseWriter, r *http.Request) {
		settingsReply(cfg.Settings, w, r)
	})})
	h.notFound("/api/", true, "endpoint", "the pipeline's counters are at /api/v1/pipeline")
	h.handle("/metrics", route{public: cfg.MetricsPublic, methods: get(h.metrics)})
	h.handle("/healthz", route{public: true, methods: get(healthz)})
	h.handle("/readyz", route{public: true, methods: get(h.readyz)})
	h.notFound("/", false, "page", "a pipeline serves /metrics, /api/v1/pipeline, /healthz and /readyz")
	return h, nil
}

// ServeHTTP serves the pipeline's admin interface.
func (h *PipelineHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.router.ServeHTTP(w, r)
}

// stopping reports whether the pipeline is shutting down.
func (h *PipelineHandler) stopping() bool {
	return h.cfg.Stopping != nil && h.cfg.Stopping()
}

// readyz answers 200 "ready" while the pipeline runs and 503 "stopping"
// once its shutdown has begun.
func (h *PipelineHandler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.stopping() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("stopping\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// pipeline answers GET /api/v1/pipeline: the file, the state and every
// module's counters with its queues, in file order.
func (h *PipelineHandler) pipeline(w http.ResponseWriter, _ *http.Request) {
	state := "running"
	if h.stopping() {
		state = "stopping"
	}
	stats := h.cfg.Stats()
	modules := make([]object, 0, len(stats))
	for _, m := range stats {
		queues := make([]object, 0, len(m.Queues))
		for _, q := range m.Queues {
			o := object{{"queue", q.Queue}, {"direction", direction(q)}, {"in", q.In}, {"out", q.Out}, {"dropped", q.Dropped}}
			if q.Input {
				o.add("size", q.Size)
			}
			queues = append(queues, o)
		}
		modules = append(modules, object{
			{"module", m.Module}, {"kind", m.Kind},
			{"handled", m.Handled}, {"failed", m.Failed}, {"dead", m.Dead}, {"restarts", m.Restarts},
			{"queues", queues},
		})
	}
	writeJSON(w, http.StatusOK, object{{"file", h.cfg.File}, {"state", state}, {"modules", modules}})
}

// direction names a queue's side: "input" (the module consumes it) or
// "output" (the module emits to it).
func direction(q pipeline.QueueStats) string {
	if q.Input {
		return "input"
	}
	return "output"
}

// metrics answers GET /metrics with the pipeline families (docs/pipelines.md).
func (h *PipelineHandler) metrics(w http.ResponseWriter, _ *http.Request) {
	stats := h.cfg.Stats()
	var e promtext.Writer
	mod := func(name, help string, v func(m *pipeline.ModuleStats) uint64) {
		if len(stats) == 0 {
			return
		}
		e.Family(name, promtext.Counter, help)
		for i := range stats {
			e.Sample(name, float64(v(&stats[i])), "module", stats[i].Module, "kind", stats[i].Kind)
		}
	}
	mod("reprieve_pipeline_handled_total", "Messages a module handled without error.",
		func(m *pipeline.ModuleStats) uint64 { return m.Handled })
	mod("reprieve_pipeline_failed_total", "Messages a module failed to handle (sent to its failed queue, or dropped when that is not connected).",
		func(m *pipeline.ModuleStats) uint64 { return m.Failed })
	mod("reprieve_pipeline_dead_total", "Messages whose hop budget ran out at a module (sent to the deadletter queue, or dropped).",
		func(m *pipeline.ModuleStats) uint64 { return m.Dead })
	mod("reprieve_pipeline_restarts_total", "Supervisor restarts of a module's run loop.",
		func(m *pipeline.ModuleStats) uint64 { return m.Restarts })
	queue := func(name, typ, help string, inputOnly bool, v func(q *pipeline.QueueStats) float64) {
		started := false
		for i := range stats {
			for j := range stats[i].Queues {
				q := &stats[i].Queues[j]
				if inputOnly && !q.Input {
					continue
				}
				if !started {
					e.Family(name, typ, help)
					started = true
				}
				if inputOnly {
					e.Sample(name, v(q), "module", stats[i].Module, "queue", q.Queue)
				} else {
					e.Sample(name, v(q), "module", stats[i].Module, "queue", q.Queue, "direction", direction(*q))
				}
			}
		}
	}
	queue("reprieve_pipeline_queue_in_total", promtext.Counter,
		"Messages into a queue: accepted into an input queue, or emitted by its module to an output queue.", false,
		func(q *pipeline.QueueStats) float64 { return float64(q.In) })
	queue("reprieve_pipeline_queue_out_total", promtext.Counter,
		"Messages out of a queue: taken by the module from an input queue, or forwarded from an output queue to its destination.", false,
		func(q *pipeline.QueueStats) float64 { return float64(q.Out) })
	queue("reprieve_pipeline_queue_dropped_total", promtext.Counter,
		"Messages dropped: refused by a full on_full: drop input queue, or emitted to an output queue that is not connected.", false,
		func(q *pipeline.QueueStats) float64 { return float64(q.Dropped) })
	queue("reprieve_pipeline_queue_size", promtext.Gauge, "Messages waiting in an input queue.", true,
		func(q *pipeline.QueueStats) float64 { return float64(q.Size) })
	writeRuntimeMetrics(&e)
	w.Header().Set("Content-Type", promtext.ContentType)
	_, _ = w.Write(e.Bytes())
}
