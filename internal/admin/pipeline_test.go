package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/pipeline"
)

// Two module kinds for the pipeline tests: a source of count messages
// whose bodies are 0, 1, 2…, and a module that fails on odd bodies.
func init() {
	pipeline.Register(&pipeline.Kind{Name: "admintest.source", Out: []string{"outbox"},
		Args: []pipeline.Arg{{Name: "count", Type: pipeline.Int, Default: 1}},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &testSource{env: env, count: a.Int("count")}, nil
		}})
	pipeline.Register(&pipeline.Kind{Name: "admintest.odd_fails", In: []string{"inbox"},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return oddFails{}, nil
		}})
}

type testSource struct {
	env   *pipeline.Env
	count int
}

// Run emits the messages, then waits for the shutdown.
func (s *testSource) Run(ctx context.Context) error {
	for i := range s.count {
		if err := s.env.Emit(ctx, "outbox", pipeline.NewMessage(fmt.Sprintf("m%d", i), []byte(strconv.Itoa(i)))); err != nil {
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

type oddFails struct{}

// Handle fails on an odd body.
func (oddFails) Handle(_ context.Context, _ string, m *pipeline.Message) error {
	if n, _ := strconv.Atoi(string(m.Body)); n%2 == 1 {
		return errors.New("odd")
	}
	return nil
}

// testPipeline is five messages from src to check, which fails two of
// them; its failed queue is connected to sink, its successful queue is not.
const testPipeline = `
modules:
  src: {module: admintest.source, arguments: {count: 5}}
  check: {module: admintest.odd_fails}
  sink: {module: admintest.odd_fails}
routingtable:
  - src.outbox -> check.inbox
  - check.failed -> sink.inbox
`

// pipelineEnv is a running testPipeline with its admin interface on
// loopback; cancel begins the pipeline's shutdown and waits for its end.
type pipelineEnv struct {
	*env
	p      *pipeline.Pipeline
	cancel func()
}

// startPipeline runs testPipeline and serves its admin interface.
func startPipeline(t *testing.T, token string, metricsPublic bool) *pipelineEnv {
	t.Helper()
	cfg, _, err := pipeline.Parse("test.yaml", []byte(testPipeline))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(cfg, pipeline.Options{DrainTimeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("pipeline: %v", err)
		}
		ran <- nil // a second stop returns at once
	}
	t.Cleanup(stop)
	h, err := admin.NewPipelineHandler(admin.PipelineConfig{
		Stats: p.Stats, File: "/etc/reprieve/test.yaml", Stopping: func() bool { return ctx.Err() != nil },
		Token: token, MetricsPublic: metricsPublic,
	})
	if err != nil {
		t.Fatal(err)
	}
	url, hc := serveHTTP(t, h)
	return &pipelineEnv{env: &env{url: url, token: token, http: hc}, p: p, cancel: stop}
}

// settledStats are testPipeline's counters once every message has gone
// through.
var settledStats = []pipeline.ModuleStats{
	{Module: "src", Kind: "admintest.source", Queues: []pipeline.QueueStats{
		{Queue: "outbox", In: 5, Out: 5},
	}},
	{Module: "check", Kind: "admintest.odd_fails", Handled: 3, Failed: 2, Queues: []pipeline.QueueStats{
		{Queue: "inbox", Input: true, In: 5, Out: 5},
		{Queue: "failed", In: 2, Out: 2},
		{Queue: "successful", In: 3, Dropped: 3},
	}},
	{Module: "sink", Kind: "admintest.odd_fails", Failed: 2, Queues: []pipeline.QueueStats{
		{Queue: "inbox", Input: true, In: 2, Out: 2},
		{Queue: "failed", In: 2, Dropped: 2},
		{Queue: "successful"},
	}},
}

// settle waits until the pipeline's counters are settledStats.
func (e *pipelineEnv) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.p.Stats()
		if reflect.DeepEqual(got, settledStats) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not settle:\n got %+v\nwant %+v", got, settledStats)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPipelineMetrics checks the exact exposition of a pipeline whose
// messages have all gone through, and parses it back strictly.
func TestPipelineMetrics(t *testing.T) {
	e := startPipeline(t, "", false)
	e.settle(t)
	r := e.do(t, "GET", "/metrics")
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics: %d %v\n%s", r.status, r.header, r.body)
	}
	const want = `# HELP reprieve_pipeline_handled_total Messages a module handled without error.
# TYPE reprieve_pipeline_handled_total counter
reprieve_pipeline_handled_total{module="src",kind="admintest.source"} 0
reprieve_pipeline_handled_total{module="check",kind="admintest.odd_fails"} 3
reprieve_pipeline_handled_total{module="sink",kind="admintest.odd_fails"} 0
# HELP reprieve_pipeline_failed_total Messages a module failed to handle (sent to its failed queue, or dropped when that is not connected).
# TYPE reprieve_pipeline_failed_total counter
reprieve_pipeline_failed_total{module="src",kind="admintest.source"} 0
reprieve_pipeline_failed_total{module="check",kind="admintest.odd_fails"} 2
reprieve_pipeline_failed_total{module="sink",kind="admintest.odd_fails"} 2
# HELP reprieve_pipeline_dead_total Messages whose hop budget ran out at a module (sent to the deadletter queue, or dropped).
# TYPE reprieve_pipeline_dead_total counter
reprieve_pipeline_dead_total{module="src",kind="admintest.source"} 0
reprieve_pipeline_dead_total{module="check",kind="admintest.odd_fails"} 0
reprieve_pipeline_dead_total{module="sink",kind="admintest.odd_fails"} 0
# HELP reprieve_pipeline_restarts_total Supervisor restarts of a module's run loop.
# TYPE reprieve_pipeline_restarts_total counter
reprieve_pipeline_restarts_total{module="src",kind="admintest.source"} 0
reprieve_pipeline_restarts_total{module="check",kind="admintest.odd_fails"} 0
reprieve_pipeline_restarts_total{module="sink",kind="admintest.odd_fails"} 0
# HELP reprieve_pipeline_queue_in_total Messages into a queue: accepted into an input queue, or emitted by its module to an output queue.
# TYPE reprieve_pipeline_queue_in_total counter
reprieve_pipeline_queue_in_total{module="src",queue="outbox",direction="output"} 5
reprieve_pipeline_queue_in_total{module="check",queue="inbox",direction="input"} 5
reprieve_pipeline_queue_in_total{module="check",queue="failed",direction="output"} 2
reprieve_pipeline_queue_in_total{module="check",queue="successful",direction="output"} 3
reprieve_pipeline_queue_in_total{module="sink",queue="inbox",direction="input"} 2
reprieve_pipeline_queue_in_total{module="sink",queue="failed",direction="output"} 2
reprieve_pipeline_queue_in_total{module="sink",queue="successful",direction="output"} 0
# HELP reprieve_pipeline_queue_out_total Messages out of a queue: taken by the module from an input queue, or forwarded from an output queue to its destination.
# TYPE reprieve_pipeline_queue_out_total counter
reprieve_pipeline_queue_out_total{module="src",queue="outbox",direction="output"} 5
reprieve_pipeline_queue_out_total{module="check",queue="inbox",direction="input"} 5
reprieve_pipeline_queue_out_total{module="check",queue="failed",direction="output"} 2
reprieve_pipeline_queue_out_total{module="check",queue="successful",direction="output"} 0
reprieve_pipeline_queue_out_total{module="sink",queue="inbox",direction="input"} 2
reprieve_pipeline_queue_out_total{module="sink",queue="failed",direction="output"} 0
reprieve_pipeline_queue_out_total{module="sink",queue="successful",direction="output"} 0
# HELP reprieve_pipeline_queue_dropped_total Messages dropped: refused by a full on_full: drop input queue, or emitted to an output queue that is not connected.
# TYPE reprieve_pipeline_queue_dropped_total counter
reprieve_pipeline_queue_dropped_total{module="src",queue="outbox",direction="output"} 0
reprieve_pipeline_queue_dropped_total{module="check",queue="inbox",direction="input"} 0
reprieve_pipeline_queue_dropped_total{module="check",queue="failed",direction="output"} 0
reprieve_pipeline_queue_dropped_total{module="check",queue="successful",direction="output"} 3
reprieve_pipeline_queue_dropped_total{module="sink",queue="inbox",direction="input"} 0
reprieve_pipeline_queue_dropped_total{module="sink",queue="failed",direction="output"} 2
reprieve_pipeline_queue_dropped_total{module="sink",queue="successful",direction="output"} 0
# HELP reprieve_pipeline_queue_size Messages waiting in an input queue.
# TYPE reprieve_pipeline_queue_size gauge
reprieve_pipeline_queue_size{module="check",queue="inbox"} 0
reprieve_pipeline_queue_size{module="sink",queue="inbox"} 0
`
	// The Go runtime and process families follow (their values vary).
	body, _, _ := strings.Cut(r.body, "# HELP go_info ")
	if body != want {
		t.Errorf("GET /metrics:\n%s\nwant\n%s", body, want)
	}
	x := parseExposition(t, body)
	if len(x.Series) != 12+21+2 || len(x.Order) != 8 {
		t.Errorf("%d series in %d families", len(x.Series), len(x.Order))
	}
	x.want(t, map[string]float64{
		`reprieve_pipeline_failed_total{kind="admintest.odd_fails",module="check"}`:                   2,
		`reprieve_pipeline_queue_dropped_total{direction="output",module="sink",queue="failed"}`:      2,
		`reprieve_pipeline_queue_size{module="check",queue="inbox"}`:                                  0,
		`reprieve_pipeline_queue_in_total{direction="output",module="check",queue="successful"}`:      3,
		`reprieve_pipeline_queue_out_total{direction="input",module="sink",queue="inbox"}`:            2,
		`reprieve_pipeline_restarts_total{kind="admintest.source",module="src"}`:                      0,
		`reprieve_pipeline_queue_dropped_total{direction="output",module="check",queue="successful"}`: 3,
	})
}

// TestPipelineAPI checks the exact JSON of /api/v1/pipeline while the
// pipeline runs, and that it and /readyz say "stopping" once the shutdown
// has begun.
func TestPipelineAPI(t *testing.T) {
	e := startPipeline(t, "", false)
	e.settle(t)
	const modules = `  "modules": [
    {
      "module": "src",
      "kind": "admintest.source",
      "handled": 0,
      "failed": 0,
      "dead": 0,
      "restarts": 0,
      "queues": [
        {
          "queue": "outbox",
          "direction": "output",
          "in": 5,
          "out": 5,
          "dropped": 0
        }
      ]
    },
    {
      "module": "check",
      "kind": "admintest.odd_fails",
      "handled": 3,
      "failed": 2,
      "dead": 0,
      "restarts": 0,
      "queues": [
        {
          "queue": "inbox",
          "direction": "input",
          "in": 5,
          "out": 5,
          "dropped": 0,
          "size": 0
        },
        {
          "queue": "failed",
          "direction": "output",
          "in": 2,
          "out": 2,
          "dropped": 0
        },
        {
          "queue": "successful",
          "direction": "output",
          "in": 3,
          "out": 0,
          "dropped": 3
        }
      ]
    },
    {
      "module": "sink",
      "kind": "admintest.odd_fails",
      "handled": 0,
      "failed": 2,
      "dead": 0,
      "restarts": 0,
      "queues": [
        {
          "queue": "inbox",
          "direction": "input",
          "in": 2,
          "out": 2,
          "dropped": 0,
          "size": 0
        },
        {
          "queue": "failed",
          "direction": "output",
          "in": 2,
          "out": 0,
          "dropped": 2
        },
        {
          "queue": "successful",
          "direction": "output",
          "in": 0,
          "out": 0,
          "dropped": 0
        }
      ]
    }
  ]
}
`
	r := e.do(t, "GET", "/api/v1/pipeline")
	r.want(t, "running", 200, "{\n  \"file\": \"/etc/reprieve/test.yaml\",\n  \"state\": \"running\",\n"+modules)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	e.do(t, "GET", "/readyz").want(t, "readyz running", 200, "ready\n")
	e.do(t, "GET", "/healthz").want(t, "healthz", 200, "ok\n")

	e.cancel()
	e.do(t, "GET", "/readyz").want(t, "readyz stopped", 503, "stopping\n")
	e.do(t, "GET", "/healthz").want(t, "healthz stopped", 200, "ok\n")
	e.do(t, "GET", "/api/v1/pipeline").want(t, "stopped", 200, "{\n  \"file\": \"/etc/reprieve/test.yaml\",\n  \"state\": \"stopping\",\n"+modules)
}

// TestPipelineAuth checks the token, the public routes, 405 with Allow and
// the JSON 404s, as the job server's admin interface answers them.
func TestPipelineAuth(t *testing.T) {
	e := startPipeline(t, "s3cret", false)
	const missing = "{\n  \"error\": \"this server needs an admin token: send the header Authorization: Bearer <token>\",\n  \"code\": \"unauthorized\"\n}\n"
	const wrong = "{\n  \"error\": \"the admin token is wrong: send the header Authorization: Bearer <token> with the server's --admin-token\",\n  \"code\": \"unauthorized\"\n}\n"
	for _, path := range []string{"/metrics", "/api/v1/pipeline", "/api/v1/nope"} {
		r := e.doToken(t, "GET", path, "")
		r.want(t, path+" without token", 401, missing)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="reprieve"` {
			t.Errorf("%s: WWW-Authenticate %q", path, got)
		}
		r = e.doToken(t, "GET", path, "guess")
		r.want(t, path+" wrong token", 401, wrong)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="reprieve", error="invalid_token"` {
			t.Errorf("%s: WWW-Authenticate %q", path, got)
		}
	}
	if r := e.do(t, "GET", "/metrics"); r.status != 200 || !strings.HasPrefix(r.body, "# HELP reprieve_pipeline_handled_total ") {
		t.Errorf("/metrics with the token: %d\n%s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/pipeline"); r.status != 200 || !strings.HasPrefix(r.body, "{\n  \"file\": \"/etc/reprieve/test.yaml\",") {
		t.Errorf("/api/v1/pipeline with the token: %d\n%s", r.status, r.body)
	}
	e.do(t, "GET", "/api/v1/nope").want(t, "unknown API path", 404,
		"{\n  \"error\": \"no such endpoint: /api/v1/nope (the pipeline's counters are at /api/v1/pipeline)\",\n  \"code\": \"not_found\"\n}\n")
	e.doToken(t, "GET", "/nope", "").want(t, "unknown page", 404,
		"{\n  \"error\": \"no such page: /nope (a pipeline serves /metrics, /api/v1/pipeline, /healthz and /readyz)\",\n  \"code\": \"not_found\"\n}\n")
	e.doToken(t, "GET", "/healthz", "").want(t, "healthz", 200, "ok\n")
	e.doToken(t, "GET", "/readyz", "").want(t, "readyz", 200, "ready\n")
	r := e.do(t, "POST", "/metrics")
	r.want(t, "POST /metrics", 405, "{\n  \"error\": \"POST is not allowed on /metrics; use GET or HEAD\",\n  \"code\": \"method_not_allowed\"\n}\n")
	if got := r.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}
	if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	e.doToken(t, "DELETE", "/api/v1/pipeline", "").want(t, "DELETE without token", 401, missing)
}

// TestPipelineMetricsPublic serves /metrics without the token; the API
// still needs it.
func TestPipelineMetricsPublic(t *testing.T) {
	e := startPipeline(t, "s3cret", true)
	if r := e.doToken(t, "GET", "/metrics", ""); r.status != 200 || r.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("public /metrics: %d %v", r.status, r.header)
	}
	if r := e.doToken(t, "GET", "/api/v1/pipeline", ""); r.status != 401 {
		t.Errorf("API without token: %d", r.status)
	}
}

// TestPipelineConfigValidate refuses a config without stats or with a
// token holding white space.
func TestPipelineConfigValidate(t *testing.T) {
	stats := func() []pipeline.ModuleStats { return nil }
	for _, tc := range []struct {
		cfg  admin.PipelineConfig
		want string
	}{
		{admin.PipelineConfig{}, "admin: invalid config\nadmin: Stats is required"},
		{admin.PipelineConfig{Stats: stats, Token: "a b"}, "admin: invalid config\nadmin: the token must not contain spaces or line breaks"},
	} {
		_, err := admin.NewPipelineHandler(tc.cfg)
		if err == nil || err.Error() != tc.want || !errors.Is(err, admin.ErrConfig) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := admin.NewPipelineHandler(admin.PipelineConfig{Stats: stats}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
