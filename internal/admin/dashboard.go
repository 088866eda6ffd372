package admin

import (
	"embed"
	"net/http"
	"path"
)

// assets holds the dashboard: one HTML page, its script and its style
// sheet. They hold no data: the script fetches it from the API with the
// token the user typed, so they are served without the token.
//
//go:embed assets/index.html assets/app.js assets/style.css
var assets embed.FS

// assetTypes gives the Content-Type of each asset by extension.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// contentSecurityPolicy lets the dashboard load and call only this server,
// and forbids framing it (its buttons change jobs).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// dashboard answers GET /.
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, "index.html")
}

// asset answers GET /assets/{file} for the embedded files; 404 otherwise.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "index.html" || !serveAsset(w, name) {
		writeError(w, http.StatusNotFound, "not_found", "no such asset: "+name)
	}
}

// serveAsset writes the embedded file name; false if there is none.
func serveAsset(w http.ResponseWriter, name string) bool {
	body, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return false
	}
	w.Header().Set("Content-Type", assetTypes[path.Ext(name)])
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(body)
	return true
}
