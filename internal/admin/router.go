package admin

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// This file holds what the job server's and the pipeline's admin handlers
// share: the bearer token check, dispatch by method with a JSON 405, the
// headers of every reply and /healthz.

// route is one path of an admin interface with a handler per method.
type route struct {
	// public routes need no token.
	public  bool
	methods map[string]http.HandlerFunc
}

// get makes the methods of a read-only route: GET, and HEAD alike.
func get(f http.HandlerFunc) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{http.MethodGet: f, http.MethodHead: f}
}

// post makes the methods of a route that changes something.
func post(f http.HandlerFunc) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{http.MethodPost: f}
}

// router is a mux whose routes check the token (unless public) and
// dispatch by method. Methods are dispatched here rather than in the mux
// patterns so that a wrong method gets a JSON 405 naming the allowed ones.
type router struct {
	token string
	mux   *http.ServeMux
}

// newRouter returns a router requiring token ("" requires none).
func newRouter(token string) router {
	return router{token: token, mux: http.NewServeMux()}
}

// handle registers rt at pattern with authentication and method dispatch.
func (h *router) handle(pattern string, rt route) {
	allow := make([]string, 0, len(rt.methods))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete} {
		if rt.methods[m] != nil {
			allow = append(allow, m)
		}
	}
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !rt.public && !h.authorized(w, r) {
			return
		}
		f := rt.methods[r.Method]
		if f == nil {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or "))
			return
		}
		f(w, r)
	})
}

// notFound registers a catch-all at pattern answering 404 "no such
// <what>: <path> (<hint>)"; with authenticate, the token is checked first
// so that an unauthenticated caller learns nothing about which paths exist.
func (h *router) notFound(pattern string, authenticate bool, what, hint string) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if authenticate && !h.authorized(w, r) {
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such "+what+": "+r.URL.Path+" ("+hint+")")
	})
}

// ServeHTTP serves the routes, never sniffed nor cached, once guard has
// let the request through.
func (h *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if !guard(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token and answers 401 when it is missing
// or wrong.
func (h *router) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.token == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(h.token)) == 1 {
		return true
	}
	if auth == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reprieve"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "this server needs an admin token: send the header Authorization: Bearer <token>")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="reprieve", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "the admin token is wrong: send the header Authorization: Bearer <token> with the server's --admin-token")
	return false
}

// healthz answers 200 "ok" while the process serves HTTP at all.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
