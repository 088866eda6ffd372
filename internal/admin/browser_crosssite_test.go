package admin_test

import (
	"context"
	"html"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserCrossSiteForm: a page of another site that the operator
// opens while the token-less dashboard runs auto-submits form POSTs to the
// admin API (one urlencoded, one text/plain shaped as JSON). Neither
// changes anything, checked over the protocol; the dashboard still works.
func TestBrowserCrossSiteForm(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	put(t, c, "mail", "a")
	buried := bury(t, c, "mail", "b", "smtp down")

	// The other site: served from another port and reached as
	// "localhost", so its origin and its site both differ from the
	// dashboard's 127.0.0.1.
	target := e.url + "/api/v1/tubes/mail/flush?state=all"
	pages := map[string]string{
		"/urlencoded": `<form id="f" method="POST" action="` + html.EscapeString(target) + `">` +
			`<input name="state" value="all"></form><script>document.getElementById("f").submit()</script>`,
		"/plain": `<form id="f" method="POST" enctype="text/plain" action="` + html.EscapeString(target) + `">` +
			`<input name='{"state":"all","x":"' value='"}'></form><script>document.getElementById("f").submit()</script>`,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>cute cats</title>" + pages[r.URL.Path]))
	})}
	var serving sync.WaitGroup
	serving.Go(func() { _ = evil.Serve(ln) })
	t.Cleanup(func() { _ = evil.Close(); serving.Wait() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	p := openPage(t, e)
	p.waitRows("first poll", "#tubes", [][]string{
		{"default", "0", "0", "0", "0", "", "0", "0", "", "Pause|Buried jobs"},
		{"mail", "1", "0", "0", "1", "", "0", "1", "", "Kick buried|Pause|Buried jobs"},
	})
	for _, path := range []string{"/urlencoded", "/plain"} {
		p.do("open the other site's page "+path, chromedp.Navigate("http://localhost:"+port+path))
		p.waitLocation("the form POST of "+path, target, `"code": "cross_origin"`)
	}
	wantStats(t, c, "mail", map[string]string{"current-jobs-ready": "1", "current-jobs-buried": "1"})
	if strings.Contains(e.logs.String(), "admin: tube flushed") {
		t.Fatalf("the other site's form flushed the tube:\n%s", e.logs.String())
	}

	// The dashboard itself still acts.
	p.do("back to the dashboard", chromedp.Navigate(e.url+"/"))
	p.press("#tubes", "mail", "Kick buried")
	p.waitStatus("kick mail", "kicked 1 jobs in mail")
	if st, err := c.StatsJob(context.Background(), buried); err != nil || st["state"] != "ready" {
		t.Fatalf("stats-job %d after the dashboard's kick: %v %v; want ready", buried, st, err)
	}
}

// waitLocation waits until the tab shows url with a body containing text:
// the reply a navigation (a form's submission) led to. The page may be
// between documents while it is checked, so errors are retried until
// waitTimeout.
func (p *page) waitLocation(what, url, text string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
		cancel()
		if err == nil {
			last = v
			if href, body, _ := strings.Cut(v, "\n"); href == url && strings.Contains(body, text) {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: the tab never showed %s with %q; last: %q", what, url, text, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
