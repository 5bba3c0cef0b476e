package web

import (
	"net/http"
	"net/url"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/export"
)

// usageData is the usage page: one row per tenant and UTC day, and the totals of the range.
type usageData struct {
	From, To, Tenant string
	Rows             []export.UsageRow
	Total            export.UsageRow
	CSVLink          string
}

// usageFilter reads the page's range and tenant from the query.
func (s *Server) usageFilter(r *http.Request) (switchboard.UsageFilter, error) {
	q := r.URL.Query()
	f, err := switchboard.UsageRange(q.Get("from"), q.Get("to"), s.cfg.Clock())
	if err != nil {
		return f, err
	}
	if t := q.Get("tenant"); t != "" {
		if err := switchboard.ValidTenantID(t); err != nil {
			return f, err
		}
		f.Tenant = t
	}
	return f, nil
}

// usage shows what each tenant used per UTC day, with a CSV download of the same rows.
func (s *Server) usage(w http.ResponseWriter, r *http.Request, sess *session) {
	f, err := s.usageFilter(r)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	rows, err := s.cfg.Store.ListUsage(r.Context(), f)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	d := usageData{From: f.From, To: f.To, Tenant: f.Tenant,
		CSVLink: "/ui/usage.csv?" + usageQuery(f)}
	var total switchboard.Usage
	for _, u := range rows {
		d.Rows = append(d.Rows, export.NewUsageRow(u))
		total.Messages += u.Messages
		total.Segments += u.Segments
		total.Calls += u.Calls
		total.Verifications += u.Verifications
		total.SpendMicros += u.SpendMicros
		if u.PriceUnit != "" {
			total.PriceUnit = u.PriceUnit
		}
	}
	d.Total = export.NewUsageRow(&total)
	s.render(w, r, http.StatusOK, "usage", page{Title: "Usage", Nav: "usage", Session: sess, Data: d})
}

// usageCSV downloads the usage page's rows as CSV.
func (s *Server) usageCSV(w http.ResponseWriter, r *http.Request, sess *session) {
	f, err := s.usageFilter(r)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	rows, err := s.cfg.Store.ListUsage(r.Context(), f)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="usage-`+f.From+`-`+f.To+`.csv"`)
	if _, err := export.Usage(w, rows, export.CSV); err != nil {
		s.cfg.Logger.Error("dashboard: usage CSV failed", "err", err)
	}
}

// usageQuery is f as the page's query string.
func usageQuery(f switchboard.UsageFilter) string {
	q := url.Values{"from": {f.From}, "to": {f.To}}
	if f.Tenant != "" {
		q.Set("tenant", f.Tenant)
	}
	return q.Encode()
}
