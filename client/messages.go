package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	switchboard "github.com/switchboard-gw/switchboard"
)

// Messages is the part of the API that sends and tracks messages. *Client implements it;
// applications can depend on it and substitute a fake in their tests.
type Messages interface {
	// Send asks the gateway to send a message and returns it as accepted (status queued or
	// scheduled). Accepted means durable: the gateway has stored it and will deliver or explain.
	Send(ctx context.Context, req *SendRequest) (*switchboard.Message, error)
	// Get returns a message with its timeline.
	Get(ctx context.Context, id string) (*switchboard.Message, error)
	// List returns one page of messages, newest first.
	List(ctx context.Context, opts ListOptions) (*MessagePage, error)
	// Cancel stops a message that has not yet been handed to the provider.
	Cancel(ctx context.Context, id string) (*switchboard.Message, error)
}

var _ Messages = (*Client)(nil)

// SendRequest is a message to send. To and one of Body, MediaURLs or Template are required; the
// zero value of every other field lets the gateway choose (its defaults are in the comments).
type SendRequest struct {
	// To is the recipient's number in E.164, such as "+14155550100".
	To string
	// Body is the text of the message.
	Body string
	// Template names a template of the gateway's catalog to render instead of Body, with
	// Variables; TemplateVersion picks a version (0: the current one) and Locale a translation.
	Template        string
	TemplateVersion int
	Locale          string
	Variables       map[string]string
	// From names the sender: a number or a Messaging Service SID configured on the gateway.
	// Leave it and Pool empty to use the default pool.
	From string
	// Pool names a group of senders; the gateway picks one, keeping each recipient on one sender.
	Pool string
	// Channel is sms (the default), mms or whatsapp.
	Channel switchboard.Channel
	// MediaURLs are public https URLs of media to attach (MMS, WhatsApp).
	MediaURLs []string
	// Category is transactional (the default), marketing or otp; consent and quiet-hour rules
	// depend on it.
	Category switchboard.Category
	// SendAt defers the message until that time.
	SendAt time.Time
	// Validity is how long the message may wait to be sent before it expires, counted from
	// SendAt or from now; it is sent in whole seconds, rounded up. Zero: the gateway's default.
	Validity time.Duration
	// Metadata is stored with the message and returned with it, for your own references.
	Metadata map[string]string
	// Timezone is the recipient's IANA time zone (such as "America/New_York") for quiet hours,
	// when the gateway cannot tell it from the number.
	Timezone string
	// Fallback (WhatsApp only) is switchboard.FallbackSMS to send the text by SMS when WhatsApp
	// fails or, with FallbackAfter, has not delivered it in time.
	Fallback      switchboard.FallbackPolicy
	FallbackAfter time.Duration

	// IdempotencyKey is sent as the Idempotency-Key header: the gateway answers a repeated
	// request with the same key with the message it accepted the first time, never a second
	// message. When empty, Send generates one for the call and reuses it on its own retries; set
	// it (for example to the ID of the event that caused the message) to retry safely across
	// calls and restarts. Reusing a key for a different request is refused with a 422.
	IdempotencyKey string
}

// sendBody is the JSON body of POST /v1/messages.
type sendBody struct {
	To              string               `json:"to,omitempty"`
	Body            string               `json:"body,omitempty"`
	Template        string               `json:"template,omitempty"`
	TemplateVersion int                  `json:"template_version,omitempty"`
	Locale          string               `json:"locale,omitempty"`
	Variables       map[string]string    `json:"variables,omitempty"`
	From            string               `json:"from,omitempty"`
	Pool            string               `json:"pool,omitempty"`
	Channel         switchboard.Channel  `json:"channel,omitempty"`
	MediaURLs       []string             `json:"media_urls,omitempty"`
	Category        switchboard.Category `json:"category,omitempty"`
	SendAt          time.Time            `json:"send_at,omitzero"`
	ValiditySeconds int64                `json:"validity_seconds,omitempty"`
	Metadata        map[string]string    `json:"metadata,omitempty"`
	Timezone        string               `json:"timezone,omitempty"`
	Fallback        string               `json:"fallback,omitempty"`
	FallbackAfter   int64                `json:"fallback_after_seconds,omitempty"`
}

func newSendBody(r *SendRequest) *sendBody {
	b := &sendBody{
		To: r.To, Body: r.Body, Template: r.Template, TemplateVersion: r.TemplateVersion,
		Locale: r.Locale, Variables: r.Variables, From: r.From, Pool: r.Pool, Channel: r.Channel,
		MediaURLs: r.MediaURLs, Category: r.Category, Metadata: r.Metadata, Timezone: r.Timezone,
	}
	if !r.SendAt.IsZero() {
		b.SendAt = r.SendAt.UTC()
	}
	if r.Validity > 0 {
		b.ValiditySeconds = int64((r.Validity + time.Second - 1) / time.Second)
	}
	b.Fallback = string(r.Fallback)
	if r.FallbackAfter > 0 {
		b.FallbackAfter = int64((r.FallbackAfter + time.Second - 1) / time.Second)
	}
	return b
}

