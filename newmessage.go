package switchboard

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// MessageSpec is what a new outbound message is made of, whoever makes it: the API, the
// dashboard's retry, a keyword reply or a routing rule's auto-reply, a call's SMS, WhatsApp's SMS
// leg, a verification's code. NewMessage turns it into a Message; internal/accept is the one
// service that does so and stores the result.
type MessageSpec struct {
	// ID is the new message's ID; empty takes a new one (NewID("msg")).
	ID       string
	Channel  Channel  // empty: sms (mms when MediaURLs are set)
	Category Category // empty: transactional
	To, From string   // E.164 numbers, or a Messaging Service SID as From
	Pool     string
	Body     string
	// MediaURLs are absolute URLs of the attachments; an SMS with media is an MMS.
	MediaURLs []string
	Metadata  map[string]string
	// Template and TemplateVersion name the catalog template the body was rendered from.
	Template        string
	TemplateVersion int
	// Timezone is the recipient's IANA time zone for quiet hours (empty: the number's zones).
	Timezone string
	// SendAt, when after now, schedules the message for then.
	SendAt *time.Time
	// ValidUntil ends the message's validity; when nil, Validity after its start does (nil
	// validity when both are zero).
	ValidUntil *time.Time
	Validity   time.Duration
	// APIKeyID is the key (or the part of Switchboard, such as "system") it is sent for.
	APIKeyID string
	// Tenant is the tenant it belongs to (empty: DefaultTenant).
	Tenant   string
	WhatsApp *WhatsAppOptions
	// Actor and Detail explain the acceptance on the message's "created" event.
	Actor, Detail string
}

// NewMessage makes a new message of s at now: queued (scheduled when s.SendAt is after now), due
// at its start, with its body's hash, length, segments and encoding (SetBody), and a "created"
// event. It refuses (EINVALID) a spec that no path may store: no recipient or sender, an unknown
// channel or category, neither body nor media, a body that is not UTF-8 text without NUL.
func NewMessage(s MessageSpec, now time.Time) (*Message, error) {
	if s.Channel == "" {
		s.Channel = ChannelSMS
	}
	if s.Channel == ChannelSMS && len(s.MediaURLs) > 0 {
		s.Channel = ChannelMMS
	}
	if s.Category == "" {
		s.Category = CategoryTransactional
	}
	switch {
	case s.To == "":
		return nil, Errorf(EINVALID, "missing_to", "a message needs a recipient")
	case s.From == "":
		return nil, Errorf(EINVALID, "missing_from", "a message needs a sender")
	case !s.Channel.Valid():
		return nil, Errorf(EINVALID, "invalid_channel", "channel must be sms, mms or whatsapp")
	case !s.Category.Valid():
		return nil, Errorf(EINVALID, "invalid_category", "category must be transactional, marketing or otp")
	case s.Body == "" && len(s.MediaURLs) == 0:
		return nil, Errorf(EINVALID, "missing_body", "a message needs a body or media")
	case !utf8.ValidString(s.Body) || strings.ContainsRune(s.Body, 0):
		return nil, Errorf(EINVALID, "invalid_body", "body must be UTF-8 text without NUL characters")
	case s.Actor == "":
		return nil, Errorf(EINVALID, "missing_actor", "a message's created event names who accepted it")
	}
	m := &Message{
		ID: s.ID, Status: StatusQueued, Channel: s.Channel, Category: s.Category, To: s.To, From: s.From, Pool: s.Pool,
		MediaURLs: s.MediaURLs, Metadata: s.Metadata, Template: s.Template, TemplateVersion: s.TemplateVersion,
		Timezone: s.Timezone, APIKeyID: s.APIKeyID, WhatsApp: s.WhatsApp, Tenant: TenantOr(s.Tenant),
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if m.ID == "" {
		m.ID = NewID("msg")
	}
	m.SetBody(s.Body)
	start := now
	if s.SendAt != nil {
		if at := s.SendAt.UTC(); at.After(now) {
			m.Status, m.SendAt, m.NextAttemptAt, start = StatusScheduled, &at, at, at
		}
	}
	switch {
	case s.ValidUntil != nil:
		until := *s.ValidUntil
		m.ValidUntil = &until
	case s.Validity > 0:
		until := start.Add(s.Validity)
		m.ValidUntil = &until
	}
	m.Events = []*Event{{Type: EventCreated, Actor: s.Actor, Detail: s.Detail}}
	return m, nil
}

// SetBody gives m its body and everything derived from it: the SHA-256 and length that outlive
// the body's redaction (retention), and the segments and encoding. NewMessage uses it, so that no
// message is stored without them (issue 15: keyword replies and auto-replies had no body_sha256
// or body_length when they built their messages by hand).
func (m *Message) SetBody(body string) {
	sum := sha256.Sum256([]byte(body))
	m.Body, m.BodySHA256, m.BodyLength = body, hex.EncodeToString(sum[:]), utf8.RuneCountInString(body)
	m.Segments, m.Encoding = Segments(body)
}
