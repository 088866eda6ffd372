package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// This file holds what keeps a token-less admin interface from being
// driven by other web sites: browsers' cross-origin requests that change
// something are refused, actions take only JSON bodies (which no form of
// another site can send without the browser asking first), and every body
// is bounded.

// MaxBodyBytes is the largest request body the admin interface reads;
// bigger ones are answered 413.
const MaxBodyBytes = 64 << 10

// crossOrigin refuses unsafe requests (not GET, HEAD or OPTIONS) whose
// Sec-Fetch-Site or Origin header shows another site.
var crossOrigin = http.NewCrossOriginProtection()

// guard checks r before it is routed and answers it itself when it is
// refused: a cross-site change (403), a body that is not JSON (415), too
// big (413) or not a JSON object of parameters (400). An action's JSON
// parameters are put in r.Form over those of the query string, where the
// handlers read them.
func guard(w http.ResponseWriter, r *http.Request) bool {
	if err := crossOrigin.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross_origin",
			fmt.Sprintf("refused a %s from another site (Origin %q, Sec-Fetch-Site %q): the admin interface takes changes only from its own dashboard or from clients that are not browsers",
				r.Method, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site")))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	if r.Method != http.MethodPost && r.ContentLength == 0 {
		return true // a DELETE without a body
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("%s with Content-Type %q: send the header Content-Type: application/json and the parameters as a JSON object body, such as {\"bound\": 10} ({} for none)",
				r.Method, r.Header.Get("Content-Type")))
		return false
	}
	if r.ContentLength > MaxBodyBytes {
		tooLarge(w)
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			tooLarge(w)
		} else {
			writeError(w, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error())
		}
		return false
	}
	params, err := bodyParams(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	r.Form = r.URL.Query()
	for k, v := range params {
		r.Form[k] = v
	}
	r.PostForm = params
	return true
}

func tooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("the body is larger than %d bytes; an action's parameters need a few dozen", MaxBodyBytes))
}

// bodyParams reads a JSON object whose values are strings, numbers or
// booleans as parameters; an empty body has none.
func bodyParams(body []byte) (url.Values, error) {
	params := url.Values{}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, errors.New(`the body must be one JSON object of parameters, such as {"bound": 10} ({} for none)`)
	}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			params.Set(k, v)
		case json.Number:
			params.Set(k, v.String())
		case bool:
			params.Set(k, strconv.FormatBool(v))
		default:
			return nil, fmt.Errorf("parameter %s: want a string, a number or a boolean, not %T", k, v)
		}
	}
	return params, nil
}
