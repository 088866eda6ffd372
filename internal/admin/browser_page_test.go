package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// This file drives the dashboard in a real, headless Chromium through the
// DevTools protocol: a page type that opens it, waits for conditions on
// its DOM, reads its tables and records every request it sends.

const (
	// browserTimeout bounds a whole browser test: a hung browser fails
	// the test instead of hanging CI.
	browserTimeout = 60 * time.Second
	// waitTimeout bounds one wait for a condition on the page; the
	// dashboard polls every 2 s, so a condition that needs its next
	// poll is met well before.
	waitTimeout = 20 * time.Second
)

// findBrowser returns the path of Chromium or Chrome. Without one the test
// is skipped, unless the env var CI is set: CI installs Debian's chromium
// (scripts/test), so there a missing browser fails the test.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const msg = "no chromium, chromium-browser or google-chrome in PATH: install the chromium package (scripts/test does)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// page is the dashboard of an env open in a browser tab.
type page struct {
	t    *testing.T
	ctx  context.Context // the tab; ends at the test's deadline
	base string          // the admin interface's URL, http://127.0.0.1:port

	mu       sync.Mutex // protects requests and problems
	requests []string   // the URL of every request the page sent, in order
	problems []string   // exceptions, console errors, refused loads
}

// openPage starts a headless browser with a temporary profile, opens the
// dashboard of e in it and records the page's requests and problems.
// t.Cleanup closes the browser and removes its profile.
func openPage(t *testing.T, e *env) *page {
	t.Helper()
	path := findBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	// The default options run headless; without a user-data-dir flag the
	// allocator makes a temporary profile and removes it once the
	// browser has exited. Chromium refuses to run as root (as CI does)
	// with its sandbox: --no-sandbox.
	//
	// DBUS_SESSION_BUS_ADDRESS is given: without it Chromium sets it
	// ("disabled:") while starting, and that setenv races with its DNS
	// thread's getenv (glibc's res_hconf init, network service in the
	// browser process): about one start in thirty crashed with SIGSEGV on
	// this 2-core machine under load, a core dump shows the getenv.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1024),
		chromedp.Env("DBUS_SESSION_BUS_ADDRESS=disabled:"))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	tctx, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	p := &page{t: t, ctx: tctx, base: e.url}
	if err := chromedp.Listen(tctx, p.event); err != nil {
		t.Fatal(err)
	}
	p.do("open the dashboard", chromedp.Navigate(e.url+"/"))
	return p
}

// event records what the page asks of the network and what goes wrong in
// it. It runs in the tab's event loop: it only appends, under p.mu.
func (p *page) event(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.problems = append(p.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *log.EventEntryAdded:
		// A failed fetch (401 without the token) is logged by the
		// network; anything else at error level, such as a load the
		// Content-Security-Policy refused, is a problem.
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			p.problems = append(p.problems, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// do runs browser actions, failing the test with what on an error or
// after waitTimeout (an action waits for the element it needs).
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n%s", what, err, p.state())
	}
}

// eval evaluates the JavaScript expression expr in the page.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression expr is truthy in the
// page. The page checks it every 25 ms itself (the dashboard's CSP
// forbids the eval that chromedp.Poll needs); after waitTimeout the test
// fails with what and the page's state.
func (p *page) waitFor(what, expr string) {
	p.t.Helper()
	js := `new Promise((resolve) => {
		const check = () => {
			let ok = false;
			try { ok = !!(` + expr + `); } catch (e) {}
			if (ok) resolve(true); else setTimeout(check, 25);
		};
		check();
	})`
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise)); err != nil {
		p.t.Fatalf("waiting for %s: %v\n%s", what, err, p.state())
	}
}

