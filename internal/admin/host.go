package admin

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// hostRule says which Host headers the admin interface answers. It is the
// defence against DNS rebinding: a page of another site that makes its own
// name resolve to the interface's address reaches it with that name in
// Host, and is refused. The port is not compared.
type hostRule struct {
	anyHost  bool            // "*" was configured
	names    map[string]bool // configured names and the listen address's name
	bound    net.IP          // the IP listened on
	loopback bool            // bound to loopback: localhost and any loopback IP
	anyIP    bool            // bound to every interface: localhost and any IP literal
}

// newHostRule makes the rule of an interface listening on addr (as
// configured, HOST:PORT) and bound to bound, answering also to hosts.
func newHostRule(addr string, bound net.Addr, hosts []string) hostRule {
	r := hostRule{names: map[string]bool{}}
	for _, h := range hosts {
		if h == "*" {
			r.anyHost = true
		}
		r.names[canonicalHost(h)] = true
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" && net.ParseIP(host) == nil {
		r.names[canonicalHost(host)] = true
	}
	if ta, ok := bound.(*net.TCPAddr); ok {
		r.bound = ta.IP
		r.loopback = ta.IP.IsLoopback()
		r.anyIP = ta.IP.IsUnspecified()
	}
	return r
}

// canonicalHost lowers a host name and drops a port, the brackets of an
// IPv6 literal and a trailing dot.
func canonicalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allows reports whether a request with this Host header is answered.
func (r hostRule) allows(hostHeader string) bool {
	if r.anyHost {
		return true
	}
	h := canonicalHost(hostHeader)
	if h == "" {
		return false
	}
	if r.names[h] {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		// An address cannot be rebound: only names can.
		return r.anyIP || r.loopback && ip.IsLoopback() || ip.Equal(r.bound)
	}
	// A listener on every interface listens on loopback too.
	return (r.loopback || r.anyIP) && h == "localhost"
}

// wrap refuses, with 421, the requests whose Host the rule does not allow.
func (r hostRule) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.allows(req.Host) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Cache-Control", "no-store")
			writeError(w, http.StatusMisdirectedRequest, "unknown_host",
				"Host "+strconv.Quote(req.Host)+" is not a name of this admin interface: reach it by its address, "+
					"or add the name with --admin-host (a reverse proxy's public name, for one)")
			return
		}
		next.ServeHTTP(w, req)
	})
}
