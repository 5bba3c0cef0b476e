package api

import (
	"net/http"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

// KeyRequest is the body of POST /v1/keys.
type KeyRequest struct {
	Name string           `json:"name"`
	Role switchboard.Role `json:"role"`
	// Tenant is the tenant the key belongs to: only a platform key names one; any other key
	// makes keys of its own tenant (and may leave it out).
	Tenant string `json:"tenant,omitempty"`
}

// CreatedKey is the answer of POST /v1/keys: the key and its secret, shown this once.
type CreatedKey struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Tenant    string           `json:"tenant"`
	Role      switchboard.Role `json:"role"`
	CreatedAt time.Time        `json:"created_at"`
	Secret    string           `json:"secret"`
}

// KeyList is the body of GET /v1/keys.
type KeyList struct {
	Keys []*switchboard.APIKey `json:"keys"`
}

// maxKeyName bounds a key's name.
const maxKeyName = 100

func (s *Server) keyRoutes() {
	s.mux.HandleFunc("GET /v1/keys", s.handle(s.authed(s.listKeys)))
	s.mux.HandleFunc("POST /v1/keys", s.handle(s.authed(s.createKey)))
	s.mux.HandleFunc("DELETE /v1/keys/{id}", s.handle(s.authed(s.revokeKey)))
}

// showKey is a key as the API shows it: its tenant and role filled in for a key stored before
// tenants.
func showKey(k *switchboard.APIKey) *switchboard.APIKey {
	c := *k
	c.Tenant, c.Role = keyTenant(k), keyRole(k)
	return &c
}

// listKeys lists the keys of the caller's tenant (a platform key: of ?tenant=, by default its own).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	tenant := p.Tenant
	if q := r.URL.Query().Get("tenant"); q != "" && q != p.Tenant {
		if p.Role != switchboard.RolePlatform {
			return switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "only a platform key lists the keys of another tenant")
		}
		tenant = q
	}
	ks, err := s.cfg.Store.ListAPIKeys(r.Context(), tenant)
	if err != nil {
		return err
	}
	out := KeyList{Keys: []*switchboard.APIKey{}}
	for _, k := range ks {
		if keyTenant(k) == tenant {
			out.Keys = append(out.Keys, showKey(k))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	var req KeyRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" || utf8.RuneCountInString(req.Name) > maxKeyName {
		return invalid("invalid_key_name", "name is required, at most %d characters", maxKeyName)
	}
	if !req.Role.Valid() {
		return invalid("invalid_role", "role must be send, read, admin or platform")
	}
	if req.Role == switchboard.RolePlatform && p.Role != switchboard.RolePlatform {
		return switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "only a platform key makes platform keys")
	}
	tenant := p.Tenant
	if req.Tenant != "" && req.Tenant != p.Tenant {
		if p.Role != switchboard.RolePlatform {
			return switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "only a platform key makes keys of another tenant")
		}
		tenant = req.Tenant
	}
	if _, err := s.cfg.Store.GetTenant(r.Context(), tenant); err != nil {
		if switchboard.IsKind(err, switchboard.ENOTFOUND) {
			return switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_tenant", "there is no tenant %q", tenant)
		}
		return err
	}
	key, secret, err := switchboard.NewAPIKey(req.Name, s.cfg.Clock().UTC().Truncate(time.Microsecond))
	if err != nil {
		return err
	}
	key.Tenant, key.Role = tenant, req.Role
	if err := s.cfg.Store.CreateAPIKey(r.Context(), key); err != nil {
		return err
	}
	s.cfg.Logger.Info("API key created", "api_key_id", key.ID, "tenant", key.Tenant, "role", key.Role, "by", p.Key.ID)
	w.Header().Set("Location", "/v1/keys/"+key.ID)
	writeJSON(w, http.StatusCreated, CreatedKey{ID: key.ID, Name: key.Name, Tenant: key.Tenant, Role: key.Role, CreatedAt: key.CreatedAt, Secret: secret})
	return nil
}

// revokeKey revokes a key of the caller's tenant (a platform key: of any tenant); a key of
// another tenant is not found. A key cannot revoke a platform key unless it is one.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	id := r.PathValue("id")
	tenant := p.Tenant
	if p.Role == switchboard.RolePlatform {
		tenant = "" // every tenant's
	}
	ks, err := s.cfg.Store.ListAPIKeys(r.Context(), tenant)
	if err != nil {
		return err
	}
	var key *switchboard.APIKey
	for _, k := range ks {
		if k.ID == id && (keyTenant(k) == p.Tenant || p.Role == switchboard.RolePlatform) {
			key = k
		}
	}
	if key == nil {
		return switchboard.ErrAPIKeyNotFound(id)
	}
	if keyRole(key) == switchboard.RolePlatform && p.Role != switchboard.RolePlatform {
		return switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "only a platform key revokes a platform key")
	}
	if key.RevokedAt == nil {
		if err := s.cfg.Store.RevokeAPIKey(r.Context(), key.ID, s.cfg.Clock()); err != nil {
			return err
		}
		s.keys.forget(key.Hash)
		s.cfg.Logger.Info("API key revoked", "api_key_id", key.ID, "tenant", keyTenant(key), "by", p.Key.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
