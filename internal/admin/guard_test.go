package admin_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/admin"
)

// The defences of a token-less admin interface against other web sites,
// over real HTTP: cross-site changes, bodies that are not JSON, oversize
// bodies and foreign Host headers (DNS rebinding).

// send sends req to the env and returns the reply.
func (e *env) send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// request makes a request to the env with headers (name, value pairs).
func (e *env) request(t *testing.T, method, path, body string, headers ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// wantCode checks a reply's status and error code.
func (r reply) wantCode(t *testing.T, what string, status int, code string) {
	t.Helper()
	if r.status != status || !strings.Contains(r.body, `"code": "`+code+`"`) {
		t.Errorf("%s: got %d %s; want %d with code %s", what, r.status, r.body, status, code)
	}
}

func TestCrossSiteChangesRefused(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	first := put(t, c, "mail", "a")
	put(t, c, "mail", "b")
	const flush = "/api/v1/tubes/mail/flush?state=all"
	const ct = "Content-Type"
	const json = "application/json"

	for _, tc := range []struct {
		what         string
		req          *http.Request
		status       int
		code         string
		errorMessage string
	}{
		{what: "a POST from another origin", req: e.request(t, "POST", flush, "{}", ct, json, "Origin", "http://evil.example"),
			status: 403, code: "cross_origin",
			errorMessage: `refused a POST from another site (Origin \"http://evil.example\", Sec-Fetch-Site \"\"): the admin interface takes changes only from its own dashboard or from clients that are not browsers`},
		{what: "a cross-site POST by Sec-Fetch-Site", req: e.request(t, "POST", flush, "{}", ct, json, "Sec-Fetch-Site", "cross-site"), status: 403, code: "cross_origin"},
		{what: "a same-site POST from another port", req: e.request(t, "POST", flush, "{}", ct, json, "Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:1"), status: 403, code: "cross_origin"},
		{what: "a cross-site DELETE", req: e.request(t, "DELETE", fmt.Sprintf("/api/v1/jobs/%d", first), "", "Origin", "http://evil.example"), status: 403, code: "cross_origin"},
		{what: "a form POST", req: e.request(t, "POST", "/api/v1/tubes/mail/flush", "state=all", ct, "application/x-www-form-urlencoded"),
			status: 415, code: "unsupported_media_type",
			errorMessage: `POST with Content-Type \"application/x-www-form-urlencoded\": send the header Content-Type: application/json and the parameters as a JSON object body, such as {\"bound\": 10} ({} for none)`},
		{what: "a text/plain POST of JSON", req: e.request(t, "POST", "/api/v1/tubes/mail/flush", `{"state":"all"}`, ct, "text/plain"), status: 415, code: "unsupported_media_type"},
		{what: "a multipart POST", req: e.request(t, "POST", "/api/v1/tubes/mail/flush", "--x\r\nContent-Disposition: form-data; name=\"state\"\r\n\r\nall\r\n--x--\r\n", ct, "multipart/form-data; boundary=x"),
			status: 415, code: "unsupported_media_type"},
		{what: "a POST without a Content-Type", req: e.request(t, "POST", flush, ""), status: 415, code: "unsupported_media_type"},
		{what: "a DELETE with a form body", req: e.request(t, "DELETE", fmt.Sprintf("/api/v1/jobs/%d", first), "x=1", ct, "application/x-www-form-urlencoded"), status: 415, code: "unsupported_media_type"},
		{what: "a JSON array", req: e.request(t, "POST", "/api/v1/tubes/mail/flush", `["all"]`, ct, json), status: 400, code: "bad_request",
			errorMessage: `the body must be one JSON object of parameters, such as {\"bound\": 10} ({} for none)`},
		{what: "a nested parameter", req: e.request(t, "POST", "/api/v1/tubes/mail/flush", `{"state": ["all"]}`, ct, json), status: 400, code: "bad_request",
			errorMessage: `parameter state: want a string, a number or a boolean, not []interface {}`},
	} {
		r := e.send(t, tc.req)
		r.wantCode(t, tc.what, tc.status, tc.code)
		if tc.errorMessage != "" && !strings.Contains(r.body, `"error": "`+tc.errorMessage+`"`) {
			t.Errorf("%s: message %s, want %q", tc.what, r.body, tc.errorMessage)
		}
	}
	wantStats(t, c, "mail", map[string]string{"current-jobs-ready": "2"})
	if strings.Contains(e.logs.String(), "admin: tube flushed") || strings.Contains(e.logs.String(), "admin: job deleted") {
		t.Fatalf("a refused request changed something:\n%s", e.logs.String())
	}

	// Reads from anywhere still work (no browser lets another site read
	// the reply), and so do changes from the interface's own origin and
	// from clients that are not browsers, with JSON parameters.
	if r := e.send(t, e.request(t, "GET", "/api/v1/tubes/mail", "", "Sec-Fetch-Site", "cross-site")); r.status != 200 || !strings.Contains(r.body, `"current-jobs-ready": 2,`) {
		t.Errorf("a cross-site GET: %d %s", r.status, r.body)
	}
	e.send(t, e.request(t, "POST", "/api/v1/tubes/mail/pause", `{"delay": "1m30s"}`, ct, "application/json; charset=utf-8",
		"Origin", e.url, "Sec-Fetch-Site", "same-origin")).
		want(t, "pause from the same origin", 200, "{\n  \"tube\": \"mail\",\n  \"pause\": 90\n}\n")
	e.send(t, e.request(t, "POST", "/api/v1/tubes/mail/flush", `{"state": "ready"}`, ct, json)).
		want(t, "flush with JSON parameters", 200, "{\n  \"tube\": \"mail\",\n  \"state\": \"ready\",\n  \"flushed\": 2\n}\n")
	wantStats(t, c, "mail", map[string]string{"current-jobs-ready": "0"})
}

// rawRequest writes head and then up to bodyBytes of body on a new
// connection to the env, reading the reply meanwhile; the writer stops
// when the server stops reading. It returns the reply's status and body.
func (e *env) rawRequest(t *testing.T, head string, bodyBytes int, chunked bool) (int, string) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	var writer sync.WaitGroup
	defer writer.Wait()
	defer nc.Close() // ends the writer if the server does not
	writer.Go(func() {
		if _, err := io.WriteString(nc, head); err != nil {
			return
		}
		chunk := []byte(strings.Repeat(`{"x":"aaaaaaaaaa"}`, 3000))
		for sent := 0; sent < bodyBytes; sent += len(chunk) {
			var err error
			if chunked {
				_, err = fmt.Fprintf(nc, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				_, err = nc.Write(chunk)
			}
			if err != nil {
				return
			}
		}
	})
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOversizeBodiesRefused(t *testing.T) {
	e := start(t, options{})
	c := e.dial(t)
	put(t, c, "mail", "a")
	host := strings.TrimPrefix(e.url, "http://")
	tooLarge := fmt.Sprintf(`"error": "the body is larger than %d bytes; an action's parameters need a few dozen"`, admin.MaxBodyBytes)

	// A declared 60 MB body is refused before it is read.
	status, body := e.rawRequest(t, "POST /api/v1/tubes/mail/flush HTTP/1.1\r\nHost: "+host+
		"\r\nContent-Type: application/json\r\nContent-Length: 60000000\r\n\r\n", 1<<20, false)
	if status != 413 || !strings.Contains(body, tooLarge) {
		t.Errorf("a 60 MB body: %d %s", status, body)
	}
	// A chunked body without a length is cut off past the limit.
	status, body = e.rawRequest(t, "POST /api/v1/tubes/mail/flush HTTP/1.1\r\nHost: "+host+
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", 1<<20, true)
	if status != 413 || !strings.Contains(body, tooLarge) {
		t.Errorf("a chunked 1 MB body: %d %s", status, body)
	}
	// A 60 MB multipart form is refused by its type, unread.
	status, body = e.rawRequest(t, "POST /api/v1/tubes/mail/flush HTTP/1.1\r\nHost: "+host+
		"\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 60000000\r\n\r\n", 1<<20, false)
	if status != 415 || !strings.Contains(body, `"code": "unsupported_media_type"`) {
		t.Errorf("a 60 MB multipart body: %d %s", status, body)
	}
	wantStats(t, c, "mail", map[string]string{"current-jobs-ready": "1"})
}

func TestForeignHostRefused(t *testing.T) {
	e := start(t, options{hosts: []string{"admin.example.com"}})
	port := e.url[strings.LastIndex(e.url, ":")+1:]
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"evil.example", false},
		{"evil.example:" + port, false},
		{"localhost.evil.example:" + port, false},
		{"127.0.0.1:" + port, true},
		{"127.0.0.2", true},
		{"localhost:" + port, true},
		{"[::1]:" + port, true},
		{"admin.example.com", true},
		{"ADMIN.example.com.:443", true},
		{"10.0.0.1:" + port, false},
	} {
		for _, path := range []string{"/api/v1/tubes", "/healthz", "/"} {
			req := e.request(t, "GET", path, "")
			req.Host = tc.host
			r := e.send(t, req)
			if tc.ok {
				if r.status != 200 {
					t.Errorf("Host %s %s: %d %s, want 200", tc.host, path, r.status, r.body)
				}
				continue
			}
			r.want(t, "Host "+tc.host+" "+path, http.StatusMisdirectedRequest, "{\n  \"error\": \"Host \\\""+tc.host+
				"\\\" is not a name of this admin interface: reach it by its address, or add the name with --admin-host (a reverse proxy's public name, for one)\",\n  \"code\": \"unknown_host\"\n}\n")
		}
	}
}

// TestHostRuleOfEveryInterface: a listener on every interface answers to
// any address and localhost, not to other names unless configured ("*":
// any), and warns that it serves plain HTTP beyond loopback.
func TestHostRuleOfEveryInterface(t *testing.T) {
	for _, tc := range []struct {
		hosts []string
		ok    map[string]bool
	}{
		{nil, map[string]bool{"10.1.2.3": true, "[fe80::1]:80": true, "localhost": true, "evil.example": false}},
		{[]string{"queue.internal"}, map[string]bool{"queue.internal:8080": true, "evil.example": false}},
		{[]string{"*"}, map[string]bool{"evil.example": true, "10.1.2.3": true}},
	} {
		var logs lockedBuffer
		s, err := admin.Listen(admin.ListenConfig{Addr: "0.0.0.0:0", Hosts: tc.hosts, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Skipf("cannot listen on every interface here: %v", err)
		}
		s.Start(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "plain HTTP beyond loopback") ||
			!strings.Contains(logs.String(), "--admin-tls-cert") {
			t.Errorf("no warning about plain HTTP on every interface:\n%s", logs.String())
		}
		_, port, _ := net.SplitHostPort(s.Addr().String())
		hc := &http.Client{Timeout: 10 * time.Second}
		for host, ok := range tc.ok {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/", nil)
			req.Host = host
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (resp.StatusCode == 200) != ok {
				t.Errorf("hosts %v: Host %s got %d, want allowed %v", tc.hosts, host, resp.StatusCode, ok)
			}
		}
		hc.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
}
