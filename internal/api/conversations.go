package api

import (
	"context"
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// WhatsAppWindow is how long after a person's last message a WhatsApp business may write to
// them freely (the customer-service window); outside it only approved templates go.
const WhatsAppWindow = 24 * time.Hour

// ConversationResource is a conversation as the API shows it.
type ConversationResource struct {
	*switchboard.Conversation
	// Window describes WhatsApp's customer-service window; absent on other channels.
	Window *ConversationWindow `json:"window,omitempty"`
}

// ConversationWindow says whether free-form messages may go now and until when.
type ConversationWindow struct {
	Open bool `json:"open"`
	// ClosesAt is when the window (last inbound + 24 h) closes, or closed; absent when the
	// person never wrote.
	ClosesAt *time.Time `json:"closes_at,omitempty"`
}

// ConversationList is the body of GET /v1/conversations.
type ConversationList struct {
	Conversations []*ConversationResource `json:"conversations"`
	NextCursor    string                  `json:"next_cursor,omitempty"`
}

// ConversationMessageList is the body of GET /v1/conversations/{id}/messages.
type ConversationMessageList struct {
	Messages   []*switchboard.ConversationMessage `json:"messages"`
	NextCursor string                             `json:"next_cursor,omitempty"`
}

func (s *Server) conversationRoutes() {
	s.mux.HandleFunc("GET /v1/conversations", s.handle(s.authed(s.listConversations)))
	s.mux.HandleFunc("GET /v1/conversations/{id}", s.handle(s.authed(s.getConversation)))
	s.mux.HandleFunc("GET /v1/conversations/{id}/messages", s.handle(s.authed(s.conversationMessages)))
	s.mux.HandleFunc("POST /v1/conversations/{id}/messages", s.handle(s.authed(s.replyInConversation)))
}

// conversationResource adds what the API derives (the WhatsApp window) to c.
func (s *Server) conversationResource(c *switchboard.Conversation) *ConversationResource {
	res := &ConversationResource{Conversation: c}
	if c.Channel == switchboard.ChannelWhatsApp {
		res.Window = &ConversationWindow{}
		if c.LastInboundAt != nil {
			closes := c.LastInboundAt.Add(WhatsAppWindow)
			res.Window.ClosesAt = &closes
			res.Window.Open = s.cfg.Clock().Before(closes)
		}
	}
	return res
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := switchboard.ConversationFilter{Tenant: principal(r.Context()).Tenant}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"our_number", &f.OurNumber}, {"their_number", &f.TheirNumber}} {
		if v := q.Get(p.name); v != "" {
			n, err := content.NormalizePhone(v)
			if err != nil {
				return invalid("invalid_query", "%s: %v", p.name, err)
			}
			*p.dst = n
		}
	}
	if v := q.Get("channel"); v != "" {
		if f.Channel = switchboard.Channel(v); !f.Channel.Valid() {
			return invalid("invalid_query", "channel must be sms, mms or whatsapp")
		}
	}
	f.Cursor = q.Get("cursor")
	var err error
	if f.Limit, err = queryInt(r, "limit", 50, 1, 500); err != nil {
		return err
	}
	cs, next, err := s.cfg.Store.ListConversations(r.Context(), f)
	if err != nil {
		return err
	}
	out := ConversationList{Conversations: []*ConversationResource{}, NextCursor: next}
	for _, c := range cs {
		out.Conversations = append(out.Conversations, s.conversationResource(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// visibleConversation loads conversation id if it is of the caller's tenant; any other is not
// found. (A send key replies in its tenant's conversations: they are not any key's creation.)
func (s *Server) visibleConversation(ctx context.Context, id string) (*switchboard.Conversation, error) {
	c, err := s.cfg.Store.GetConversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sameTenant(c.Tenant, principal(ctx).Tenant) {
		return nil, switchboard.ErrConversationNotFound(id)
	}
	return c, nil
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleConversation(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.conversationResource(c))
	return nil
}

func (s *Server) conversationMessages(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	if _, err := s.visibleConversation(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	msgs, next, err := s.cfg.Store.ConversationMessages(r.Context(), r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []*switchboard.ConversationMessage{}
	}
	writeJSON(w, http.StatusOK, ConversationMessageList{Messages: msgs, NextCursor: next})
	return nil
}

// replyInConversation sends a message in a thread: to the person, from our number of the
// thread, on its channel. The request is that of POST /v1/messages without the addressing,
// which the conversation gives; addressing that names anything else is refused.
func (s *Server) replyInConversation(w http.ResponseWriter, r *http.Request) error {
	idemKey := r.Header.Get("Idempotency-Key")
	if len(idemKey) > MaxIdempotencyKey {
		return invalid("invalid_idempotency_key", "Idempotency-Key is longer than %d characters", MaxIdempotencyKey)
	}
	var req SendRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.visibleConversation(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if req.To != "" || req.From != "" || req.Sender != "" || req.Pool != "" {
		return invalid("addressed_reply", "a reply in a conversation goes to its number from its sender; leave to, from, sender and pool out")
	}
	ch := switchboard.Channel(req.Channel)
	switch {
	case ch == "":
		ch = c.Channel
	case switchboard.ThreadChannel(ch) != c.Channel:
		return invalid("invalid_channel", "conversation %s is on %s; a reply cannot go by %s", c.ID, c.Channel, ch)
	}
	req.To, req.From, req.Channel = c.TheirNumber, c.OurNumber, string(ch)
	if ch == switchboard.ChannelSMS && len(req.MediaURLs) > 0 {
		req.Channel = string(switchboard.ChannelMMS)
	}
	return s.send(w, r, &req, idemKey)
}
