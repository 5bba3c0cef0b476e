package api

import (
	"mime"
	"net/http"

	switchboard "github.com/switchboard-gw/switchboard"
)

// KeyedJSON guards a handler that is not part of the API proper (the in-process simulator's
// control API): a valid API key with the admin role is required, and a request with a body must declare it
// application/json (or application/yaml, for a traffic profile). Browsers send neither an Authorization header nor a JSON content type
// cross-site without a CORS preflight (which is never granted), so no web page a developer visits
// can read or drive what sits behind it.
func (s *Server) KeyedJSON(h http.Handler) http.Handler {
	return s.handle(s.authedAs(&routeRule{Need: switchboard.RoleAdmin}, func(w http.ResponseWriter, r *http.Request) error {
		if err := requireJSONBody(r); err != nil {
			return err
		}
		h.ServeHTTP(w, r)
		return nil
	}))
}

// requireJSONBody refuses a request whose body is not declared application/json (or
// application/yaml, which a cross-site request cannot send without a preflight either): forms,
// multipart and text/plain (the content types a cross-site form may post) and a body without a
// content type. A request without a body passes.
func requireJSONBody(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			return nil
		}
	} else if mt, _, err := mime.ParseMediaType(ct); err == nil && (mt == "application/json" || mt == "application/yaml") {
		return nil
	}
	return switchboard.Errorf(switchboard.EINVALID, "unsupported_media_type", "send the request body as application/json")
}
