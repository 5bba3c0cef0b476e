package api

import (
	"net/http"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/export"
)

// UsageList is the answer of GET /v1/usage.
type UsageList struct {
	From  string            `json:"from"`
	To    string            `json:"to"`
	Usage []export.UsageRow `json:"usage"`
}

func (s *Server) usageRoutes() {
	s.mux.HandleFunc("GET /v1/usage", s.handle(s.authed(s.listUsage)))
}

// listUsage answers a tenant's usage per UTC day (an admin key: its own tenant's; a platform
// key: every tenant's, or the one ?tenant= names), as JSON or, with ?format=csv or Accept:
// text/csv, as CSV.
func (s *Server) listUsage(w http.ResponseWriter, r *http.Request) error {
	key := apiKeyFrom(r.Context())
	q := r.URL.Query()
	f, err := switchboard.UsageRange(q.Get("from"), q.Get("to"), s.cfg.Clock())
	if err != nil {
		return err
	}
	switch {
	case key.Role == switchboard.RolePlatform:
		if t := q.Get("tenant"); t != "" {
			if err := switchboard.ValidTenantID(t); err != nil {
				return err
			}
			f.Tenant = t
		}
	case key.Role.Allows(switchboard.RoleAdmin):
		f.Tenant = key.Tenant
		if t := q.Get("tenant"); t != "" && t != key.Tenant {
			return switchboard.Errorf(switchboard.EFORBIDDEN, "insufficient_role", "an admin key reads its own tenant's usage only; a platform key reads any tenant's")
		}
	default:
		return switchboard.Errorf(switchboard.EFORBIDDEN, "insufficient_role", "reading usage needs an admin or platform key")
	}
	rows, err := s.cfg.Store.ListUsage(r.Context(), f)
	if err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" && strings.HasPrefix(r.Header.Get("Accept"), "text/csv") {
		format = export.CSV
	}
	switch format {
	case "", "json":
	case export.CSV:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="usage-`+f.From+`-`+f.To+`.csv"`)
		_, err := export.Usage(w, rows, export.CSV)
		return err
	default:
		return switchboard.Errorf(switchboard.EINVALID, "invalid_format", "format must be json or csv")
	}
	out := UsageList{From: f.From, To: f.To, Usage: make([]export.UsageRow, 0, len(rows))}
	for _, u := range rows {
		out.Usage = append(out.Usage, export.NewUsageRow(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkStaging refuses a call or verification to to of key's staging tenant when the tenant
// may not reach it (internal/staging), before anything is created, and counts the refusal.
func (s *Server) checkStaging(r *http.Request, key *switchboard.APIKey, to string) error {
	err := s.cfg.Staging.Check(r.Context(), key.Tenant, to)
	if err != nil {
		if ro, ok := s.cfg.Observer.(accept.RefusalObserver); ok {
			ro.TenantRefusal(switchboard.ErrorCodeOf(err))
		}
	}
	return err
}
