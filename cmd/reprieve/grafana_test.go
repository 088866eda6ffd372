package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/promtext"
)

// TestGrafanaDashboardUsesServedMetrics starts `reprieve serve` with a
// durable log and the admin interface, makes it fill every family (a job
// deleted, one failed), and checks that each metric the Grafana dashboard
// in deploy/grafana queries is one that /metrics serves.
func TestGrafanaDashboardUsesServedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprieve binary")
	}
	t.Parallel()
	bin := buildReprieve(t)
	adminAddr := freePort(t)
	p := startReprieve(t, bin, freePort(t), "--data", t.TempDir(), "--admin-listen", adminAddr)
	ctx := context.Background()
	c, err := client.Dial(ctx, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, body := range []string{"done", "failing", "waiting"} {
		if _, err := c.PutIn(ctx, "mail", []byte(body), 0, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c.Watch(ctx, "mail")
	for i, finish := range []func(id uint64) error{
		func(id uint64) error { return c.Delete(ctx, id) },
		func(id uint64) error { _, err := c.Fail(ctx, id, "smtp down"); return err },
	} {
		j, err := c.ReserveWithTimeout(ctx, 0)
		if err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
		if err := finish(j.ID); err != nil {
			t.Fatal(err)
		}
	}

	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	x, err := promtext.Parse(string(b))
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, b)
	}
	served := map[string]bool{}
	for name, typ := range x.Types {
		served[name] = true
		if typ == promtext.Histogram {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				served[name+s] = true
			}
		}
	}

	src, err := os.ReadFile("../../deploy/grafana/reprieve.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct{ List []struct{ Query any } }
	}
	if err := json.Unmarshal(src, &dash); err != nil {
		t.Fatalf("deploy/grafana/reprieve.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(string); ok {
			exprs = append(exprs, s)
		}
	}
	metric := regexp.MustCompile(`\b(?:reprieve|go|process)_[a-z0-9_]+\b`)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metric.FindAllString(e, -1) {
			used[m] = true
		}
	}
	var missing []string
	for m := range used {
		if !served[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(used) < 20 || len(missing) > 0 {
		t.Fatalf("the dashboard queries %d metrics; these are not served by /metrics: %s", len(used), strings.Join(missing, ", "))
	}
}
