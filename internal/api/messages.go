package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// Limits of a message request.
const (
	MaxBodyChars      = 1600 // Twilio's limit (21617)
	MaxMediaURLs      = 10
	MaxMetadataKeys   = 20
	MaxMetadataKey    = 64
	MaxMetadataValue  = 512
	MaxValiditySecond = 14 * 24 * 3600
	// MaxScheduleAhead bounds send_at (switchboard.MaxScheduleAhead: a year).
	MaxScheduleAhead  = switchboard.MaxScheduleAhead
	MaxIdempotencyKey = 255
	MaxVariables      = 50
	MaxVariableValue  = 1024
)

// SendRequest is the body of POST /v1/messages.
type SendRequest struct {
	To              string            `json:"to"`
	Body            string            `json:"body,omitempty"`
	Template        string            `json:"template,omitempty"`
	TemplateVersion int               `json:"template_version,omitempty"`
	Locale          string            `json:"locale,omitempty"`
	Variables       map[string]string `json:"variables,omitempty"`
	From            string            `json:"from,omitempty"`
	Sender          string            `json:"sender,omitempty"` // alias of from
	Pool            string            `json:"pool,omitempty"`
	Channel         string            `json:"channel,omitempty"`
	MediaURLs       []string          `json:"media_urls,omitempty"`
	Category        string            `json:"category,omitempty"`
	SendAt          *time.Time        `json:"send_at,omitempty"`
	ValiditySeconds int               `json:"validity_seconds,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	// Timezone is the recipient's IANA time zone for quiet hours (default: the number's zones).
	Timezone string `json:"timezone,omitempty"`
	// Fallback (WhatsApp only) is "sms" to send the message by SMS when WhatsApp fails or, with
	// FallbackAfterSeconds, does not deliver it in time; "none" (or the configured default).
	Fallback             string `json:"fallback,omitempty"`
	FallbackAfterSeconds int    `json:"fallback_after_seconds,omitempty"`
}

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
	stored, replayed, err := s.accept(r.Context(), req, idemKey)
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
	ctx = context.WithValue(ctx, apiKeyCtx, &switchboard.APIKey{ID: actor, Name: actor})
	m, _, err := s.accept(ctx, req, idemKey)
	return m, err
}

// accept validates req, checks consent and stores the message (or answers the one an earlier
// request with the same idempotency key stored) for the API key in ctx.
func (s *Server) accept(ctx context.Context, req *SendRequest, idemKey string) (stored *switchboard.Message, replayed bool, err error) {
	key := apiKeyFrom(ctx)
	// Hash the request as the application sent it, before rendering fills in the body.
	canon, _ := json.Marshal(req) // deterministic: struct fields in order, map keys sorted
	now := s.cfg.Clock()
	m, err := s.buildMessage(ctx, req, now)
	if err != nil {
		return nil, false, err
	}
	m.APIKeyID = key.ID
	if s.cfg.Consent != nil {
		if err := s.cfg.Consent.CheckAccept(ctx, m); err != nil {
			return nil, false, err
		}
	}
	if len(m.Events) == 1 {
		m.Events[0].Detail += s.acceptanceNote(key, req, m, idemKey)
	}
	var idem *switchboard.Idempotency
	if idemKey != "" {
		sum := sha256.Sum256(canon)
		idem = &switchboard.Idempotency{APIKeyID: key.ID, Key: idemKey, RequestHash: hex.EncodeToString(sum[:])}
	}
	stored, replayed, err = s.cfg.Store.CreateMessage(ctx, m, idem)
	if err != nil {
		return nil, false, err
	}
	if !replayed {
		s.cfg.Logger.Info("message accepted", "message_id", stored.ID, "to", content.MaskPhone(stored.To),
			"from", stored.From, "segments", stored.Segments, "status", stored.Status)
		if s.cfg.Observer != nil {
			s.cfg.Observer.MessageAccepted(stored)
		}
		if s.cfg.OnAccepted != nil {
			s.cfg.OnAccepted()
		}
	}
	return stored, replayed, nil
}

// buildMessage validates a request and turns it into a new message. It changes nothing.
func (s *Server) buildMessage(ctx context.Context, req *SendRequest, now time.Time) (*switchboard.Message, error) {
	to, err := content.NormalizePhone(req.To)
	if err != nil {
		if req.To == "" {
			return nil, invalid("missing_to", "to is required: the recipient's number in E.164, such as +14155550100")
		}
		return nil, err
	}
	rendered, err := s.render(req)
	if err != nil {
		return nil, err
	}
	if req.Body == "" && len(req.MediaURLs) == 0 {
		return nil, invalid("missing_body", "body (or media_urls, or template) is required")
	}
	if n := utf8.RuneCountInString(req.Body); n > MaxBodyChars {
		return nil, invalid("body_too_long", "body has %d characters; the limit is %d", n, MaxBodyChars)
	}
	if !utf8.ValidString(req.Body) || strings.ContainsRune(req.Body, 0) {
		return nil, invalid("invalid_body", "body must be UTF-8 text without NUL characters")
	}
	channel := switchboard.Channel(req.Channel)
	if rendered != nil && channel == "" {
		channel = rendered.Channel
	}
	if channel == "" {
		channel = switchboard.ChannelSMS
	}
	switch {
	case !channel.Valid():
		return nil, invalid("invalid_channel", "channel must be sms, mms or whatsapp")
	case channel == switchboard.ChannelWhatsApp && s.cfg.WhatsApp == nil:
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled", "the whatsapp channel is not enabled on this installation")
	case channel != switchboard.ChannelWhatsApp && (req.Fallback != "" || req.FallbackAfterSeconds != 0):
		return nil, invalid("invalid_fallback", "fallback and fallback_after_seconds apply to whatsapp messages only")
	}
	if len(req.MediaURLs) > MaxMediaURLs {
		return nil, invalid("too_many_media", "at most %d media_urls", MaxMediaURLs)
	}
	for _, mu := range req.MediaURLs {
		u, err := url.Parse(mu)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, invalid("invalid_media_url", "media_urls must be absolute https URLs")
		}
	}
	if len(req.MediaURLs) > 0 && channel == switchboard.ChannelSMS {
		channel = switchboard.ChannelMMS
	}
	category := switchboard.Category(req.Category)
	if rendered != nil {
		if category != "" && category != rendered.Category {
			return nil, invalid("category_mismatch", "template %s is a %s template; it cannot be sent as %s", rendered.Template, rendered.Category, category)
		}
		category = rendered.Category
	}
	if category == "" {
		category = switchboard.CategoryTransactional
	}
	if !category.Valid() {
		return nil, invalid("invalid_category", "category must be transactional, marketing or otp")
	}
	if len(req.Metadata) > MaxMetadataKeys {
		return nil, invalid("invalid_metadata", "at most %d metadata keys", MaxMetadataKeys)
	}
	for k, v := range req.Metadata {
		if strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return nil, invalid("invalid_metadata", "metadata must not contain NUL characters")
		}
		if k == "" || len(k) > MaxMetadataKey || len(v) > MaxMetadataValue {
			return nil, invalid("invalid_metadata", "metadata keys must be 1-%d bytes and values at most %d bytes", MaxMetadataKey, MaxMetadataValue)
		}
	}
	if req.ValiditySeconds < 0 || req.ValiditySeconds > MaxValiditySecond {
		return nil, invalid("invalid_validity", "validity_seconds must be from 1 to %d", MaxValiditySecond)
	}
	if err := switchboard.CheckSendAt(req.SendAt, now); err != nil {
		return nil, err
	}
	var zones []*time.Location
	if req.Timezone != "" {
		loc, err := time.LoadLocation(req.Timezone)
		if err != nil || req.Timezone == "Local" {
			return nil, invalid("invalid_timezone", "timezone %q is not an IANA time zone such as America/New_York", req.Timezone)
		}
		zones = []*time.Location{loc}
	} else {
		zones = content.PhoneTimezones(to)
	}
	from, pool, err := s.chooseSender(ctx, req, to)
	if err != nil {
		return nil, err
	}
	if from == to {
		return nil, invalid("to_is_sender", "to is the sender's own number %s (Twilio would refuse it with 21266)", from)
	}

	m := &switchboard.Message{
		ID:            switchboard.NewID("msg"),
		Status:        switchboard.StatusQueued,
		Channel:       channel,
		Category:      category,
		To:            to,
		From:          from,
		Pool:          pool,
		MediaURLs:     req.MediaURLs,
		Metadata:      req.Metadata,
		NextAttemptAt: now,
		CreatedAt:     now,
		UpdatedAt:     now,
		Timezone:      req.Timezone,
	}
	m.SetBody(req.Body)
	if rendered != nil {
		m.Template, m.TemplateVersion = rendered.Template, rendered.Version
	}
	start := now
	if req.SendAt != nil {
		at := req.SendAt.UTC()
		if at.After(now) {
			m.Status = switchboard.StatusScheduled
			m.SendAt = &at
			m.NextAttemptAt = at
			start = at
		}
	}
	validity := s.cfg.DefaultValidity
	if req.ValiditySeconds > 0 {
		validity = time.Duration(req.ValiditySeconds) * time.Second
	}
	until := start.Add(validity)
	m.ValidUntil = &until
	detail := "accepted"
	if rendered != nil {
		detail += fmt.Sprintf(" from template %s version %d (%s)", rendered.Template, rendered.Version, rendered.Locale)
	}
	if m.SendAt != nil {
		detail += ", scheduled for " + m.SendAt.Format(time.RFC3339)
	}
	if channel == switchboard.ChannelWhatsApp {
		note, err := s.cfg.WhatsApp.Accept(ctx, m, whatsapp.Request{Rendered: rendered,
			Fallback: switchboard.FallbackPolicy(req.Fallback), FallbackAfterSeconds: req.FallbackAfterSeconds})
		if err != nil {
			return nil, err
		}
		detail += "; " + note
	}
	if d := s.cfg.QuietHours.Next(start, category, zones); d.Held {
		m.Status = switchboard.StatusScheduled
		m.NextAttemptAt = d.At
		detail += "; " + d.Note
		if !d.At.Before(until) {
			// It will expire unsent when its validity ends, never go late.
			m.NextAttemptAt = until
			detail += "; its validity ends inside quiet hours, so it will expire unsent"
		}
	}
	m.Events = []*switchboard.Event{{Type: switchboard.EventCreated, Actor: "api:" + apiKeyFrom(ctx).Name, Detail: detail}}
	return m, nil
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

// render renders the template a request names into its body (req.Body is set from it), or
// returns nil for a request without a template.
func (s *Server) render(req *SendRequest) (*templates.Result, error) {
	if req.Template == "" {
		if req.TemplateVersion != 0 || req.Locale != "" || len(req.Variables) > 0 {
			return nil, invalid("missing_template", "template_version, locale and variables need a template")
		}
		return nil, nil
	}
	if req.Body != "" {
		return nil, invalid("body_and_template", "send either body or template, not both")
	}
	if len(req.Variables) > MaxVariables {
		return nil, invalid("invalid_variable", "at most %d variables", MaxVariables)
	}
	for k, v := range req.Variables {
		if len(v) > MaxVariableValue || strings.ContainsRune(v, 0) {
			return nil, invalid("invalid_variable", "variable %q must be at most %d bytes of text", k, MaxVariableValue)
		}
	}
	var cat *templates.Catalog
	if s.cfg.Templates != nil {
		cat = s.cfg.Templates()
	}
	if cat == nil {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "template_not_found", "no template catalog is configured (SWITCHBOARD_TEMPLATES_DIR)")
	}
	res, err := cat.Render(req.Template, req.TemplateVersion, req.Locale, req.Variables)
	if err != nil {
		return nil, err
	}
	req.Body = res.Body
	return res, nil
}

// chooseSender picks the message's sender: the one it names, or the sticky sender of its
// recipient in the pool it names (the default pool otherwise).
func (s *Server) chooseSender(ctx context.Context, req *SendRequest, to string) (from, pool string, err error) {
	named := req.From
	if named == "" {
		named = req.Sender
	} else if req.Sender != "" && req.Sender != req.From {
		return "", "", invalid("invalid_sender", "from and sender name different senders")
	}
	if named != "" {
		snd, ok := s.senders[named]
		if !ok {
			return "", "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_sender", "%s is not a configured sender", named)
		}
		if req.Pool != "" && req.Pool != snd.Pool {
			return "", "", invalid("invalid_sender", "sender %s is not in pool %q", named, req.Pool)
		}
		return snd.From, snd.Pool, nil
	}
	pool = req.Pool
	if pool == "" {
		pool = switchboard.DefaultPool
		if _, ok := s.pools[pool]; !ok && len(s.cfg.Senders) > 0 {
			pool = s.cfg.Senders[0].Pool
		}
	}
	members := s.pools[pool]
	if len(members) == 0 {
		return "", "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_pool", "pool %q has no senders", pool)
	}
	if len(members) == 1 {
		return members[0], pool, nil
	}
	from, err = s.cfg.Store.AssignSender(ctx, pool, to, rendezvous(to, members), members)
	return from, pool, err
}

// rendezvous picks a pool member for a recipient by highest-random-weight hashing, so that the
// first choice is spread evenly and stays put when other members come and go.
func rendezvous(to string, members []string) string {
	var best string
	var bestScore uint64
	for _, m := range members {
		h := fnv.New64a()
		h.Write([]byte(to))
		h.Write([]byte{0})
		h.Write([]byte(m))
		if sc := h.Sum64(); best == "" || sc > bestScore {
			best, bestScore = m, sc
		}
	}
	return best
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := s.cfg.Store.GetMessage(r.Context(), r.PathValue("id"))
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
	var f switchboard.MessageFilter
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
	m, err := switchboard.CancelMessage(r.Context(), s.cfg.Store, r.PathValue("id"), "api:"+apiKeyFrom(r.Context()).Name,
		"canceled through the API before it was handed to the provider", s.cfg.Clock())
	if err != nil {
		return err
	}
	showable(m)
	writeJSON(w, http.StatusOK, m)
	return nil
}