// rowsJS is a JavaScript expression giving the rows of the body of the
// table sel as arrays of cell texts; a cell of buttons gives their labels
// joined by "|", and the put/s column (index 5 of #totals and #tubes)
// gives "" (it depends on the wall clock: see checkRates).
func rowsJS(sel string) string {
	skip := -1
	if sel == "#totals" || sel == "#tubes" {
		skip = 5
	}
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%s), (r) => Array.from(r.cells, (c, i) =>
		i === %d ? "" : c.querySelector("button") ?
			Array.from(c.querySelectorAll("button"), (b) => b.textContent).join("|") : c.textContent))`,
		jsString(sel+" tbody tr"), skip)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return jsonText(s)
}

// jsonText is v in JSON as JavaScript's JSON.stringify writes it: <, >
// and & as they are.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// waitRows waits until the table sel holds exactly want (see rowsJS).
func (p *page) waitRows(what, sel string, want [][]string) {
	p.t.Helper()
	rows := jsonText(want)
	p.waitFor(fmt.Sprintf("%s: %s = %s", what, sel, rows), "JSON.stringify("+rowsJS(sel)+") === "+jsString(rows))
}

// waitStatus waits until the status line says exactly text.
func (p *page) waitStatus(what, text string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%s: status %q", what, text), `document.getElementById("status").textContent === `+jsString(text))
}

// press clicks the button labelled label in the row of table sel whose
// first cell is row, waiting for it to be there. The dashboard rebuilds
// its tables on every poll, so the button is found and clicked in one
// step of the page's event loop, never a node that a poll replaced.
func (p *page) press(sel, row, label string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("button %q of row %q in %s", label, row, sel), fmt.Sprintf(`(() => {
		for (const r of document.querySelectorAll(%s)) {
			if (r.cells[0].textContent !== %s) continue;
			for (const b of r.querySelectorAll("button")) {
				if (b.textContent === %s && b.offsetParent !== null) { b.click(); return true; }
			}
		}
		return false;
	})()`, jsString(sel+" tbody tr"), jsString(row), jsString(label)))
}

// checkRates checks the put/s cells of #totals and #tubes: no job is put
// while the page is open, so each says "–" (first poll) or "0.0".
func (p *page) checkRates() {
	p.t.Helper()
	cells := eval[[]string](p, `Array.from(document.querySelectorAll("#totals tbody tr, #tubes tbody tr"), (r) => r.cells[5].textContent)`)
	if len(cells) == 0 {
		p.t.Error("no put/s cells")
	}
	for _, c := range cells {
		if c != "–" && c != "0.0" {
			p.t.Errorf("put/s %q, want – or 0.0: no job was put while the page was open", c)
		}
	}
}

// state describes what the page shows, for failure messages.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const vis = (id) => id + (document.getElementById(id).hidden ? " hidden" : " shown");
		const rows = (sel) => Array.from(document.querySelectorAll(sel + " tbody tr"),
			(r) => "  " + Array.from(r.cells, (c) => c.textContent).join(" | ")).join("\n");
		return [vis("login"), vis("main"), vis("logout"), vis("buried"), vis("failures-section"), vis("cluster-section"),
			"status: " + document.getElementById("status").textContent,
			"summary: " + document.getElementById("summary").textContent,
			"totals:", rows("#totals"), "tubes:", rows("#tubes"), "jobs:", rows("#jobs"),
			"failures:", rows("#failures"), "cluster:", rows("#cluster"), "body: " + document.getElementById("body").textContent].join("\n");
	})()`))
	if err != nil {
		return "page state unknown: " + err.Error()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) == 0 {
		return s + "\nproblems: none"
	}
	return s + "\nproblems:\n  " + strings.Join(p.problems, "\n  ")
}

// checkNetwork checks that every request of the page went to the admin
// interface, that it sent each of want (paths), and that nothing went
// wrong in it.
func (p *page) checkNetwork(want ...string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	sent := map[string]bool{}
	for _, u := range p.requests {
		path, ok := strings.CutPrefix(u, p.base+"/")
		if !ok {
			p.t.Errorf("the page loaded %s, outside the server %s", u, p.base)
			continue
		}
		path, _, _ = strings.Cut("/"+path, "?")
		sent[path] = true
	}
	for _, w := range want {
		if !sent[w] {
			p.t.Errorf("the page never requested %s; requests: %v", w, p.requests)
		}
	}
	for _, pr := range p.problems {
		p.t.Errorf("in the page: %s", pr)
	}
}
