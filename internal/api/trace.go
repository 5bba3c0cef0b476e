package api

import (
	"net/http"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Trace is a message's whole story: the message with its timeline, and the events that reported
// it to applications with their deliveries to endpoints.
type Trace struct {
	Message *switchboard.Message `json:"message"`
	// AppEvents are the message.status_changed events of the message, oldest first, each with
	// its deliveries to endpoints.
	AppEvents []*switchboard.MessageAppEvent `json:"app_events"`
	// AppEventsTruncated says that the event log around the message was too long to search
	// whole: some of its events may be missing.
	AppEventsTruncated bool `json:"app_events_truncated"`
}

// traceRoutes registers the lookups of a message by provider SID and of its trace.
func (s *Server) traceRoutes() {
	s.mux.HandleFunc("GET /v1/provider-messages/{sid}", s.handle(s.authed(s.getMessageBySID)))
	s.mux.HandleFunc("GET /v1/messages/{id}/trace", s.handle(s.authed(s.traceMessage)))
}

func (s *Server) getMessageBySID(w http.ResponseWriter, r *http.Request) error {
	sid := r.PathValue("sid")
	if !validSID(sid) {
		return invalid("invalid_provider_sid", "%q is not a provider message SID (SM or MM and 32 hex digits)", sid)
	}
	m, err := s.cfg.Store.GetMessageByProviderSID(r.Context(), sid)
	if err != nil {
		return err
	}
	if !principal(r.Context()).owns(m.Tenant, m.APIKeyID) {
		return switchboard.ErrProviderSIDNotFound(sid)
	}
	if m.Events == nil {
		m.Events = []*switchboard.Event{}
	}
	showable(m)
	writeJSON(w, http.StatusOK, m)
	return nil
}

// validSID reports whether sid looks like a Twilio message SID (^(SM|MM)[0-9a-f]{32}$); the
// simulator's follow the same shape.
func validSID(sid string) bool {
	if len(sid) != 34 || (!strings.HasPrefix(sid, "SM") && !strings.HasPrefix(sid, "MM")) {
		return false
	}
	for _, c := range sid[2:] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Server) traceMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := s.visibleMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if m.Events == nil {
		m.Events = []*switchboard.Event{}
	}
	if s.cfg.WhatsApp != nil {
		if err := s.cfg.WhatsApp.Annotate(r.Context(), m); err != nil {
			return err
		}
	}
	evs, truncated, err := s.cfg.Store.MessageAppEvents(r.Context(), m)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []*switchboard.MessageAppEvent{}
	}
	showable(m)
	writeJSON(w, http.StatusOK, Trace{Message: m, AppEvents: evs, AppEventsTruncated: truncated})
	return nil
}
