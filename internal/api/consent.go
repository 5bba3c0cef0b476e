package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// MaxEvidenceBytes bounds a consent record's evidence, whether it comes by PUT or by import.
const MaxEvidenceBytes = 1024

// MaxImportRows bounds one CSV import.
const MaxImportRows = 100_000

// ConsentView is the body of GET /v1/consent/{phone}: the current state per scope and the
// append-only history.
type ConsentView struct {
	Phone   string                                `json:"phone"`
	Current map[string]*switchboard.ConsentRecord `json:"current"`
	History []*switchboard.ConsentRecord          `json:"history"`
}

// ConsentChange is the body of PUT /v1/consent/{phone}.
type ConsentChange struct {
	State    switchboard.ConsentState `json:"state"`
	Scope    string                   `json:"scope,omitempty"`
	Evidence string                   `json:"evidence,omitempty"`
}

// ImportResult is the body of POST /v1/consent/import.
type ImportResult struct {
	Imported int `json:"imported"`
}

func (s *Server) consentRoutes() {
	s.mux.HandleFunc("GET /v1/consent/{phone}", s.handle(s.authed(s.getConsent)))
	s.mux.HandleFunc("PUT /v1/consent/{phone}", s.handle(s.authed(s.putConsent)))
	s.mux.HandleFunc("DELETE /v1/consent/{phone}", s.handle(s.authed(s.deleteConsent)))
	s.mux.HandleFunc("POST /v1/consent/import", s.handle(s.authed(s.importConsent)))
}