// NewIdempotencyKey returns a new random idempotency key (a UUID version 7), for callers that want
// to keep the key of a Send to retry it later.
func NewIdempotencyKey() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Send asks the gateway to send a message and returns the message as accepted. See the package
// documentation for how it retries without ever sending twice.
func (c *Client) Send(ctx context.Context, req *SendRequest) (*switchboard.Message, error) {
	if req == nil {
		return nil, errors.New("switchboard: Send: nil request")
	}
	key := req.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	}
	var m switchboard.Message
	_, err := c.do(ctx, &request{
		method: http.MethodPost,
		path:   "/v1/messages",
		body:   newSendBody(req),
		header: http.Header{"Idempotency-Key": {key}},
	}, &m)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// Get returns the message with the given ID, with its timeline in Events, oldest first. A
// message that does not exist is an *Error for which IsNotFound reports true.
func (c *Client) Get(ctx context.Context, id string) (*switchboard.Message, error) {
	if id == "" {
		return nil, errors.New("switchboard: Get: empty message ID")
	}
	var m switchboard.Message
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/messages/" + url.PathEscape(id)}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Cancel stops a message that is still queued or scheduled and returns it, canceled. A message
// already handed to the provider, or finished, cannot be canceled: that is an *Error with status
// 409 and code "not_cancelable".
func (c *Client) Cancel(ctx context.Context, id string) (*switchboard.Message, error) {
	if id == "" {
		return nil, errors.New("switchboard: Cancel: empty message ID")
	}
	var m switchboard.Message
	attempts, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/messages/" + url.PathEscape(id) + "/cancel"}, &m)
	var e *Error
	if err != nil && attempts > 1 && errors.As(err, &e) && e.Status == http.StatusConflict {
		// An earlier attempt may have canceled it and lost its answer: look before reporting
		// a conflict.
		if got, gerr := c.Get(ctx, id); gerr == nil && got.Status == switchboard.StatusCanceled {
			return got, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// ListOptions selects the messages List returns. Zero fields do not filter.
type ListOptions struct {
	// Statuses keeps messages in any of these statuses.
	Statuses []switchboard.Status
	// To and From keep messages to that recipient or from that sender.
	To   string
	From string
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound the creation time.
	CreatedAfter  time.Time
	CreatedBefore time.Time
	// Metadata keeps messages whose metadata has this key with exactly this value (sent as
	// metadata[KEY]=VALUE). The gateway answers it from an index.
	Metadata *switchboard.MetadataMatch
	// Cursor continues a listing where the previous page ended: its NextCursor.
	Cursor string
	// Limit is the page size; zero lets the gateway choose.
	Limit int
}

func (o *ListOptions) query() url.Values {
	q := url.Values{}
	if len(o.Statuses) > 0 {
		s := make([]string, len(o.Statuses))
		for i, st := range o.Statuses {
			s[i] = string(st)
		}
		q.Set("status", strings.Join(s, ","))
	}
	if o.To != "" {
		q.Set("to", o.To)
	}
	if o.From != "" {
		q.Set("from", o.From)
	}
	if !o.CreatedAfter.IsZero() {
		q.Set("created_after", o.CreatedAfter.UTC().Format(time.RFC3339Nano))
	}
	if !o.CreatedBefore.IsZero() {
		q.Set("created_before", o.CreatedBefore.UTC().Format(time.RFC3339Nano))
	}
	if o.Metadata != nil {
		q.Set("metadata["+o.Metadata.Key+"]", o.Metadata.Value)
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// MessagePage is one page of a listing.
type MessagePage struct {
	// Messages are newest first. Listed messages carry no Events; Get a message for its timeline.
	Messages []*switchboard.Message `json:"messages"`
	// NextCursor continues the listing (as ListOptions.Cursor); empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// List returns one page of the messages opts selects, newest first. To walk every page, use All.
func (c *Client) List(ctx context.Context, opts ListOptions) (*MessagePage, error) {
	var p MessagePage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/messages", query: opts.query()}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// All returns an iterator over every message opts selects, newest first, fetching page after page
// as the loop asks for more:
//
//	for m, err := range c.All(ctx, client.ListOptions{Statuses: []switchboard.Status{"failed"}}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(m.ID, m.ErrorCode)
//	}
//
// An error is yielded once, with a nil message, and ends the iteration.
func (c *Client) All(ctx context.Context, opts ListOptions) iter.Seq2[*switchboard.Message, error] {
	return All(ctx, c, opts)
}

// All is Client.All for any Messages, so that code depending on the interface can iterate too.
func All(ctx context.Context, m Messages, opts ListOptions) iter.Seq2[*switchboard.Message, error] {
	return func(yield func(*switchboard.Message, error) bool) {
		for {
			page, err := m.List(ctx, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, msg := range page.Messages {
				if !yield(msg, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			if page.NextCursor == opts.Cursor {
				yield(nil, fmt.Errorf("switchboard: listing messages: the server returned cursor %q twice", opts.Cursor))
				return
			}
			opts.Cursor = page.NextCursor
		}
	}
}
