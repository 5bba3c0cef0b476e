package switchboard

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Conversation threads the messages between one of our numbers and one person's number on
// one channel (SMS and MMS count as one, see ThreadChannel): the outbound messages from OurNumber to TheirNumber and the inbound messages from
// TheirNumber to OurNumber. Stores keep it up to date in the transactions that create messages,
// so it exists as soon as its first message does; (Channel, OurNumber, TheirNumber) is unique,
// so two nodes creating the first messages of one conversation at once meet on one row.
type Conversation struct {
	ID string `json:"id"`
	// Tenant is the tenant whose thread it is: two tenants writing to one person from one
	// number have two conversations.
	Tenant      string  `json:"tenant"`
	Channel     Channel `json:"channel"`
	OurNumber   string  `json:"our_number"`
	TheirNumber string  `json:"their_number"`
	// LastMessageAt is the time of the newest message in either direction.
	LastMessageAt time.Time `json:"last_message_at"`
	// LastInboundAt is when the person last wrote to us: a WhatsApp customer-service window runs
	// from it.
	LastInboundAt  *time.Time `json:"last_inbound_at,omitempty"`
	LastOutboundAt *time.Time `json:"last_outbound_at,omitempty"`
	InboundCount   int        `json:"inbound_count"`
	OutboundCount  int        `json:"outbound_count"`
	CreatedAt      time.Time  `json:"created_at"`
}

// ThreadChannel is the channel of the conversation a message of channel c belongs to: SMS and MMS
// share one thread, as they do on the person's phone; WhatsApp has its own.
func ThreadChannel(c Channel) Channel {
	if c == ChannelMMS {
		return ChannelSMS
	}
	return c
}

// ThreadChannels returns the message channels of a conversation of channel c (two values, equal
// when there is one), for stores to select its messages.
func ThreadChannels(c Channel) (Channel, Channel) {
	if c == ChannelSMS {
		return ChannelSMS, ChannelMMS
	}
	return c, c
}

// Direction says which way a message of a conversation went.
type Direction string

// Directions of conversation messages.
const (
	DirectionInbound  Direction = "inbound"
	DirectionOutbound Direction = "outbound"
)

// ConversationMessage is one message of a conversation: an outbound Message or an
// InboundMessage, whichever Direction says.
type ConversationMessage struct {
	Direction Direction       `json:"direction"`
	At        time.Time       `json:"at"`
	Outbound  *Message        `json:"message,omitempty"`
	Inbound   *InboundMessage `json:"inbound,omitempty"`
}

// ID returns the ID of the message, whichever its direction.
func (c *ConversationMessage) ID() string {
	if c.Outbound != nil {
		return c.Outbound.ID
	}
	if c.Inbound != nil {
		return c.Inbound.ID
	}
	return ""
}

// ConversationFilter selects conversations, most recently active first.
type ConversationFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant      string
	OurNumber   string
	TheirNumber string
	Channel     Channel
	Cursor      string
	Limit       int
}

// ConversationStore keeps conversations. CreateMessage records an outbound message in the
// conversation of (Channel, From, To) and CreateInbound an inbound one in that of (Channel, To,
// From), in their own transactions.
type ConversationStore interface {
	// GetConversation returns a conversation, or ENOTFOUND.
	GetConversation(ctx context.Context, id string) (*Conversation, error)
	// ListConversations lists conversations by last activity, newest first; next is the cursor
	// of the following page, or "" at the end.
	ListConversations(ctx context.Context, f ConversationFilter) (convs []*Conversation, next string, err error)
	// ConversationMessages lists a conversation's messages in both directions, newest first,
	// without timelines; ENOTFOUND when there is no such conversation.
	ConversationMessages(ctx context.Context, id, cursor string, limit int) (msgs []*ConversationMessage, next string, err error)
}

// TimeCursor returns the cursor of a page that continues after (at, id) in newest-first order.
func TimeCursor(at time.Time, id string) string {
	return strconv.FormatInt(at.UnixMicro(), 10) + "." + id
}

// ParseTimeCursor reads a cursor of TimeCursor, or fails with EINVALID.
func ParseTimeCursor(c string) (time.Time, string, error) {
	us, id, ok := strings.Cut(c, ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || n < 0 || id == "" || len(c) > 200 {
		return time.Time{}, "", Errorf(EINVALID, "invalid_cursor", "cursor %q is not one this API returned", c)
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// MergeConversationPage sorts the messages of both directions newest first (by time, then ID)
// and keeps a page of limit; next continues after its last message, or is "" when nothing
// follows. msgs holds up to limit+1 of each direction, so that the page is exact.
func MergeConversationPage(msgs []*ConversationMessage, limit int) ([]*ConversationMessage, string) {
	slices.SortFunc(msgs, func(a, b *ConversationMessage) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(b.ID(), a.ID())
	})
	if len(msgs) <= limit {
		return msgs, ""
	}
	msgs = msgs[:limit]
	last := msgs[limit-1]
	return msgs, TimeCursor(last.At, last.ID())
}

// InboundTenant decides the tenant of an inbound message from the conversations of its pair of
// numbers (one per tenant that wrote to the person from that number, on the message's thread
// channel): the tenant of the one with the most recent outbound message, since a reply answers
// the last message the person received; on a tie, the lowest tenant ID, so that every node
// decides alike. Without an outbound message to the person it is DefaultTenant: an unsolicited
// message to a shared number belongs to the default tenant. It decides for a shared number only:
// a message to a number one tenant owns (Sender.Owner) is that tenant's, set by the inbound
// handler before the store is asked.
func InboundTenant(threads []*Conversation) string {
	var best *Conversation
	for _, c := range threads {
		if c.LastOutboundAt == nil {
			continue
		}
		if best == nil || c.LastOutboundAt.After(*best.LastOutboundAt) ||
			c.LastOutboundAt.Equal(*best.LastOutboundAt) && c.Tenant < best.Tenant {
			best = c
		}
	}
	if best == nil {
		return DefaultTenant
	}
	return TenantOr(best.Tenant)
}