func (s *Server) getConsent(w http.ResponseWriter, r *http.Request) error {
	phone, err := content.NormalizePhone(r.PathValue("phone"))
	if err != nil {
		return err
	}
	hist, err := s.cfg.Store.ConsentHistory(r.Context(), phone)
	if err != nil {
		return err
	}
	// The caller's tenant's records only: another tenant's choices are not its to read.
	tenant := principal(r.Context()).Tenant
	hist = slices.DeleteFunc(hist, func(c *switchboard.ConsentRecord) bool { return !sameTenant(c.Tenant, tenant) })
	v := ConsentView{Phone: phone, Current: map[string]*switchboard.ConsentRecord{}, History: hist}
	for _, c := range hist { // oldest first: the last per scope wins
		v.Current[c.Scope] = c
	}
	if v.History == nil {
		v.History = []*switchboard.ConsentRecord{}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) validScope(scope string) (string, error) {
	if scope == "" {
		return switchboard.ScopeAll, nil
	}
	if scope != switchboard.ScopeAll {
		if s.senders().Pool(scope) == nil {
			return "", invalid("invalid_scope", "scope %q is neither \"*\" nor a configured pool", scope)
		}
	}
	return scope, nil
}

func (s *Server) putConsent(w http.ResponseWriter, r *http.Request) error {
	phone, err := content.NormalizePhone(r.PathValue("phone"))
	if err != nil {
		return err
	}
	var req ConsentChange
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.State != switchboard.ConsentOptedOut && req.State != switchboard.ConsentOptedIn {
		return invalid("invalid_state", "state must be opted_out or opted_in (DELETE clears a choice)")
	}
	scope, err := s.validScope(req.Scope)
	if err != nil {
		return err
	}
	return s.recordConsent(w, r, phone, scope, req.State, req.Evidence)
}

func (s *Server) deleteConsent(w http.ResponseWriter, r *http.Request) error {
	phone, err := content.NormalizePhone(r.PathValue("phone"))
	if err != nil {
		return err
	}
	scope, err := s.validScope(r.URL.Query().Get("scope"))
	if err != nil {
		return err
	}
	return s.recordConsent(w, r, phone, scope, switchboard.ConsentCleared, "cleared through the API")
}

func (s *Server) recordConsent(w http.ResponseWriter, r *http.Request, phone, scope string, state switchboard.ConsentState, evidence string) error {
	if len(evidence) > MaxEvidenceBytes {
		return invalid("invalid_evidence", "evidence is at most %d bytes", MaxEvidenceBytes)
	}
	key := apiKeyFrom(r.Context())
	c := &switchboard.ConsentRecord{Phone: phone, Scope: scope, State: state, Source: switchboard.ConsentFromAPI,
		Evidence: evidence, Actor: "api:" + key.Name, At: s.cfg.Clock(), Tenant: principal(r.Context()).Tenant}
	if err := s.cfg.Store.RecordConsent(r.Context(), c); err != nil {
		return err
	}
	s.cfg.Logger.Info("consent recorded", "phone", content.MaskPhone(phone), "scope", scope, "state", state, "source", c.Source)
	writeJSON(w, http.StatusOK, c)
	return nil
}

// importConsent records many consent changes from a CSV body with the header
// phone,state[,scope[,evidence]]. Every row is checked before any is recorded: one bad row
// refuses the whole file and names the row.
func (s *Server) importConsent(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		return switchboard.Errorf(switchboard.EMEDIATYPE, "unsupported_media_type", "send the import as text/csv with the header phone,state,scope,evidence")
	}
	rd := csv.NewReader(http.MaxBytesReader(w, r.Body, 32<<20))
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return csvError(err, 1)
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := cols["phone"]; !ok {
		return invalid("invalid_csv", "the first row must be a header naming at least phone and state")
	}
	if _, ok := cols["state"]; !ok {
		return invalid("invalid_csv", "the first row must be a header naming at least phone and state")
	}
	field := func(row []string, name string) string {
		if i, ok := cols[name]; ok && i < len(row) {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	key := apiKeyFrom(r.Context())
	now := s.cfg.Clock()
	var recs []*switchboard.ConsentRecord
	for line := 2; ; line++ {
		row, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvError(err, line)
		}
		if len(recs) >= MaxImportRows {
			return invalid("invalid_csv", "at most %d rows per import", MaxImportRows)
		}
		for _, cell := range row {
			if p := switchboard.TextProblem(cell); p != "" {
				return invalid(p, "row %d: a cell is not UTF-8 text without NUL characters", line)
			}
		}
		phone, err := content.NormalizePhone(field(row, "phone"))
		if err != nil {
			return invalid("invalid_csv", "row %d: %s", line, switchboard.ErrorMessage(err))
		}
		state := switchboard.ConsentState(strings.ToLower(field(row, "state")))
		if !state.Valid() {
			return invalid("invalid_csv", "row %d: state must be opted_out, opted_in or cleared", line)
		}
		scope, err := s.validScope(field(row, "scope"))
		if err != nil {
			return invalid("invalid_csv", "row %d: %s", line, switchboard.ErrorMessage(err))
		}
		ev := field(row, "evidence")
		if len(ev) > MaxEvidenceBytes {
			return invalid("invalid_evidence", "row %d: evidence is at most %d bytes", line, MaxEvidenceBytes)
		}
		if ev == "" {
			ev = fmt.Sprintf("CSV import, row %d", line)
		}
		recs = append(recs, &switchboard.ConsentRecord{Phone: phone, Scope: scope, State: state,
			Source: switchboard.ConsentFromImport, Evidence: ev, Actor: "api:" + key.Name, At: now, Tenant: principal(r.Context()).Tenant})
	}
	// One transaction: an import lands whole or not at all, so a failed one can simply be sent
	// again.
	if err := s.cfg.Store.RecordConsents(r.Context(), recs); err != nil {
		return err
	}
	s.cfg.Logger.Info("consent imported", "rows", len(recs))
	writeJSON(w, http.StatusOK, ImportResult{Imported: len(recs)})
	return nil
}

func csvError(err error, line int) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return switchboard.Errorf(switchboard.ETOOLARGE, "body_too_large", "the CSV file is over 32 MiB; split it")
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalid("invalid_csv", "row %d: %v", pe.Line, pe.Err)
	}
	if errors.Is(err, io.EOF) {
		return invalid("invalid_csv", "the file is empty; the first row must be a header")
	}
	return invalid("invalid_csv", "row %d: unreadable", line)
}
