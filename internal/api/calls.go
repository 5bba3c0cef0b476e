package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// CallRequest is the body of POST /v1/calls.
type CallRequest struct {
	voice.CreateRequest
	// Sender names a pool to call from when From is not set.
	Sender string `json:"sender,omitempty"`
}

// CallList is a page of calls.
type CallList struct {
	Calls      []*switchboard.Call `json:"calls"`
	NextCursor string              `json:"next_cursor"`
}

func (s *Server) callRoutes() {
	s.mux.HandleFunc("POST /v1/calls", s.handle(s.authed(s.createCall)))
	s.mux.HandleFunc("GET /v1/calls", s.handle(s.authed(s.listCalls)))
	s.mux.HandleFunc("GET /v1/calls/{id}", s.handle(s.authed(s.getCall)))
	s.mux.HandleFunc("POST /v1/calls/{id}/cancel", s.handle(s.authed(s.cancelCall)))
}

func (s *Server) calls() (*voice.Service, error) {
	if s.cfg.Calls == nil {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "calls_not_configured", "calls need a flows directory (SWITCHBOARD_FLOWS_DIR)")
	}
	return s.cfg.Calls, nil
}

// callSender picks the number a call comes from: from, else the first number of the pool.
func (s *Server) callSender(req *CallRequest) (string, error) {
	if req.From != "" {
		from, err := content.NormalizePhone(req.From)
		if err != nil {
			return "", invalid("invalid_from", "from must be a phone number in E.164")
		}
		if _, ok := s.senders().Get(from); !ok {
			return "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_sender", "%s is not a configured sender", from)
		}
		return from, nil
	}
	pool := req.Sender
	if pool == "" {
		pool = switchboard.DefaultPool
	}
	for _, from := range s.senders().Pool(pool) {
		if strings.HasPrefix(from, "+") {
			return from, nil
		}
	}
	return "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_sender", "pool %q has no phone number to call from", pool)
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.calls()
	if err != nil {
		return err
	}
	key := apiKeyFrom(r.Context())
	idemKey := r.Header.Get("Idempotency-Key")
	if len(idemKey) > MaxIdempotencyKey {
		return invalid("invalid_idempotency_key", "Idempotency-Key is longer than %d characters", MaxIdempotencyKey)
	}
	var req CallRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	canon, _ := json.Marshal(req)
	from, err := s.callSender(&req)
	if err != nil {
		return err
	}
	c, err := svc.Build(&req.CreateRequest, from, s.cfg.Clock())
	if err != nil {
		return err
	}
	if err := s.checkStaging(r, key, c.To); err != nil {
		return err
	}
	if err := svc.Admit(r.Context(), c); err != nil {
		return err
	}
	c.APIKeyID, c.Tenant = key.ID, principal(r.Context()).Tenant
	var idem *switchboard.Idempotency
	if idemKey != "" {
		sum := sha256.Sum256(canon)
		idem = &switchboard.Idempotency{APIKeyID: key.ID, Key: idemKey, RequestHash: hex.EncodeToString(sum[:])}
	}
	stored, replayed, err := s.cfg.Store.CreateCall(r.Context(), c, idem)
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.cfg.Logger.Info("call accepted", "call_id", stored.ID, "to", content.MaskPhone(stored.To), "flow", stored.Flow)
		svc.Notify()
	}
	w.Header().Set("Location", "/v1/calls/"+stored.ID)
	writeJSON(w, http.StatusAccepted, stored)
	return nil
}

// visibleCall loads call id if the caller may see it (its tenant's; a send key's own); any
// other is not found.
func (s *Server) visibleCall(ctx context.Context, id string) (*switchboard.Call, error) {
	c, err := s.cfg.Store.GetCall(ctx, id)
	if err != nil {
		return nil, err
	}
	if !principal(ctx).owns(c.Tenant, c.APIKeyID) {
		return nil, switchboard.CallNotFound(id)
	}
	return c, nil
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleCall(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	meta, err := parseMetadataFilter(r.URL.Query())
	if err != nil {
		return err
	}
	calls, err := s.cfg.Store.ListCalls(r.Context(), switchboard.CallFilter{Tenant: principal(r.Context()).Tenant, Metadata: meta, Before: r.URL.Query().Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	out := CallList{Calls: calls}
	if out.Calls == nil {
		out.Calls = []*switchboard.Call{}
	}
	if len(calls) == limit {
		out.NextCursor = calls[len(calls)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) cancelCall(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.calls()
	if err != nil {
		return err
	}
	if _, err := s.visibleCall(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	if _, err := svc.Cancel(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	c, err := s.cfg.Store.GetCall(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
