package switchboard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// WhatsAppWindow is WhatsApp's customer-service window: free-form messages (text, media) may be
// sent to a person only within this long of their last message to us; outside it only an
// approved content template may be sent, and anything else fails (ClassWhatsAppWindow; 63016 at
// Twilio).
const WhatsAppWindow = 24 * time.Hour

// FallbackPolicy says what happens when a WhatsApp message does not reach the person.
type FallbackPolicy string

// Fallback policies.
const (
	// FallbackNone: the WhatsApp message ends as it ends; nothing else is sent.
	FallbackNone FallbackPolicy = "none"
	// FallbackSMS: when WhatsApp fails (63016, 63018, no WhatsApp account, undelivered, blocked
	// by the window rule) or is not delivered within the fallback time, the same text goes by SMS
	// as a new, linked message (the SMS leg), through consent and quiet hours like any other.
	FallbackSMS FallbackPolicy = "sms"
)

// Valid reports whether p is a known policy ("" counts as none).
func (p FallbackPolicy) Valid() bool { return p == "" || p == FallbackNone || p == FallbackSMS }

// WhatsAppOptions is what a message carries for WhatsApp, fixed when it is accepted: the content
// template to send outside the window and the fallback policy. An SMS leg carries FallbackOf.
type WhatsAppOptions struct {
	// ContentSID is the Twilio Content template (HX…) the catalog maps the message's template and
	// locale to; it is sent instead of the body when the window is closed at dispatch.
	ContentSID string `json:"content_sid,omitempty"`
	// ContentVariables is the ContentVariables JSON object ({"1":"Ann"}) sent with ContentSID.
	ContentVariables string `json:"content_variables,omitempty"`
	// Fallback is the message's fallback policy.
	Fallback FallbackPolicy `json:"fallback,omitempty"`
	// FallbackAfterSeconds, when positive, sends the SMS leg when the WhatsApp message is not
	// delivered this long after it was accepted.
	FallbackAfterSeconds int `json:"fallback_after_seconds,omitempty"`
	// FallbackOf, on an SMS leg, is the ID of the WhatsApp message it stands in for.
	FallbackOf string `json:"fallback_of,omitempty"`
	// FallbackMessageID, on a WhatsApp message, is its SMS leg once one was created.
	FallbackMessageID string `json:"fallback_message_id,omitempty"`
	// ReachedBy says, when a message is read through the API, which leg reached the person:
	// "whatsapp", "sms", "both" or "" (not yet known, or neither). It is not stored.
	ReachedBy string `json:"reached_by,omitempty"`
}

// WindowOpen reports whether a WhatsApp window that last opened at lastInbound is still open at
// now; a nil lastInbound (the person never wrote) is a closed window.
func WindowOpen(lastInbound *time.Time, now time.Time) bool {
	return lastInbound != nil && now.Before(lastInbound.Add(WhatsAppWindow))
}

// The app event of a WhatsApp conversation.
const (
	// AppConversationWindowClosing: a WhatsApp conversation's window closes soon (once per window).
	AppConversationWindowClosing AppEventType = "conversation.window_closing"
)

// AppMediaStored and friends report what became of an inbound message's media.
const (
	// AppMediaStored: an inbound attachment was downloaded, checked and stored.
	AppMediaStored AppEventType = "media.stored"
	// AppMediaRejected: an inbound attachment was refused (too large, type not allowed, the
	// bytes not what the header said, download failed) or quarantined by the scan hook.
	AppMediaRejected AppEventType = "media.rejected"
)

// WindowClosingData is the payload of conversation.window_closing.
type WindowClosingData struct {
	ConversationID string    `json:"conversation_id"`
	Channel        Channel   `json:"channel"`
	OurNumber      string    `json:"our_number"`
	TheirNumber    string    `json:"their_number"`
	LastInboundAt  time.Time `json:"last_inbound_at"`
	ClosesAt       time.Time `json:"closes_at"`
}

// FallbackCandidate is a WhatsApp message with a fallback policy whose fallback is not settled.
type FallbackCandidate struct {
	Message *Message
	// Due is when the fallback time runs out (nil: no fallback time, only failures count).
	Due *time.Time
}

