// Package accept is Switchboard's one acceptance service: every outbound message is made here,
// whoever asks for it. The HTTP API and the dashboard send requests (Accept: validation, template
// rendering, sender choice, WhatsApp's window rule, quiet hours, consent, idempotency); the parts
// of Switchboard that send on their own behalf — keyword replies and routing auto-replies, a
// call's SMS and its fallback, WhatsApp's SMS leg, verification codes, the dashboard's retry —
// give a switchboard.MessageSpec (Create, CreateChecked). Every path makes its message with
// switchboard.NewMessage, so that every stored message has what the constructor sets (its body's
// hash, length, segments and encoding, its validity, its "created" event).
package accept

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/staging"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// DefaultValidity is how long a message stays valid when neither its request nor the
// configuration says.
const DefaultValidity = 10 * time.Hour

// Store is what acceptance needs of the store: it creates messages, and records the sticky
// sender of a recipient in a pool. Any switchboard.Store is one.
type Store interface {
	CreateMessage(ctx context.Context, m *switchboard.Message, idem *switchboard.Idempotency) (stored *switchboard.Message, replayed bool, err error)
	AssignSender(ctx context.Context, pool, to, preferred string, valid []string) (string, error)
}

// WhatsApp applies WhatsApp's rules to a message at acceptance (whatsapp.Service.Accept).
type WhatsApp interface {
	Accept(ctx context.Context, m *switchboard.Message, req whatsapp.Request) (note string, err error)
}

// Observer receives acceptance's measurements.
type Observer interface {
	MessageAccepted(m *switchboard.Message)
}

// RefusalObserver counts the requests refused by their tenant's quotas or environment
// (metrics), by stable code; the Observer is asked for it.
type RefusalObserver interface {
	TenantRefusal(code string)
}

// Config configures the acceptance service.
type Config struct {
	Store Store
	// Senders are the senders when LiveSenders is nil (a fixed set).
	Senders []switchboard.Sender
	// LiveSenders, when set, holds the current senders, which the node replaces when they change
	// (API edits, on any node): each request reads the set of its moment.
	LiveSenders *switchboard.LiveSenders
	Clock       switchboard.Clock
	Logger      *slog.Logger
	// DefaultValidity applies when a request sets no validity_seconds (DefaultValidity when 0).
	DefaultValidity time.Duration
	// Templates returns the current template catalog, or nil when none is configured.
	Templates func() *templates.Catalog
	// QuietHours hold requests' messages of some categories outside the recipient's daytime.
	QuietHours consent.QuietHours
	// Consent checks recipients' opt-outs at acceptance; nil checks nothing.
	Consent *consent.Service
	// Staging refuses what a staging tenant may not send (its allow-list, or the simulator
	// only) before anything is stored; nil checks nothing.
	Staging *staging.Guard
	// WhatsApp applies WhatsApp's window and fallback rules; nil refuses the whatsapp channel.
	WhatsApp WhatsApp
	// Observer receives measurements of requests accepted (metrics); nil observes nothing.
	Observer Observer
	// OnAccepted is called after a new message is committed, to wake the dispatcher.
	OnAccepted func()
}

// Service accepts messages. It is safe for concurrent use.
type Service struct {
	cfg Config
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultValidity <= 0 {
		cfg.DefaultValidity = DefaultValidity
	}
	if cfg.LiveSenders == nil {
		cfg.LiveSenders = switchboard.NewLiveSenders(cfg.Senders)
	}
	return &Service{cfg: cfg}
}

// senders is the current set of senders.
func (s *Service) senders() *switchboard.SenderSet { return s.cfg.LiveSenders.Load() }

// UseWhatsApp sets the WhatsApp rules after New: the WhatsApp service creates its SMS legs
// through this service, so one of the two is made first. Call it before the service is used.
func (s *Service) UseWhatsApp(w WhatsApp) { s.cfg.WhatsApp = w }

// Sender returns the configured sender with number from, and whether there is one.
func (s *Service) Sender(from string) (switchboard.Sender, bool) {
	return s.senders().Get(from)
}

// Create makes the message spec describes (switchboard.NewMessage) and stores it once per idem:
// a message Switchboard sends on its own behalf, such as a keyword reply, whose recipient's
// consent is checked when it is sent, not here (a STOP's confirmation goes to a person who just
// opted out).
func (s *Service) Create(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency) (*switchboard.Message, bool, error) {
	return s.create(ctx, spec, idem, false)
}

// CreateChecked is Create with the recipient's consent checked first, as for a request: the
// dashboard's retry and a call's SMS are refused (EUNPROCESSABLE) for a person who opted out.
func (s *Service) CreateChecked(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency) (*switchboard.Message, bool, error) {
	return s.create(ctx, spec, idem, true)
}

