package api

import (
	"net/http"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// EndpointsConfig configures the event endpoints part of the API.
type EndpointsConfig struct {
	// AllowPrivate accepts endpoint URLs on private, loopback and link-local addresses.
	AllowPrivate bool
	// OnReplay is called after dead letters were made pending again, to wake the delivery worker.
	OnReplay func()
}

// Limits of an endpoint registration.
const (
	maxEventPatterns    = 50
	maxDescriptionBytes = 512
	// DefaultSecretOverlap is how long the previous secret keeps signing after a rotation.
	DefaultSecretOverlap = 24 * time.Hour
	maxSecretOverlap     = 30 * 24 * time.Hour
)

// EndpointRequest is the body of POST /v1/endpoints.
type EndpointRequest struct {
	// URL receives the signed POSTs.
	URL string `json:"url"`
	// EventTypes are the patterns of the events it receives: "*", a type such as
	// "message.received" or a prefix such as "message.*" (default ["*"]).
	EventTypes  []string `json:"event_types,omitempty"`
	Description string   `json:"description,omitempty"`
	// Secret is the signing secret ("whsec_" and base64); one is generated when empty.
	Secret string `json:"secret,omitempty"`
}

// EndpointView is an endpoint as the API shows it. Secret is set only in the answers of create
// and rotate: it is shown once.
type EndpointView struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	Description  string     `json:"description,omitempty"`
	EventTypes   []string   `json:"event_types"`
	Source       string     `json:"source"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
	DisabledAt   *time.Time `json:"disabled_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	// ActiveSecrets counts the secrets signing its deliveries (2 during a rotation).
	ActiveSecrets int    `json:"active_secrets"`
	Secret        string `json:"secret,omitempty"`
}

// EndpointList is the body of GET /v1/endpoints.
type EndpointList struct {
	Endpoints []EndpointView `json:"endpoints"`
}

// RotateRequest is the body of POST /v1/endpoints/{id}/rotate.
type RotateRequest struct {
	// Secret is the new secret; one is generated when empty.
	Secret string `json:"secret,omitempty"`
	// ExpirePreviousAfterSeconds is how long the secrets active now keep signing, beside the new
	// one (default 86400; 0 ends them at once).
	ExpirePreviousAfterSeconds *int `json:"expire_previous_after_seconds,omitempty"`
}

// DeadLetterList is the body of GET /v1/endpoints/{id}/dead-letters.
type DeadLetterList struct {
	DeadLetters []*switchboard.Delivery `json:"dead_letters"`
	NextCursor  string                  `json:"next_cursor,omitempty"`
}

// ReplayResult is the body of POST /v1/endpoints/{id}/replay.
type ReplayResult struct {
	Replayed int `json:"replayed"`
}

func (s *Server) endpointRoutes() {
	s.mux.HandleFunc("POST /v1/endpoints", s.handle(s.authed(s.createEndpoint)))
	s.mux.HandleFunc("GET /v1/endpoints", s.handle(s.authed(s.listEndpoints)))
	s.mux.HandleFunc("GET /v1/endpoints/{id}", s.handle(s.authed(s.getEndpoint)))
	s.mux.HandleFunc("DELETE /v1/endpoints/{id}", s.handle(s.authed(s.deleteEndpoint)))
	s.mux.HandleFunc("POST /v1/endpoints/{id}/rotate", s.handle(s.authed(s.rotateEndpoint)))
	s.mux.HandleFunc("GET /v1/endpoints/{id}/dead-letters", s.handle(s.authed(s.deadLetters)))
	s.mux.HandleFunc("POST /v1/endpoints/{id}/replay", s.handle(s.authed(s.replay)))
}

func viewOf(e *switchboard.Endpoint, now time.Time) EndpointView {
	return EndpointView{
		ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, Source: e.Source,
		FailingSince: e.FailingSince, DisabledAt: e.DisabledAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		ActiveSecrets: len(e.ActiveSecrets(now)),
	}
}