// WhatsAppStore keeps what WhatsApp needs beyond messages and conversations.
type WhatsAppStore interface {
	// FindConversation returns the conversation of (channel's thread, ours, theirs), or
	// ENOTFOUND when none exists yet.
	FindConversation(ctx context.Context, channel Channel, ours, theirs string) (*Conversation, error)
	// FallbackCandidates lists up to limit messages whose fallback is unsettled and that need a
	// decision at now: finished (any terminal status) or past their fallback time.
	FallbackCandidates(ctx context.Context, now time.Time, limit int) ([]*FallbackCandidate, error)
	// SettleFallback marks a message's fallback settled (legID: its SMS leg, "" for none) and
	// appends ev to its timeline, in one transaction. settled is false when it already was
	// (another node got there first); nothing changes then.
	SettleFallback(ctx context.Context, id, legID string, ev *Event) (settled bool, err error)
	// ClaimWindowClosing finds the WhatsApp conversations whose window closes within lead of now
	// and that were not yet notified for their current window, marks them notified and writes a
	// conversation.window_closing event for each, in one transaction, and returns them. Every
	// window is notified once, whatever the number of nodes calling it.
	ClaimWindowClosing(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]*Conversation, error)
	// RecordAppEvent writes one event to the events outbox.
	RecordAppEvent(ctx context.Context, ev *AppEvent) error
}

// EncodeWhatsAppOptions encodes o for a store: "" when there is nothing to keep. The fallback
// leg's ID is kept by stores in a column of its own and is left out.
func EncodeWhatsAppOptions(o *WhatsAppOptions) (string, error) {
	if o == nil {
		return "", nil
	}
	c := *o
	c.FallbackMessageID, c.ReachedBy = "", ""
	if c == (WhatsAppOptions{}) {
		return "", nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("whatsapp options: %w", err)
	}
	return string(b), nil
}

// DecodeWhatsAppOptions reads what EncodeWhatsAppOptions wrote and the fallback leg's ID; nil
// when both are empty.
func DecodeWhatsAppOptions(s, fallbackMessageID string) (*WhatsAppOptions, error) {
	if s == "" && fallbackMessageID == "" {
		return nil, nil
	}
	o := &WhatsAppOptions{}
	if s != "" {
		if err := json.Unmarshal([]byte(s), o); err != nil {
			return nil, fmt.Errorf("whatsapp options: %w", err)
		}
	}
	o.FallbackMessageID = fallbackMessageID
	return o, nil
}

// FallbackDue returns whether m needs fallback bookkeeping (a WhatsApp message with the SMS
// fallback) and, when it has a fallback time, when that runs out.
func FallbackDue(m *Message) (pending bool, due *time.Time) {
	if m.Channel != ChannelWhatsApp || m.WhatsApp == nil || m.WhatsApp.Fallback != FallbackSMS {
		return false, nil
	}
	if s := m.WhatsApp.FallbackAfterSeconds; s > 0 {
		t := m.CreatedAt.Add(time.Duration(s) * time.Second)
		return true, &t
	}
	return true, nil
}

// WindowClosingEvent returns the conversation.window_closing event of c, written at now.
func WindowClosingEvent(c *Conversation, now time.Time) (*AppEvent, error) {
	if c.LastInboundAt == nil {
		return nil, Errorf(EINVALID, "invalid_conversation", "conversation %s has no inbound message, so no window", c.ID)
	}
	return ForTenant(c.Tenant)(NewAppEvent(AppConversationWindowClosing, now, WindowClosingData{
		ConversationID: c.ID, Channel: c.Channel, OurNumber: c.OurNumber, TheirNumber: c.TheirNumber,
		LastInboundAt: c.LastInboundAt.UTC(), ClosesAt: c.LastInboundAt.Add(WhatsAppWindow).UTC(),
	}))
}

// MediaData is the payload of media.stored and media.rejected: one attachment of an inbound
// message. URL is Switchboard's own address of the stored file (never the provider's).
type MediaData struct {
	InboundID   string  `json:"inbound_id"`
	ProviderSID string  `json:"provider_sid"`
	Channel     Channel `json:"channel"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	// Index is the attachment's position in the inbound message (MediaUrl0 is 0).
	Index int `json:"index"`
	// MediaID is the SHA-256 of the bytes (hex), the stored file's name.
	MediaID string `json:"media_id,omitempty"`
	URL     string `json:"url,omitempty"`
	// ContentType is the type detected from the bytes; DeclaredType what the provider said.
	ContentType  string `json:"content_type,omitempty"`
	DeclaredType string `json:"declared_type,omitempty"`
	Size         int64  `json:"size,omitempty"`
	// Reason says why the attachment was refused; Quarantined that the scan hook flagged it.
	Reason      string `json:"reason,omitempty"`
	Quarantined bool   `json:"quarantined,omitempty"`
}
