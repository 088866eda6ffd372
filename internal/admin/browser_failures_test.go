package admin_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/admin"
	"github.com/reprieve/reprieve/internal/cluster"
	"github.com/reprieve/reprieve/internal/stats"
)

// TestBrowserDeadLetterOrigin opens the dashboard after a job of mail was
// dead-lettered into dead and mail, empty, was dropped: the failure
// counts of mail are still on the page, marked dropped; the dead-letter
// tube's buried list and the job's view name mail as where it came from;
// and the cluster panel is hidden on this single node.
func TestBrowserDeadLetterOrigin(t *testing.T) {
	e := start(t, options{})
	id := deadLetter(t, e)
	ids := strconv.FormatUint(id, 10)

	p := openPage(t, e)
	p.waitFor("the main view", `!document.getElementById("main").hidden && document.getElementById("login").hidden`)
	// tube failures retried gave-up buried dead-lettered deleted expired
	// last-error last-failure tube-now
	p.waitRows("failures kept after mail was dropped", "#failures", [][]string{
		{"mail", "2", "1", "1", "0", "1 → dead", "0", "0", "smtp down (2)", "2026-03-01T12:00:20Z", "dropped 2026-03-01T12:00:25Z"},
	})
	p.waitRows("tubes without mail", "#tubes", [][]string{
		{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"},
		{"dead", "0", "0", "0", "1", "", "0", "0", "", "Kick buried|Pause|Buried jobs"},
	})
	if !eval[bool](p, `document.getElementById("cluster-section").hidden && !document.getElementById("failures-section").hidden`) {
		t.Errorf("a single node must hide the cluster panel and show the failures:\n%s", p.state())
	}
	hint := eval[string](p, `document.getElementById("failures-hint").textContent`)
	if !strings.Contains(hint, "at most 1000 dropped tubes are remembered") || !strings.Contains(hint, "(0 forgotten so far)") {
		t.Errorf("failures hint %q does not state the bound", hint)
	}

	// id failures last-error last-failure gave-up from-tube age size actions
	p.press("#tubes", "dead", "Buried jobs")
	p.waitRows("the dead letter", "#jobs", [][]string{
		{ids, "2", "smtp down (2)", "2026-03-01T12:00:20Z", "dead-letter dead", "mail", "25 s", "7", "Kick|Delete|Body"},
	})
	p.press("#jobs", ids, "Body")
	body := "job " + ids + " (text, 7 bytes)\nfrom tube:   mail (dead-letter dead)\nfailures:    2\n" +
		"first error: smtp down (1)\nlast error:  smtp down (2)\n\nto: ann"
	p.waitFor("the job view of the dead letter", `!document.getElementById("body").hidden && document.getElementById("body").textContent === `+jsString(body))
	p.checkNetwork("/api/v1/failures", "/api/v1/tubes/dead/jobs", "/api/v1/jobs/"+ids)
}

// TestBrowserClusterPanel feeds the admin interface a cluster leader's
// stats keys, as server does in cluster mode, and checks the cluster
// panel shows them, with a replica behind and the lag marked.
func TestBrowserClusterPanel(t *testing.T) {
	st := cluster.Stats{Role: "leader", Name: "jobs", Node: "n2", Leader: "n2", Term: 4, Replicas: 3, ReplicasCurrent: 2, Lag: 17}
	e := start(t, options{config: func(c *admin.Config) {
		base := c.Stats
		c.Stats = func() []stats.Entry {
			es := base()
			for _, kv := range st.StatsKeys() {
				es = append(es, stats.Entry{Key: kv[0], Value: stats.Raw(kv[1])})
			}
			return es
		}
	}})
	p := openPage(t, e)
	// cluster node role leader term replicas-current replicas lag
	p.waitRows("the cluster panel", "#cluster", [][]string{{"jobs", "n2", "leader", "n2", "4", "2", "3", "17"}})
	if got := eval[string](p, `Array.from(document.querySelectorAll("#cluster td.warn"), (c) => c.textContent).join()`); got != "2,17" {
		t.Errorf("cells marked warn: %q, want the replicas current (2 of 3) and the lag (17)", got)
	}
	if !eval[bool](p, `!document.getElementById("cluster-section").hidden && document.getElementById("failures-section").hidden`) {
		t.Errorf("the cluster panel must show, the failures section (no failure yet) stay hidden:\n%s", p.state())
	}
	p.checkNetwork("/api/v1/stats")
}