// secretOrNew checks a given secret, or makes one.
func secretOrNew(secret string) (string, error) {
	if secret == "" {
		return events.NewSecret(), nil
	}
	if _, err := switchboard.DecodeSecret(secret); err != nil {
		return "", err
	}
	return secret, nil
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req EndpointRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := events.CheckURL(r.Context(), req.URL, s.cfg.Endpoints.AllowPrivate, nil); err != nil {
		return err
	}
	if len(req.EventTypes) == 0 {
		req.EventTypes = []string{"*"}
	}
	if len(req.EventTypes) > maxEventPatterns {
		return invalid("invalid_event_type", "at most %d event types", maxEventPatterns)
	}
	for _, p := range req.EventTypes {
		if !switchboard.ValidEventPattern(p) {
			return invalid("invalid_event_type", "event type %q must be \"*\", a type such as message.received or a prefix such as message.*", truncate(p, 60))
		}
	}
	if len(req.Description) > maxDescriptionBytes {
		return invalid("invalid_description", "description is over %d bytes", maxDescriptionBytes)
	}
	secret, err := secretOrNew(req.Secret)
	if err != nil {
		return err
	}
	now := s.cfg.Clock()
	e := &switchboard.Endpoint{
		ID: switchboard.NewID("ep"), URL: req.URL, Description: req.Description, EventTypes: req.EventTypes,
		Secrets: []switchboard.EndpointSecret{{Secret: secret}}, Source: switchboard.EndpointFromAPI,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.cfg.Store.CreateEndpoint(r.Context(), e); err != nil {
		return err
	}
	s.cfg.Logger.Info("endpoint registered", "endpoint_id", e.ID, "event_types", e.EventTypes)
	v := viewOf(e, now)
	v.Secret = secret
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	eps, err := s.cfg.Store.ListEndpoints(r.Context(), "")
	if err != nil {
		return err
	}
	now := s.cfg.Clock()
	out := EndpointList{Endpoints: []EndpointView{}}
	for _, e := range eps {
		out.Endpoints = append(out.Endpoints, viewOf(e, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	e, err := s.cfg.Store.GetEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOf(e, s.cfg.Clock()))
	return nil
}

// apiOwned refuses to change an endpoint the configuration file owns.
func apiOwned(e *switchboard.Endpoint, what string) error {
	if e.Source == switchboard.EndpointFromConfig {
		return switchboard.Errorf(switchboard.ECONFLICT, "endpoint_from_config",
			"endpoint %s comes from the configuration file; %s it there", e.ID, what)
	}
	return nil
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	e, err := s.cfg.Store.GetEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := apiOwned(e, "remove"); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteEndpoint(r.Context(), e.ID); err != nil {
		return err
	}
	s.cfg.Logger.Info("endpoint deleted", "endpoint_id", e.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req RotateRequest
	if r.ContentLength != 0 {
		if err := s.decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	overlap := DefaultSecretOverlap
	if req.ExpirePreviousAfterSeconds != nil {
		overlap = time.Duration(*req.ExpirePreviousAfterSeconds) * time.Second
		if overlap < 0 || overlap > maxSecretOverlap {
			return invalid("invalid_expiry", "expire_previous_after_seconds must be from 0 to %d", int(maxSecretOverlap.Seconds()))
		}
	}
	secret, err := secretOrNew(req.Secret)
	if err != nil {
		return err
	}
	e, err := s.cfg.Store.GetEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := apiOwned(e, "rotate its secret_env or secret_file"); err != nil {
		return err
	}
	now := s.cfg.Clock()
	if e, err = s.cfg.Store.RotateEndpointSecret(r.Context(), e.ID, secret, now.Add(overlap), now); err != nil {
		return err
	}
	s.cfg.Logger.Info("endpoint secret rotated", "endpoint_id", e.ID, "previous_until", now.Add(overlap))
	v := viewOf(e, now)
	v.Secret = secret
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	e, err := s.cfg.Store.GetEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, next, err := s.cfg.Store.ListDeliveries(r.Context(), switchboard.DeliveryFilter{
		EndpointID: e.ID, Status: switchboard.DeliveryDead, Cursor: r.URL.Query().Get("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []*switchboard.Delivery{}
	}
	writeJSON(w, http.StatusOK, DeadLetterList{DeadLetters: ds, NextCursor: next})
	return nil
}

func (s *Server) replay(w http.ResponseWriter, r *http.Request) error {
	n, err := s.cfg.Store.ReplayDeadLetters(r.Context(), r.PathValue("id"), s.cfg.Clock())
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("dead letters replayed", "endpoint_id", r.PathValue("id"), "deliveries", n)
	if s.cfg.Endpoints.OnReplay != nil {
		s.cfg.Endpoints.OnReplay()
	}
	writeJSON(w, http.StatusOK, ReplayResult{Replayed: n})
	return nil
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
