package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// Limits of a request, as acceptance sets them (internal/accept).
const (
	MaxIdempotencyKey = accept.MaxIdempotencyKey
	MaxMetadataKey    = accept.MaxMetadataKey
	MaxMetadataValue  = accept.MaxMetadataValue
)

// SendRequest is the body of POST /v1/messages (accept.Request: acceptance owns it).
type SendRequest = accept.Request

// MessageList is the body of GET /v1/messages.
type MessageList struct {
	Messages   []*switchboard.Message `json:"messages"`
	NextCursor string                 `json:"next_cursor"`
}

func invalid(code, format string, args ...any) error {
	return switchboard.Errorf(switchboard.EINVALID, code, format, args...)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) error {
	idemKey := r.Header.Get("Idempotency-Key")
	if len(idemKey) > MaxIdempotencyKey {
		return invalid("invalid_idempotency_key", "Idempotency-Key is longer than %d characters", MaxIdempotencyKey)
	}
	var req SendRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	return s.send(w, r, &req, idemKey)
}

// send accepts a validated request's message: consent, idempotency, storage, answer.
func (s *Server) send(w http.ResponseWriter, r *http.Request, req *SendRequest, idemKey string) error {
	stored, replayed, err := s.msgs.Accept(r.Context(), apiKeyFrom(r.Context()), req, idemKey)
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/v1/messages/"+stored.ID)
	writeJSON(w, http.StatusAccepted, stored)
	return nil
}

// Accept accepts req as the API does, on behalf of actor (such as "dashboard:alice"), with
// idemKey scoped to actor: the dashboard's replies go through the same checks, consent and
// idempotency as an application's sends.
func (s *Server) Accept(ctx context.Context, req *SendRequest, actor, idemKey string) (*switchboard.Message, error) {
	m, _, err := s.msgs.Accept(ctx, &switchboard.APIKey{ID: actor, Name: actor}, req, idemKey)
	return m, err
}

// maxJSONTime is the latest time JSON (RFC 3339, four-digit years) can carry.
var maxJSONTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// showable clamps the times of messages to what JSON can say, so that one stored odd value (a
// valid_until past year 9999, written before send_at was bounded) cannot make a list or a trace
// unanswerable: such a time is shown as 9999-12-31T23:59:59Z, which reads as "never".
func showable(msgs ...*switchboard.Message) {
	clamp := func(t *time.Time) {
		if t != nil && t.After(maxJSONTime) {
			*t = maxJSONTime
		}
	}
	for _, m := range msgs {
		if m == nil {
			continue
		}
		clamp(m.SendAt)
		clamp(m.ValidUntil)
		clamp(&m.NextAttemptAt)
		clamp(m.AttemptStartedAt)
		clamp(m.RedactedAt)
		clamp(&m.CreatedAt)
		clamp(&m.UpdatedAt)
		for _, e := range m.Events {
			clamp(&e.At)
		}
	}
}

// visibleMessage loads message id if the caller may see it: of its tenant (and, for a send key,
// one it sent); any other is not found, as one that does not exist.
func (s *Server) visibleMessage(ctx context.Context, id string) (*switchboard.Message, error) {
	m, err := s.cfg.Store.GetMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if !principal(ctx).owns(m.Tenant, m.APIKeyID) {
		return nil, switchboard.ErrMessageNotFound(id)
	}
	return m, nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) error {
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
	showable(m)
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := switchboard.MessageFilter{Tenant: principal(r.Context()).Tenant}
	for _, part := range strings.Split(strings.Join(q["status"], ","), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		st := switchboard.Status(part)
		if !st.Valid() {
			return invalid("invalid_query", "status %q is not a message status", part)
		}
		f.Statuses = append(f.Statuses, st)
	}
	if to := q.Get("to"); to != "" {
		n, err := content.NormalizePhone(to)
		if err != nil {
			return err
		}
		f.To = n
	}
	f.From = q.Get("from")
	if f.From == "" {
		f.From = q.Get("sender")
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return invalid("invalid_query", "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", p.name)
			}
			t = t.UTC()
			*p.dst = &t
		}
	}
	f.Cursor = q.Get("cursor")
	var err error
	if f.Metadata, err = parseMetadataFilter(q); err != nil {
		return err
	}
	if f.Limit, err = queryInt(r, "limit", 50, 1, 500); err != nil {
		return err
	}
	msgs, next, err := s.cfg.Store.ListMessages(r.Context(), f)
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []*switchboard.Message{}
	}
	showable(msgs...)
	writeJSON(w, http.StatusOK, MessageList{Messages: msgs, NextCursor: next})
	return nil
}

func (s *Server) cancelMessage(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.visibleMessage(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	m, err := switchboard.CancelMessage(r.Context(), s.cfg.Store, r.PathValue("id"), "api:"+apiKeyFrom(r.Context()).Name,
		"canceled through the API before it was handed to the provider", s.cfg.Clock())
	if err != nil {
		return err
	}
	showable(m)
	writeJSON(w, http.StatusOK, m)
	return nil
}