func (s *Service) create(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency, check bool) (*switchboard.Message, bool, error) {
	m, err := switchboard.NewMessage(spec, s.cfg.Clock())
	if err != nil {
		return nil, false, err
	}
	if check {
		// What an application asked for (a call's SMS, the dashboard's retry) is held to its
		// tenant's environment; Switchboard's own replies go to a person who wrote first.
		if err := s.cfg.Staging.Check(ctx, m.Tenant, m.To); err != nil {
			return nil, false, s.refused(err)
		}
	}
	if check && s.cfg.Consent != nil {
		if err := s.cfg.Consent.CheckAccept(ctx, m); err != nil {
			return nil, false, err
		}
	}
	stored, replayed, err := s.cfg.Store.CreateMessage(ctx, m, idem)
	if err != nil {
		return nil, false, s.refused(err)
	}
	if !replayed {
		s.cfg.Logger.Info("message created", "message_id", stored.ID, "actor", spec.Actor, "to", content.MaskPhone(stored.To),
			"from", stored.From, "segments", stored.Segments, "status", stored.Status)
		if s.cfg.OnAccepted != nil {
			s.cfg.OnAccepted()
		}
	}
	return stored, replayed, nil
}

// refused reports err's code to the RefusalObserver (which counts only the tenant refusals:
// quotas and environments) and returns it.
func (s *Service) refused(err error) error {
	if ro, ok := s.cfg.Observer.(RefusalObserver); ok {
		ro.TenantRefusal(switchboard.ErrorCodeOf(err))
	}
	return err
}

func invalid(code, format string, args ...any) error {
	return switchboard.Errorf(switchboard.EINVALID, code, format, args...)
}

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

// Request is a request to send a message: the body of POST /v1/messages, and what the
// dashboard's conversation replies send.
type Request struct {
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

// Accept validates req, checks consent and stores the message for key (or answers the one an
// earlier request of key with the same idempotency key stored): the API's POST /v1/messages, its
// conversation replies, and the dashboard's (for a key named after the operator).
func (s *Service) Accept(ctx context.Context, key *switchboard.APIKey, req *Request, idemKey string) (stored *switchboard.Message, replayed bool, err error) {
	// Hash the request as the application sent it, before rendering fills in the body.
	canon, _ := json.Marshal(req) // deterministic: struct fields in order, map keys sorted
	now := s.cfg.Clock()
	m, err := s.build(ctx, key, req, now)
	if err != nil {
		return nil, false, err
	}
	// A staging tenant's message to someone it may not reach is refused before anything is
	// stored or sent (issue 18: environments).
	if err := s.cfg.Staging.Check(ctx, m.Tenant, m.To); err != nil {
		return nil, false, s.refused(err)
	}
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
		return nil, false, s.refused(err) // quota_exceeded, spend_cap_reached: the store's quotas
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

// build validates a request and turns it into a new message. It changes nothing.
func (s *Service) build(ctx context.Context, key *switchboard.APIKey, req *Request, now time.Time) (*switchboard.Message, error) {
	to, err := content.NormalizePhone(req.To)
	if err != nil {
		if req.To == "" {
			return nil, invalid("missing_to", "to is required: the recipient's number in E.164, such as +14155550100")
		}
		return nil, err
	}
	rendered, err := s.render(req, keyTenant(key))
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
	from, pool, err := s.chooseSender(ctx, req, to, keyTenant(key))
	if err != nil {
		return nil, err
	}
	if from == to {
		return nil, invalid("to_is_sender", "to is the sender's own number %s (Twilio would refuse it with 21266)", from)
	}

	validity := s.cfg.DefaultValidity
	if req.ValiditySeconds > 0 {
		validity = time.Duration(req.ValiditySeconds) * time.Second
	}
	spec := switchboard.MessageSpec{
		Channel: channel, Category: category, To: to, From: from, Pool: pool, Body: req.Body,
		MediaURLs: req.MediaURLs, Metadata: req.Metadata, Timezone: req.Timezone, SendAt: req.SendAt,
		Validity: validity, APIKeyID: key.ID, Tenant: key.Tenant, Actor: "api:" + key.Name,
	}
	if rendered != nil {
		spec.Template, spec.TemplateVersion = rendered.Template, rendered.Version
	}
	m, err := switchboard.NewMessage(spec, now)
	if err != nil {
		return nil, err
	}
	start, until := m.NextAttemptAt, *m.ValidUntil
	detail := "accepted"
	if rendered != nil {
		detail += fmt.Sprintf(" from template %s version %d (%s)", rendered.Template, rendered.Version, rendered.Locale)
		if rendered.Tenant != "" {
			detail += ", tenant " + rendered.Tenant + "'s override"
		}
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
	m.Events[0].Detail = detail
	return m, nil
}

// render renders the template a request names, as tenant sees the catalog (its override of
// that name, else the shared template), into its body (req.Body is set from it), or returns nil
// for a request without a template.
func (s *Service) render(req *Request, tenant string) (*templates.Result, error) {
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
	res, err := cat.RenderTenant(tenant, req.Template, req.TemplateVersion, req.Locale, req.Variables)
	if err != nil {
		return nil, err
	}
	req.Body = res.Body
	return res, nil
}

// keyTenant is the tenant a request's key acts for (DefaultTenant for a key without one).
func keyTenant(key *switchboard.APIKey) string {
	if key == nil || key.Tenant == "" {
		return switchboard.DefaultTenant
	}
	return key.Tenant
}

// chooseSender picks the message's sender among those tenant may send from (a sender that names
// no tenants is every tenant's): the one it names, or the sticky sender of its recipient in the
// pool it names (the default pool otherwise).
func (s *Service) chooseSender(ctx context.Context, req *Request, to, tenant string) (from, pool string, err error) {
	named := req.From
	if named == "" {
		named = req.Sender
	} else if req.Sender != "" && req.Sender != req.From {
		return "", "", invalid("invalid_sender", "from and sender name different senders")
	}
	set := s.senders()
	if named != "" {
		snd, ok := set.Get(named)
		if !ok {
			return "", "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_sender", "%s is not a configured sender", named)
		}
		if !snd.AllowsTenant(tenant) {
			return "", "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_sender", "%s is not a sender of tenant %s", named, tenant)
		}
		if req.Pool != "" && req.Pool != snd.Pool {
			return "", "", invalid("invalid_sender", "sender %s is not in pool %q", named, req.Pool)
		}
		return snd.From, snd.Pool, nil
	}
	pool = req.Pool
	if pool == "" {
		pool = set.DefaultPoolName()
	}
	members := set.Pool(pool)
	if len(members) == 0 {
		return "", "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_pool", "pool %q has no senders", pool)
	}
	if members = tenantMembers(set, members, tenant); len(members) == 0 {
		return "", "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "unknown_pool", "pool %q has no senders of tenant %s", pool, tenant)
	}
	if len(members) == 1 {
		return members[0], pool, nil
	}
	from, err = s.cfg.Store.AssignSender(ctx, pool, to, rendezvous(to, members), members)
	return from, pool, err
}

