package admin

import "net/http"

// settingsReply answers GET /api/v1/config: the effective configuration
// Config.Settings gives (each flag's value and where it came from; secret
// values already hidden by the caller), or 404 without one.
func settingsReply(settings func() any, w http.ResponseWriter, _ *http.Request) {
	if settings == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no configuration to show"})
		return
	}
	writeJSON(w, http.StatusOK, settings())
}
