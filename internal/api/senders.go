package api

import (
	"context"
	"net/http"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/strictjson"
)

// SenderRequest is the body of POST /v1/senders. Omitted fields take the configuration file's
// defaults: kind from the From (MG...: messaging_service, else long_code), rate the kind's
// default (long_code 1, toll_free 3, short_code 100 segments/s), burst 1, pool default, tenants
// none (every tenant may send from it).
type SenderRequest struct {
	From    string                 `json:"from"`
	Kind    switchboard.SenderKind `json:"kind,omitempty"`
	Rate    *float64               `json:"rate,omitempty"`
	Burst   *int                   `json:"burst,omitempty"`
	Pool    string                 `json:"pool,omitempty"`
	Tenants []string               `json:"tenants,omitempty"`
}

// Sender returns the sender the request describes, normalized and validated (EINVALID with
// code invalid_sender otherwise).
func (req SenderRequest) Sender() (switchboard.Sender, error) {
	s := switchboard.Sender{From: req.From, Kind: req.Kind, Pool: req.Pool, Tenants: req.Tenants}
	if req.Rate != nil {
		s.Rate = *req.Rate
	}
	if req.Burst != nil {
		if *req.Burst < 1 {
			return s, invalid("invalid_sender", "burst must be from 1 to %d segments", switchboard.MaxSenderBurst)
		}
		s.Burst = *req.Burst
	}
	s.Normalize()
	return s, s.Validate()
}

// ParseSenderRequest decodes and checks the body of POST /v1/senders: strict JSON (see
// internal/strictjson), then SenderRequest.Sender.
func ParseSenderRequest(body []byte) (switchboard.Sender, error) {
	var req SenderRequest
	if err := decodeStrict(body, &req); err != nil {
		return switchboard.Sender{}, err
	}
	return req.Sender()
}

// ParseSenderUpdate decodes and checks the body of PATCH /v1/senders/{from} and applies it to
// cur: the sender as it would be stored (EINVALID with code invalid_sender when it is not valid).
func ParseSenderUpdate(body []byte, cur switchboard.Sender) (switchboard.Sender, error) {
	var u switchboard.SenderUpdate
	if err := decodeStrict(body, &u); err != nil {
		return switchboard.Sender{}, err
	}
	return applyUpdate(u, cur)
}

func applyUpdate(u switchboard.SenderUpdate, cur switchboard.Sender) (switchboard.Sender, error) {
	if u.Burst != nil && *u.Burst < 1 {
		return cur, invalid("invalid_sender", "burst must be from 1 to %d segments", switchboard.MaxSenderBurst)
	}
	s := u.Apply(cur)
	return s, s.Validate()
}

// decodeStrict is strictjson.Decode with its errors as the API's.
func decodeStrict(data []byte, v any) error {
	if err := strictjson.Decode(data, v); err != nil {
		if se, ok := err.(*strictjson.Error); ok { //nolint:errorlint // Decode returns its *Error unwrapped
			return switchboard.Errorf(switchboard.EINVALID, se.Code, "%s", se.Detail)
		}
		return switchboard.Errorf(switchboard.EINVALID, "invalid_json", "request body is not valid JSON")
	}
	return nil
}

// SenderList is the body of GET /v1/senders.
type SenderList struct {
	Senders []switchboard.Sender `json:"senders"`
}

func (s *Server) senderRoutes() {
	s.mux.HandleFunc("GET /v1/senders", s.handle(s.authed(s.listSenders)))
	s.mux.HandleFunc("POST /v1/senders", s.handle(s.authed(s.createSender)))
	s.mux.HandleFunc("GET /v1/senders/{from}", s.handle(s.authed(s.getSender)))
	s.mux.HandleFunc("PATCH /v1/senders/{from}", s.handle(s.authed(s.updateSender)))
	s.mux.HandleFunc("DELETE /v1/senders/{from}", s.handle(s.authed(s.deleteSender)))
}

// senderView is a sender as the API shows it: tenants always a list.
func senderView(snd switchboard.Sender) switchboard.Sender {
	if snd.Tenants == nil {
		snd.Tenants = []string{}
	}
	return snd
}

// pathSender is the {from} of the path, checked: a number's '+' may come as is or as %2B.
func pathSender(r *http.Request) (string, error) {
	from := r.PathValue("from")
	if rest, ok := strings.CutPrefix(from, " "); ok {
		from = "+" + rest // a '+' sent as %20 by a form-minded client
	}
	if !switchboard.IsE164(from) && !switchboard.IsMessagingServiceSID(from) {
		return "", switchboard.Errorf(switchboard.ENOTFOUND, "sender_not_found", "sender %.40q not found: a sender is an E.164 number or a Messaging Service SID", switchboard.SafeText(from))
	}
	return from, nil
}

