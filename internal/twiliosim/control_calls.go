package twiliosim

import (
	"errors"
	"net/http"
)

// The control API of calls:
//
//	GET  /sim/v1/calls              every call, with the URLs it requested and what the callee heard
//	POST /sim/v1/calls/script       {"number","outcome","inputs":[{"digits"}|{"speech"}|{"timeout":true}]}
//	POST /sim/v1/calls/{sid}/input  {"digits"} | {"speech"} | {"timeout":true}: the callee's next answer

func init() {
	controlRoutes["GET /sim/v1/calls"] = func(s *Simulator, w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"calls": s.Calls()})
	}
	controlRoutes["POST /sim/v1/calls/script"] = (*Simulator).controlScript
	controlRoutes["POST /sim/v1/calls/{sid}/input"] = (*Simulator).controlInput
}

func (s *Simulator) controlScript(w http.ResponseWriter, r *http.Request) {
	var sc CallScript
	if err := decodeBody(r, &sc); err != nil {
		writeControlError(w, http.StatusBadRequest, "invalid body: %v", err)
		return
	}
	if err := s.ScriptCalls(sc); err != nil {
		writeControlError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Simulator) controlInput(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	var in CalleeInput
	if err := decodeBody(r, &in); err != nil {
		writeControlError(w, http.StatusBadRequest, "invalid body: %v", err)
		return
	}
	if err := s.Input(sid, in); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errNoCall) {
			status = http.StatusNotFound
		}
		writeControlError(w, status, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
