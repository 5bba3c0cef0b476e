package api

import (
	"context"
	"net/http"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

// CheckRequest is the body of POST /v1/verifications/{id}/check.
type CheckRequest struct {
	Code string `json:"code"`
}

// VerificationList is the body of GET /v1/verifications.
type VerificationList struct {
	Verifications []*switchboard.Verification `json:"verifications"`
	NextCursor    string                      `json:"next_cursor"`
}

// RefusalList is the body of GET /v1/verifications/refusals.
type RefusalList struct {
	Refusals   []*switchboard.Refusal `json:"refusals"`
	NextCursor string                 `json:"next_cursor"`
}

func (s *Server) verificationRoutes() {
	s.mux.HandleFunc("POST /v1/verifications", s.handle(s.authed(s.startVerification)))
	s.mux.HandleFunc("GET /v1/verifications", s.handle(s.authed(s.listVerifications)))
	s.mux.HandleFunc("GET /v1/verifications/refusals", s.handle(s.authed(s.listRefusals)))
	s.mux.HandleFunc("GET /v1/verifications/{id}", s.handle(s.authed(s.getVerification)))
	s.mux.HandleFunc("POST /v1/verifications/{id}/check", s.handle(s.authed(s.checkVerification)))
	s.mux.HandleFunc("POST /v1/verifications/{id}/cancel", s.handle(s.authed(s.cancelVerification)))
}

func (s *Server) verifier() (*verify.Service, error) {
	if s.cfg.Verify == nil {
		return nil, switchboard.Errorf(switchboard.EUNAVAILABLE, "verify_not_configured", "verifications are not configured on this node")
	}
	return s.cfg.Verify, nil
}

func (s *Server) startVerification(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.verifier()
	if err != nil {
		return err
	}
	var req verify.StartRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := principal(r.Context())
	// A staging tenant's code goes only where it may send; a number that is not one is left
	// for Start to refuse with its own code.
	if to, err := content.NormalizePhone(req.To); err == nil {
		if err := s.checkStaging(r, p.Key, to); err != nil {
			return err
		}
	}
	v, err := svc.StartIn(r.Context(), req, p.Tenant, p.Key.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/verifications/"+v.ID)
	status := http.StatusCreated
	if v.Sends > 1 {
		status = http.StatusOK // a resend of the pending verification
	}
	writeJSON(w, status, v)
	return nil
}

// visibleVerification loads verification id if the caller may see it (its tenant's; a send
// key's own); any other is not found.
func (s *Server) visibleVerification(ctx context.Context, svc *verify.Service, id string) (*switchboard.Verification, error) {
	v, err := svc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !principal(ctx).owns(v.Tenant, v.APIKeyID) {
		return nil, switchboard.ErrVerificationNotFound(id)
	}
	return v, nil
}

func (s *Server) getVerification(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.verifier()
	if err != nil {
		return err
	}
	v, err := s.visibleVerification(r.Context(), svc, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) checkVerification(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.verifier()
	if err != nil {
		return err
	}
	var req CheckRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := s.visibleVerification(r.Context(), svc, r.PathValue("id")); err != nil {
		return err
	}
	res, err := svc.Check(r.Context(), r.PathValue("id"), req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) cancelVerification(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.verifier()
	if err != nil {
		return err
	}
	if _, err := s.visibleVerification(r.Context(), svc, r.PathValue("id")); err != nil {
		return err
	}
	v, err := svc.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// listVerifications lists the tenant's verifications newest first, by number, status and one
// metadata pair (metadata[KEY]=VALUE, answered from an index).
func (s *Server) listVerifications(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.verifier()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := switchboard.VerificationFilter{Tenant: principal(r.Context()).Tenant, Cursor: q.Get("cursor")}
	if to := q.Get("to"); to != "" {
		if f.To, err = content.NormalizePhone(to); err != nil {
			return err
		}
	}
	if st := switchboard.VerificationStatus(q.Get("status")); st != "" {
		if !st.Valid() {
			return invalid("invalid_query", "status %q is not a verification status", st)
		}
		f.Status = st
	}
	if f.Metadata, err = parseMetadataFilter(q); err != nil {
		return err
	}
	if f.Limit, err = queryInt(r, "limit", 50, 1, 500); err != nil {
		return err
	}
	vs, next, err := svc.Verifications(r.Context(), f)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []*switchboard.Verification{}
	}
	writeJSON(w, http.StatusOK, VerificationList{Verifications: vs, NextCursor: next})
	return nil
}

func (s *Server) listRefusals(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.verifier()
	if err != nil {
		return err
	}
	// A key reads its tenant's refusals; a platform key, which watches the installation's
	// fraud controls (prefix blocks are the installation's), every tenant's.
	q := r.URL.Query()
	f := switchboard.RefusalFilter{Tenant: principal(r.Context()).Tenant, Reason: q.Get("reason"), Cursor: q.Get("cursor")}
	if principal(r.Context()).Role == switchboard.RolePlatform {
		f.Tenant = ""
	}
	if to := q.Get("to"); to != "" {
		if f.To, err = content.NormalizePhone(to); err != nil {
			return err
		}
	}
	if f.Limit, err = queryInt(r, "limit", 50, 1, 500); err != nil {
		return err
	}
	rs, next, err := svc.Refusals(r.Context(), f)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []*switchboard.Refusal{}
	}
	writeJSON(w, http.StatusOK, RefusalList{Refusals: rs, NextCursor: next})
	return nil
}
