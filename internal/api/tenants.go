package api

import (
	"net/http"
	"slices"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TenantRequest is the body of POST /v1/tenants: a tenant's ID and settings.
type TenantRequest struct {
	ID                string                  `json:"id"`
	Name              string                  `json:"name,omitempty"`
	Environment       switchboard.Environment `json:"environment,omitempty"`
	StagingMode       switchboard.StagingMode `json:"staging_mode,omitempty"`
	AllowedRecipients []string                `json:"allowed_recipients,omitempty"`
	DailyMessages     int                     `json:"daily_messages,omitempty"`
	DailySegments     int                     `json:"daily_segments,omitempty"`
	DailySpendCents   int64                   `json:"daily_spend_cents,omitempty"`
}

// TenantPatch is the body of PATCH /v1/tenants/{id}: the settings to change, the others kept.
type TenantPatch struct {
	Name              *string                  `json:"name,omitempty"`
	Environment       *switchboard.Environment `json:"environment,omitempty"`
	StagingMode       *switchboard.StagingMode `json:"staging_mode,omitempty"`
	AllowedRecipients *[]string                `json:"allowed_recipients,omitempty"`
	DailyMessages     *int                     `json:"daily_messages,omitempty"`
	DailySegments     *int                     `json:"daily_segments,omitempty"`
	DailySpendCents   *int64                   `json:"daily_spend_cents,omitempty"`
}

// TenantList is the body of GET /v1/tenants.
type TenantList struct {
	Tenants []*switchboard.Tenant `json:"tenants"`
}

func (s *Server) tenantRoutes() {
	s.mux.HandleFunc("GET /v1/tenants", s.handle(s.authed(s.listTenants)))
	s.mux.HandleFunc("POST /v1/tenants", s.handle(s.authed(s.createTenant)))
	s.mux.HandleFunc("GET /v1/tenants/{id}", s.handle(s.authed(s.getTenant)))
	s.mux.HandleFunc("PATCH /v1/tenants/{id}", s.handle(s.authed(s.updateTenant)))
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.cfg.Store.ListTenants(r.Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []*switchboard.Tenant{}
	}
	writeJSON(w, http.StatusOK, TenantList{Tenants: ts})
	return nil
}

// checkTenant validates a tenant as the API receives it (the root's rules: 400 invalid_tenant).
func checkTenant(t *switchboard.Tenant) error {
	if err := t.Validate(); err != nil {
		if switchboard.IsKind(err, switchboard.EINVALID) {
			return err
		}
		return invalid("invalid_tenant", "%s", switchboard.ErrorMessage(err))
	}
	return nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req TenantRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	now := s.cfg.Clock()
	t := &switchboard.Tenant{ID: req.ID, Name: req.Name, Environment: req.Environment, StagingMode: req.StagingMode,
		AllowedRecipients: req.AllowedRecipients, DailyMessages: req.DailyMessages, DailySegments: req.DailySegments,
		DailySpendCents: req.DailySpendCents, CreatedAt: now, UpdatedAt: now}
	if t.Environment == "" {
		t.Environment = switchboard.EnvProduction
	}
	if t.Environment == switchboard.EnvStaging && t.StagingMode == "" {
		t.StagingMode = switchboard.StagingAllowlist
	}
	if t.AllowedRecipients == nil {
		t.AllowedRecipients = []string{}
	}
	if err := checkTenant(t); err != nil {
		return err
	}
	if err := s.cfg.Store.CreateTenant(r.Context(), t); err != nil {
		return err
	}
	s.cfg.Logger.Info("tenant created", "tenant", t.ID, "environment", t.Environment, "by", principal(r.Context()).Key.ID)
	w.Header().Set("Location", "/v1/tenants/"+t.ID)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.cfg.Store.GetTenant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request) error {
	var p TenantPatch
	if err := s.decodeJSON(w, r, &p); err != nil {
		return err
	}
	t, err := s.cfg.Store.GetTenant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if p.Name != nil {
		t.Name = *p.Name
	}
	if p.Environment != nil {
		t.Environment = *p.Environment
	}
	if p.StagingMode != nil {
		t.StagingMode = *p.StagingMode
	}
	if p.AllowedRecipients != nil {
		t.AllowedRecipients = slices.Clone(*p.AllowedRecipients)
		if t.AllowedRecipients == nil {
			t.AllowedRecipients = []string{}
		}
	}
	if p.DailyMessages != nil {
		t.DailyMessages = *p.DailyMessages
	}
	if p.DailySegments != nil {
		t.DailySegments = *p.DailySegments
	}
	if p.DailySpendCents != nil {
		t.DailySpendCents = *p.DailySpendCents
	}
	if t.Environment == switchboard.EnvStaging && t.StagingMode == "" {
		t.StagingMode = switchboard.StagingAllowlist
	}
	if err := checkTenant(t); err != nil {
		return err
	}
	t.UpdatedAt = s.cfg.Clock()
	if err := s.cfg.Store.UpdateTenant(r.Context(), t); err != nil {
		return err
	}
	s.cfg.Logger.Info("tenant updated", "tenant", t.ID, "environment", t.Environment, "by", principal(r.Context()).Key.ID)
	writeJSON(w, http.StatusOK, t)
	return nil
}
