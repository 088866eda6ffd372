package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reprieve/reprieve/client"
	"github.com/reprieve/reprieve/internal/policy"
	"github.com/reprieve/reprieve/internal/server"
)

// The dashboard in a real browser (headless Chromium, see
// browser_page_test.go): what it shows, what its buttons do, checked on
// the page and over the beanstalk protocol, and its token login.

// TestBrowserDashboard opens the dashboard without a token: the tables
// show the exact counts, a tube's buried jobs show their errors as text,
// and "Kick buried" and "Kick matching" kick exactly the jobs they say.
func TestBrowserDashboard(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	ctx := context.Background()

	// mail: 2 ready and 3 buried, one of them failed twice (its policy
	// keeps the count over a kick) with HTML in its last error; img: 1
	// ready and 1 buried.
	policies, err := policy.Parse("reprieve.yaml", []byte("tubes:\n  mail:\n    kick-resets-attempts: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Broker.SetPolicies(policies)
	put(t, c, "mail", "a")
	put(t, c, "mail", "b")
	boom := bury(t, c, "mail", "c", "smtp down: timeout")
	e.clk.Advance(30 * time.Second)
	if err := c.KickJob(ctx, boom); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReserveJob(ctx, boom); err != nil {
		t.Fatal(err)
	}
	const html = "smtp down: <b>boom</b> & <i>more</i>"
	if res, err := c.Fail(ctx, boom, html); err != nil || res.Action != client.FailBuried || res.Attempts != 2 {
		t.Fatalf("second fail of %d: %v %v", boom, res, err)
	}
	later := bury(t, c, "mail", "dd", "smtp down: 421 try later")
	bad := bury(t, c, "mail", "eee", "bad address: no such user")
	firstImg := put(t, c, "img", "f")
	resize := bury(t, c, "img", "g", "resize failed")
	e.clk.Advance(60 * time.Second)

	var stats struct {
		Hostname string `json:"hostname"`
	}
	e.do(t, "GET", "/api/v1/stats").decode(t, &stats)

	p := openPage(t, e)

	// 1. The tables, exactly. Columns: see index.html; put/s is checked
	// by checkRates.
	p.waitFor("the main view", `!document.getElementById("main").hidden && document.getElementById("login").hidden`)
	p.waitRows("first poll", "#tubes", [][]string{
		{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"},
		{"mail", "2", "0", "0", "3", "", "0", "4", "", "Kick buried|Pause|Buried jobs"},
		{"img", "1", "0", "0", "1", "", "0", "1", "", "Kick buried|Pause|Buried jobs"},
	})
	// ready reserved delayed buried urgent put/s connections waiting failures gave-up expired
	p.waitRows("first poll", "#totals", [][]string{{"3", "0", "0", "4", "0", "", "1", "0", "5", "5", "0"}})
	summary := fmt.Sprintf("%s · version %s · up 90 s · 3 tubes", stats.Hostname, server.Version)
	if got := eval[string](p, `document.getElementById("summary").textContent`); got != summary {
		t.Errorf("summary %q, want %q", got, summary)
	}
	if got := eval[bool](p, `document.getElementById("logout").hidden && document.getElementById("buried").hidden`); !got {
		t.Error("without a token, Forget token and the buried list should be hidden")
	}

	// 2. The buried jobs of mail, their errors as text.
	// id failures last-error last-failure gave-up from-tube age size actions
	p.press("#tubes", "mail", "Buried jobs")
	p.waitFor("the buried list of mail", `!document.getElementById("buried").hidden && document.getElementById("buried-tube").textContent === "mail"`)
	job := func(id uint64, failures, lastError, at, age, size string) []string {
		return []string{strconv.FormatUint(id, 10), failures, lastError, at, "buried", "", age, size, "Kick|Delete|Body"}
	}
	p.waitRows("buried jobs of mail", "#jobs", [][]string{
		job(boom, "2", html, "2026-03-01T12:00:30Z", "90 s", "1"),
		job(later, "1", "smtp down: 421 try later", "2026-03-01T12:00:30Z", "60 s", "2"),
		job(bad, "1", "bad address: no such user", "2026-03-01T12:00:30Z", "60 s", "3"),
	})
	cell := eval[[]any](p, `(() => {
		const c = document.querySelector("#jobs tbody tr:first-child td.error-text");
		return [c.textContent, c.childElementCount, c.querySelectorAll("b, i").length,
			document.querySelectorAll("#jobs b, #jobs i").length];
	})()`)
	if len(cell) != 4 || cell[0] != html || cell[1] != 0.0 || cell[2] != 0.0 || cell[3] != 0.0 {
		t.Errorf("last error cell [textContent, child elements, <b>/<i> in it, <b>/<i> in the table] = %v; want [%q 0 0 0]: the error must be text, not HTML", cell, html)
	}
	if !eval[bool](p, `Array.from(document.querySelectorAll("#tubes tbody tr.selected"), (r) => r.cells[0].textContent).join() === "mail"`) {
		t.Error("the row of mail should be the only selected one")
	}

	// 3. Kick buried in img: its one buried job is ready, on the page at
	// once (the action refreshes) and over the protocol.
	p.press("#tubes", "img", "Kick buried")
	p.waitStatus("kick img", "kicked 1 jobs in img")
	p.waitRows("after kicking img", "#tubes", [][]string{
		{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"},
		{"mail", "2", "0", "0", "3", "", "0", "4", "", "Kick buried|Pause|Buried jobs"},
		{"img", "2", "0", "0", "0", "", "0", "1", "", "Pause|Buried jobs"},
	})
	wantStats(t, c, "img", map[string]string{"current-jobs-ready": "2", "current-jobs-buried": "0"})
	if st, err := c.StatsJob(ctx, resize); err != nil || st["state"] != "ready" || st["kicks"] != "1" {
		t.Errorf("stats-job %d after the kick: %v %v; want ready, 1 kick", resize, st, err)
	}
	w := e.dial(t)
	if _, err := w.Watch(ctx, "img"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Ignore(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{firstImg, resize} {
		if j, err := w.ReserveWithTimeout(ctx, 0); err != nil || j.ID != want {
			t.Fatalf("reserve from img: %v %v, want job %d", j, err, want)
		}
	}
	if j, err := w.ReserveWithTimeout(ctx, 0); !errors.Is(err, client.ErrTimedOut) {
		t.Fatalf("third reserve from img: %v %v, want TIMED_OUT", j, err)
	}
	// The next poll (every 2 s) shows the two reserved jobs and the
	// second connection.
	p.waitRows("the poll after reserving img's jobs", "#tubes", [][]string{
		{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"},
		{"mail", "2", "0", "0", "3", "", "0", "4", "", "Kick buried|Pause|Buried jobs"},
		{"img", "0", "2", "0", "0", "", "0", "1", "", "Pause|Buried jobs"},
	})
	p.waitRows("the poll after reserving img's jobs", "#totals", [][]string{{"2", "2", "0", "3", "0", "", "2", "0", "5", "5", "0"}})

	// 4. Kick matching in mail: only the two jobs whose last error
	// contains "smtp down".
	p.do("kick matching", chromedp.SendKeys(chromedp.ID("error-text"), "smtp down"),
		chromedp.Click(chromedp.CSS(`#kick-error button[type="submit"]`)))
	p.waitStatus("kick matching", `kicked 2 buried jobs of mail whose last error contains "smtp down"`)
	p.waitRows("buried jobs of mail after kick matching", "#jobs", [][]string{
		job(bad, "1", "bad address: no such user", "2026-03-01T12:00:30Z", "60 s", "3"),
	})
	p.waitRows("after kick matching", "#tubes", [][]string{
		{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"},
		{"mail", "4", "0", "0", "1", "", "0", "4", "", "Kick buried|Pause|Buried jobs"},
		{"img", "0", "2", "0", "0", "", "0", "1", "", "Pause|Buried jobs"},
	})
	p.waitRows("after kick matching", "#totals", [][]string{{"4", "2", "0", "1", "0", "", "2", "0", "5", "5", "0"}})
	wantStats(t, c, "mail", map[string]string{"current-jobs-ready": "4", "current-jobs-buried": "1"})
	for id, state := range map[uint64]string{boom: "ready", later: "ready", bad: "buried"} {
		if st, err := c.StatsJob(ctx, id); err != nil || st["state"] != state {
			t.Errorf("stats-job %d after kick matching: %v %v; want %s", id, st, err, state)
		}
	}
	p.checkRates()

	// 6. Everything came from this server, and nothing went wrong.
	p.checkNetwork("/", "/assets/app.js", "/assets/style.css", "/api/v1/stats", "/api/v1/tubes", "/api/v1/failures",
		"/api/v1/tubes/mail/jobs", "/api/v1/tubes/img/kick", "/api/v1/tubes/mail/kick")
}

// wantStats checks fields of stats-tube tube over the protocol.
func wantStats(t *testing.T, c *client.Conn, tube string, want map[string]string) {
	t.Helper()
	st, err := c.StatsTube(context.Background(), tube)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("stats-tube %s: %s = %q, want %q", tube, k, st[k], v)
		}
	}
}

// TestBrowserToken opens the dashboard of a server with --admin-token: the
// login form, a wrong token refused, the right one accepted, then
// forgotten.
func TestBrowserToken(t *testing.T) {
	const token = "s3cret-T0ken"
	e := start(t, options{token: token})
	p := openPage(t, e)

	const (
		needed = "refresh failed: this server needs an admin token: send the header Authorization: Bearer <token>"
		wrong  = "refresh failed: the admin token is wrong: send the header Authorization: Bearer <token> with the server's --admin-token"
		login  = `!document.getElementById("login").hidden && document.getElementById("main").hidden && document.getElementById("logout").hidden`
		signIn = `#login button[type="submit"]`
	)
	p.waitFor("the login form", login)
	p.waitStatus("no token", needed)
	p.do("the status line is shown with the login form", chromedp.WaitVisible(chromedp.ID("status")))

	p.do("a wrong token", chromedp.SendKeys(chromedp.ID("token"), "s3cret-T0kem"), chromedp.Click(chromedp.CSS(signIn)))
	p.waitStatus("a wrong token", wrong)
	p.waitFor("the login form after a wrong token", login)
	p.do("the status line is shown with the login form", chromedp.WaitVisible(chromedp.ID("status")))
	if got := eval[string](p, `document.getElementById("token").value`); got != "" {
		t.Errorf("the token field holds %q after signing in, want it cleared", got)
	}

	p.do("the right token", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.CSS(signIn)))
	p.waitFor("the main view", `document.getElementById("login").hidden && !document.getElementById("main").hidden && !document.getElementById("logout").hidden`)
	p.waitStatus("the right token", "")
	p.waitRows("signed in", "#tubes", [][]string{{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"}})
	if got := eval[string](p, `sessionStorage.getItem("reprieve-admin-token")`); got != token {
		t.Errorf("session storage holds %q, want the token", got)
	}

	p.do("forget the token", chromedp.Click(chromedp.ID("logout")))
	p.waitFor("the login form after Forget token", login)
	if got := eval[*string](p, `sessionStorage.getItem("reprieve-admin-token")`); got != nil {
		t.Errorf("session storage holds %q after Forget token, want nothing", *got)
	}
	// The next poll goes without the token.
	p.waitStatus("the poll after Forget token", needed)
	p.waitFor("the login form after the next poll", login)

	p.checkNetwork("/", "/assets/app.js", "/assets/style.css", "/api/v1/stats", "/api/v1/tubes")
}
