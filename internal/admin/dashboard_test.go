package admin_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestDashboard serves the page and checks that it loads only embedded
// assets from this server, that each is served with its type and a
// policy forbidding anything else, and that the script calls only the
// API of this server.
func TestDashboard(t *testing.T) {
	e := start(t, options{token: "tok"})
	page := e.doToken(t, "GET", "/", "")
	if page.status != 200 || page.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(page.body, "<title>Reprieve</title>") {
		t.Fatalf("GET /: %d %v\n%s", page.status, page.header, page.body)
	}
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if page.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options %q", page.header.Get("X-Frame-Options"))
	}

	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page.body, -1)
	if len(refs) != 2 {
		t.Fatalf("references %v, want the script and the style sheet", refs)
	}
	types := map[string]string{
		"/assets/app.js":    "text/javascript; charset=utf-8",
		"/assets/style.css": "text/css; charset=utf-8",
	}
	for _, ref := range refs {
		path := ref[1]
		want, ok := types[path]
		if !ok {
			t.Errorf("the page references %q, not an embedded asset", path)
			continue
		}
		r := e.doToken(t, "GET", path, "")
		if r.status != 200 || r.header.Get("Content-Type") != want || len(r.body) < 500 {
			t.Errorf("GET %s: %d %q, %d bytes", path, r.status, r.header.Get("Content-Type"), len(r.body))
		}
		for _, ext := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(r.body, ext) {
				t.Errorf("%s references outside content (%s)", path, ext)
			}
		}
	}
	js := e.doToken(t, "GET", "/assets/app.js", "").body
	calls := regexp.MustCompile("(?:api\\(\"[A-Z]+\", |act\\(\"[A-Z]+\", )[`\"]([^`\"?$]*)").FindAllStringSubmatch(js, -1)
	if len(calls) < 10 {
		t.Errorf("found %d API calls in the script, want every one (10 or more)", len(calls))
	}
	for _, call := range calls {
		if !strings.HasPrefix(call[1], "/api/v1/") {
			t.Errorf("the script calls %q, outside /api/v1", call[1])
		}
	}
	if !strings.Contains(js, `"Authorization"`) || !strings.Contains(js, "sessionStorage") || strings.Contains(js, "innerHTML") {
		t.Error("the script should send the token from sessionStorage and never set innerHTML")
	}
	for _, path := range []string{"/assets/index.html", "/assets/nothing.js", "/assets/../admin.go"} {
		if r := e.doToken(t, "GET", path, ""); r.status != 404 {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
}