func (s *Server) listSenders(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.Store.ListSenders(r.Context())
	if err != nil {
		return err
	}
	p := principal(r.Context())
	out := SenderList{Senders: make([]switchboard.Sender, 0, len(list))}
	for _, snd := range list {
		if sees(p, snd) {
			out.Senders = append(out.Senders, senderView(snd))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getSender(w http.ResponseWriter, r *http.Request) error {
	snd, err := s.pathSenderVisible(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, senderView(*snd))
	return nil
}

func (s *Server) createSender(w http.ResponseWriter, r *http.Request) error {
	var req SenderRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	snd, err := req.Sender()
	if err != nil {
		return err
	}
	if err := s.mayChangeSender(r.Context(), snd); err != nil {
		return err
	}
	if err := s.cfg.Store.CreateSender(r.Context(), &snd, s.cfg.Clock()); err != nil {
		return err
	}
	s.cfg.Logger.Info("sender created", "sender", maskSender(snd.From), "pool", snd.Pool, "rate", snd.Rate)
	s.sendersChanged()
	w.Header().Set("Location", "/v1/senders/"+snd.From)
	writeJSON(w, http.StatusCreated, senderView(snd))
	return nil
}

func (s *Server) updateSender(w http.ResponseWriter, r *http.Request) error {
	var u switchboard.SenderUpdate
	if err := s.decodeJSON(w, r, &u); err != nil {
		return err
	}
	cur, err := s.pathSenderVisible(r)
	if err != nil {
		return err
	}
	if err := s.mayChangeSender(r.Context(), *cur); err != nil {
		return err
	}
	snd, err := applyUpdate(u, *cur)
	if err != nil {
		return err
	}
	if err := s.mayChangeSender(r.Context(), snd); err != nil {
		return err
	}
	stored, err := s.cfg.Store.UpdateSender(r.Context(), &snd, s.cfg.Clock())
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("sender updated", "sender", maskSender(stored.From), "pool", stored.Pool, "rate", stored.Rate, "burst", stored.Burst)
	s.sendersChanged()
	writeJSON(w, http.StatusOK, senderView(*stored))
	return nil
}

func (s *Server) deleteSender(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pathSenderVisible(r)
	if err != nil {
		return err
	}
	if err := s.mayChangeSender(r.Context(), *cur); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSender(r.Context(), cur.From, s.cfg.Clock()); err != nil {
		return err
	}
	s.cfg.Logger.Info("sender removed", "sender", maskSender(cur.From))
	s.sendersChanged()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pathSenderVisible is the sender of the path as the caller may see it: a sender its tenant may
// not use answers as one that does not exist.
func (s *Server) pathSenderVisible(r *http.Request) (*switchboard.Sender, error) {
	from, err := pathSender(r)
	if err != nil {
		return nil, err
	}
	snd, err := s.cfg.Store.GetSender(r.Context(), from)
	if err != nil {
		return nil, err
	}
	if !sees(principal(r.Context()), *snd) {
		return nil, switchboard.ErrSenderNotFound(from)
	}
	return snd, nil
}

// sees reports whether the caller may see snd: a platform key sees every sender, and a tenant's
// keys see those its tenant may send from — the ones that list it, and the ones that list no
// tenant (every tenant's).
func sees(p *Principal, snd switchboard.Sender) bool {
	if p.Role == switchboard.RolePlatform || len(snd.Tenants) == 0 {
		return true
	}
	for _, t := range snd.Tenants {
		if sameTenant(t, p.Tenant) {
			return true
		}
	}
	return false
}

// mayChangeSender refuses (403 insufficient_role) a caller that may not add, change or remove
// snd (checked as it is and as it would be): a platform key changes any sender; an admin key
// only one its tenant alone may use, or, in an installation with one tenant, a shared one (no
// tenants listed) — with several tenants a shared sender is the platform's, since a change to
// it (its rate, its removal) reaches every tenant that sends from it.
func (s *Server) mayChangeSender(ctx context.Context, snd switchboard.Sender) error {
	p := principal(ctx)
	if p.Role == switchboard.RolePlatform {
		return nil
	}
	if len(snd.Tenants) == 1 && sameTenant(snd.Tenants[0], p.Tenant) {
		return nil
	}
	if len(snd.Tenants) == 0 {
		ts, err := s.cfg.Store.ListTenants(ctx)
		if err != nil {
			return err
		}
		if len(ts) == 1 && sameTenant(ts[0].ID, p.Tenant) {
			return nil
		}
	}
	return switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole,
		"sender %s is shared by several tenants (or by every tenant of several): only a platform key changes it; an admin key changes senders whose tenants are exactly its own", maskSender(snd.From))
}

// sendersChanged tells the node that the stored senders changed, so that it reloads them now.
func (s *Server) sendersChanged() {
	if s.cfg.OnSendersChanged != nil {
		s.cfg.OnSendersChanged()
	}
}

// maskSender masks a number for the logs; a Messaging Service SID is not personal data.
func maskSender(from string) string {
	if switchboard.IsMessagingServiceSID(from) {
		return from
	}
	return content.MaskPhone(from)
}