// tenantMembers returns the members of a pool that tenant may send from, in order: members
// itself, without allocating, when every member is the tenant's (the common case).
func tenantMembers(set *switchboard.SenderSet, members []string, tenant string) []string {
	for i, m := range members {
		if snd, _ := set.Get(m); snd.AllowsTenant(tenant) {
			continue
		}
		out := append(make([]string, 0, len(members)-1), members[:i]...)
		for _, m := range members[i+1:] {
			if snd, _ := set.Get(m); snd.AllowsTenant(tenant) {
				out = append(out, m)
			}
		}
		return out
	}
	return members
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

// acceptanceNote explains, for the created event of the timeline, what acceptance checked and
// decided beyond the body: the API key, the idempotency key, how the sender was chosen, the
// segments and the consent checks.
func (s *Service) acceptanceNote(key *switchboard.APIKey, req *Request, m *switchboard.Message, idemKey string) string {
	var b strings.Builder
	if key != nil {
		fmt.Fprintf(&b, "; API key %q (%s)", key.Name, key.ID)
	}
	if idemKey != "" {
		if len(idemKey) > 80 {
			idemKey = idemKey[:80] + "…"
		}
		fmt.Fprintf(&b, "; idempotency key %q", idemKey)
	} else {
		b.WriteString("; no idempotency key")
	}
	switch {
	case req.From != "" || req.Sender != "":
		fmt.Fprintf(&b, "; sender %s named by the request", m.From)
	case len(s.senders().Pool(m.Pool)) > 1:
		fmt.Fprintf(&b, "; sender %s: the sticky sender of this recipient in pool %q (%d senders)", m.From, m.Pool, len(s.senders().Pool(m.Pool)))
	default:
		fmt.Fprintf(&b, "; sender %s: the only sender of pool %q", m.From, m.Pool)
	}
	fmt.Fprintf(&b, "; %d segment(s), %s", m.Segments, m.Encoding)
	if s.cfg.Consent != nil {
		if s.cfg.Consent.RequireOptIn[m.Category] {
			fmt.Fprintf(&b, "; consent: no opt-out on record, opt-in on record (required for %s)", m.Category)
		} else {
			fmt.Fprintf(&b, "; consent: no opt-out on record (%s needs no opt-in)", m.Category)
		}
	}
	return b.String()
}
