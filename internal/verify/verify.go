// Package verify runs one-time-code verifications: start (send a code), check, cancel, resend
// within the lifetime (the same code, as Twilio Verify does), with per-phone, per-IP, per-user
// and per-country rate limits shared through the store, geo permissions, SMS-pumping protection,
// a safe list, a durable record of every refusal, and channel fallback from SMS to WhatsApp or
// a voice call.
//
// Two backends sit behind the same service, chosen by configuration:
//   - builtin: codes from crypto/rand, kept as a keyed hash plus a sealed copy (see Codec), sent
//     through Switchboard's own outbox as category otp messages (so they get the dispatcher's
//     retries, rate limits, callbacks and timelines) by SMS or by WhatsApp (a catalog content
//     template whose one variable is the code, see Config.WhatsAppTemplate), or read by a voice
//     call;
//   - twilio: Twilio Verify v2, which generates, sends and checks the code itself; Switchboard
//     keeps a mirror of each verification, and applies its own limits and fraud rules before
//     Twilio is called.
//
// The code never appears in logs, metrics or events; the only places it exists are the sealed
// column, the body of the otp message in the outbox (it has to be sent) with, on WhatsApp, its
// content variables, and the TwiML handed to the Caller.
package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/templates"
)

// Backend names.
const (
	BackendBuiltin = "builtin"
	BackendTwilio  = "twilio"
)

// Caller places a voice call that plays twiml and returns the call's ID. The node supplies it
// (the voice part of Switchboard); nil disables the call channel.
type Caller interface {
	Call(ctx context.Context, to, from, twiml string) (id string, err error)
}

// Observer receives the service's measurements (internal/metrics). Labels are countries,
// channels, statuses and reasons: never numbers, never codes.
type Observer interface {
	VerificationStarted(country, channel string)
	VerificationApproved(country, channel string)
	VerificationFailed(country, channel, status string)
	VerificationRefused(reason string)
	VerificationFallback(from, to string)
}

// Window is one rate-limit window: at most Limit starts per Per.
type Window struct {
	Limit int
	Per   time.Duration
}

// Limits are the rate limits of verification starts, each dimension with its own windows.
type Limits struct {
	Phone, ClientIP, UserRef, Country []Window
}

// Pumping configures SMS-pumping protection: when the starts to one prefix that were not
// approved reach Threshold within Window (RiskyThreshold for premium-rate, shared-cost and
// unknown ranges), the prefix is blocked for BlockFor and a verification.fraud_alert event is
// written. A prefix is the number without its last DropDigits digits.
type Pumping struct {
	Window         time.Duration
	Threshold      int
	RiskyThreshold int
	BlockFor       time.Duration
	DropDigits     int
}

// Config configures a Service.
type Config struct {
	Store Store
	// Messages puts the otp messages into the outbox.
	Messages Messages
	Clock    switchboard.Clock
	Logger   *slog.Logger
	// Backend is BackendBuiltin (default) or BackendTwilio (Twilio must be set).
	Backend string
	Twilio  switchboard.VerifyProvider
	// Caller places voice calls (channel call and the fallback); nil: no calls.
	Caller Caller
	// Secret keys the code hash and seal of the builtin backend (at least MinSecretBytes).
	Secret []byte
	// From and Pool are the sender of otp messages and calls.
	From, Pool string
	CodeLength int           // default 6
	TTL        time.Duration // default 10 minutes
	MaxSends   int           // default 5
	MaxChecks  int           // default 5
	Limits     Limits
	// AllowedCountries, when not empty, are the only destination regions (ISO 3166-1 alpha-2).
	AllowedCountries []string
	// SafeList numbers (E.164) or prefixes ending in "*" bypass rate limits and pumping checks.
	SafeList []string
	Pumping  Pumping
	// WhatsAppTemplate names the catalog template (channel whatsapp, with a content_sid: an
	// approved authentication template) whose one variable is the code; the builtin backend
	// sends whatsapp codes with it. "" disables the whatsapp channel of the builtin backend.
	WhatsAppTemplate string
	// Templates returns the current template catalog (nil: none).
	Templates func() *templates.Catalog
	// SMSTemplate names the catalog template SMS codes are sent with (DefaultSMSTemplate when
	// empty): its variables code, app and minutes are filled in (those it declares). Without a
	// catalog or such a template, the built-in text is sent.
	SMSTemplate string
	// AppName is the application's name in code texts: the template's {{app}}, and the prefix
	// of the built-in text ("Acme: Your verification code is …"); "" names none.
	AppName string
	// Fallback lists the channels to move to, in order, when an SMS code is not delivered in
	// time (whatsapp is skipped unless WhatsAppTemplate is set, call unless Caller is).
	Fallback []switchboard.VerifyChannel
	// ErrorCodes is the SMS channel's provider (switchboard.ErrorCodes): the class of a failed
	// text's code names why it fell back; nil names only the code.
	ErrorCodes switchboard.ErrorCodes
	// FallbackAfter is how long an SMS code may go without a delivery receipt (default 60 s);
	// FallbackPoll is how often its delivery is looked at meanwhile (default 5 s).
	FallbackAfter, FallbackPoll time.Duration
	Observer                    Observer
	// OnMessage wakes the dispatcher after an otp message was put in the outbox.
	OnMessage func()
}

// Service runs verifications.
type Service struct {
	cfg Config
	// smsWarned holds the SMS templates already reported as not rendering (once per process).
	smsWarned sync.Map
	codec     *Codec
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Messages == nil {
		return nil, errors.New("verify: no Messages to put the codes' messages into the outbox")
	}
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backend == "" {
		cfg.Backend = BackendBuiltin
	}
	if cfg.CodeLength == 0 {
		cfg.CodeLength = 6
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.MaxSends <= 0 {
		cfg.MaxSends = 5
	}
	if cfg.MaxChecks <= 0 {
		cfg.MaxChecks = 5
	}
	if cfg.FallbackAfter <= 0 {
		cfg.FallbackAfter = time.Minute
	}
	if cfg.FallbackPoll <= 0 {
		cfg.FallbackPoll = 5 * time.Second
	}
	if cfg.Pumping.Window <= 0 {
		cfg.Pumping.Window = time.Hour
	}
	if cfg.Pumping.BlockFor <= 0 {
		cfg.Pumping.BlockFor = 24 * time.Hour
	}
	if cfg.Pumping.DropDigits <= 0 {
		cfg.Pumping.DropDigits = 4
	}
	if cfg.CodeLength < MinCodeLength || cfg.CodeLength > MaxCodeLength {
		return nil, fmt.Errorf("verify: code length %d is outside %d-%d", cfg.CodeLength, MinCodeLength, MaxCodeLength)
	}
	s := &Service{cfg: cfg}
	switch cfg.Backend {
	case BackendBuiltin:
		var err error
		if s.codec, err = NewCodec(cfg.Secret); err != nil {
			return nil, err
		}
		if cfg.From == "" {
			return nil, errors.New("verify: the builtin backend needs a sender (From)")
		}
	case BackendTwilio:
		if cfg.Twilio == nil {
			return nil, errors.New("verify: the twilio backend needs a Twilio Verify client")
		}
	default:
		return nil, fmt.Errorf("verify: unknown backend %q (builtin or twilio)", cfg.Backend)
	}
	return s, nil
}

// Backend returns the backend's name.
func (s *Service) Backend() string { return s.cfg.Backend }

// StartRequest is the body of POST /v1/verifications.
type StartRequest struct {
	To      string `json:"to"`
	Channel string `json:"channel,omitempty"`
	Locale  string `json:"locale,omitempty"`
	// UserRef is the application's reference of the user (for per-user limits).
	UserRef string `json:"user_ref,omitempty"`
	// ClientIP is the end user's IP address as the application saw it (for per-IP limits).
	ClientIP string `json:"client_ip,omitempty"`
	// Metadata is the application's references (job_id=1042), stored with a new verification
	// (within switchboard.CheckMetadata's limits) and searchable; a start that resends the
	// pending verification's code returns that verification with the metadata it was created with.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Limits of a start request.
const (
	maxUserRef = 128
	maxLocale  = 16
)

func invalid(code, format string, args ...any) error {
	return switchboard.Errorf(switchboard.EINVALID, code, format, args...)
}

// normalize validates a start request and returns it normalized.
func (s *Service) normalize(req StartRequest, tenant string) (StartRequest, switchboard.VerifyChannel, error) {
	to, err := content.NormalizePhone(req.To)
	if err != nil {
		if strings.TrimSpace(req.To) == "" {
			return req, "", invalid("missing_to", "to is required: the number to verify in E.164, such as +14155550100")
		}
		return req, "", err
	}
	req.To = to
	ch := switchboard.VerifyChannel(req.Channel)
	if ch == "" {
		ch = switchboard.VerifySMS
	}
	if !ch.Valid() {
		return req, "", invalid("invalid_channel", "channel must be sms, whatsapp or call")
	}
	if len(req.Locale) > maxLocale || strings.ContainsFunc(req.Locale, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_')
	}) {
		return req, "", invalid("invalid_locale", "locale must be a language tag such as en or pt-BR")
	}
	if len(req.UserRef) > maxUserRef || !utf8.ValidString(req.UserRef) || strings.ContainsRune(req.UserRef, 0) {
		return req, "", invalid("invalid_user_ref", "user_ref must be text of at most %d bytes", maxUserRef)
	}
	if err := switchboard.CheckMetadata(req.Metadata); err != nil {
		return req, "", err
	}
	if req.ClientIP != "" {
		ip := net.ParseIP(req.ClientIP)
		if ip == nil {
			return req, "", invalid("invalid_client_ip", "client_ip must be an IPv4 or IPv6 address")
		}
		req.ClientIP = ip.String()
	}
	switch {
	case ch == switchboard.VerifyWhatsApp && s.cfg.Backend == BackendBuiltin:
		if _, err := s.whatsappTemplate(tenant, req.Locale); err != nil {
			return req, "", err
		}
	case ch == switchboard.VerifyCall && s.cfg.Backend == BackendBuiltin && s.cfg.Caller == nil:
		return req, "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled", "the call channel is not enabled on this installation")
	}
	return req, ch, nil
}

// Start starts a verification of req.To, or resends the code of its pending one (the same
// code, the same verification), after the limits and fraud rules let it through. A refusal is
// a *switchboard.RefusedError carrying a support reference (and Retry-After for limits).
func (s *Service) Start(ctx context.Context, req StartRequest, apiKeyID string) (*switchboard.Verification, error) {
	return s.StartIn(ctx, req, "", apiKeyID)
}

// StartIn is Start for a key of tenant (empty: the default tenant).
//
// With the builtin backend a number has one pending verification per tenant: tenants verifying
// the same person each get their own verification and code, and neither's start, check,
// cancel, resend, expiry or fallback touches the other's, nor tells of it. With the twilio
// backend a number has one pending verification across tenants, because the node's one Twilio
// Verify service has one verification per number (a second start is a resend of it, with the
// same code): while one of another tenant is pending, a start is refused (409
// verification_pending) and learns nothing more of it, rather than making Twilio send that
// tenant's code again.
func (s *Service) StartIn(ctx context.Context, req StartRequest, tenant, apiKeyID string) (*switchboard.Verification, error) {
	if tenant == "" {
		tenant = switchboard.DefaultTenant
	}
	req, ch, err := s.normalize(req, tenant)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock()
	country := content.PhoneRegion(req.To)
	pending, err := s.cfg.Store.PendingVerification(ctx, s.pendingScope(tenant), req.To, now)
	if err != nil {
		return nil, err
	}
	if pending != nil && !sameTenant(pending.Tenant, tenant) {
		return nil, otherTenantPending(req.To)
	}
	if pending != nil && pending.Sends >= pending.MaxSends {
		return nil, s.maxSends(ctx, pending, now)
	}
	if err := s.admit(ctx, req, tenant, country, pending, now); err != nil {
		return nil, err
	}
	if pending != nil {
		return s.resend(ctx, pending, ch, now)
	}
	// A pending verification past its lifetime that nobody read yet still holds the number's
	// one pending place: expire it first.
	if stale, err := s.cfg.Store.PendingVerification(ctx, s.pendingScope(tenant), req.To, time.Time{}); err != nil {
		return nil, err
	} else if stale != nil {
		if _, err := s.get(ctx, stale.ID); err != nil {
			return nil, err
		}
	}
	return s.create(ctx, req, ch, country, tenant, apiKeyID, now)
}

// pendingScope is the tenant whose pending verification of a number holds the number's one
// pending place for a start of tenant: tenant's own with the builtin backend; every tenant's
// ("") with the twilio backend, whose Verify service has one verification per number.
func (s *Service) pendingScope(tenant string) string {
	if s.cfg.Backend == BackendTwilio {
		return ""
	}
	return tenant
}

// otherTenantPending refuses a start (twilio backend) while another tenant's verification of to
// is pending.
func otherTenantPending(to string) error {
	return switchboard.Errorf(switchboard.ECONFLICT, "verification_pending",
		"%s has a pending verification started by another tenant; try again when it ends", to)
}

// sameTenant compares tenants, an empty one being the default tenant.
func sameTenant(a, b string) bool {
	if a == "" {
		a = switchboard.DefaultTenant
	}
	if b == "" {
		b = switchboard.DefaultTenant
	}
	return a == b
}

// create stores a new verification and sends its first code.
func (s *Service) create(ctx context.Context, req StartRequest, ch switchboard.VerifyChannel, country, tenant, apiKeyID string, now time.Time) (*switchboard.Verification, error) {
	v := &switchboard.Verification{
		ID: switchboard.NewID("ver"), Status: switchboard.VerificationPending, To: req.To, Channel: ch, Locale: req.Locale,
		Country: country, UserRef: req.UserRef, ClientIP: req.ClientIP, Backend: s.cfg.Backend, CodeLength: s.cfg.CodeLength,
		MaxSends: s.cfg.MaxSends, MaxChecks: s.cfg.MaxChecks, ExpiresAt: now.Add(s.cfg.TTL), APIKeyID: apiKeyID, Tenant: tenant,
		CreatedAt: now, UpdatedAt: now, SendAttempts: []switchboard.VerificationSend{}, Metadata: maps.Clone(req.Metadata),
	}
	if s.cfg.Backend == BackendTwilio {
		sid, status, err := s.cfg.Twilio.StartVerification(ctx, v.To, string(ch), v.Locale)
		if err != nil {
			return nil, s.twilioError(err)
		}
		v.ProviderSID, v.Sends = sid, 1
		v.SendAttempts = append(v.SendAttempts, switchboard.VerificationSend{Channel: ch, Reason: "start", At: now})
		if st := switchboard.VerificationStatus(status); st.Valid() && st != switchboard.VerificationPending {
			v.Status = st
		}
		ev, err := switchboard.VerificationEvent(switchboard.AppVerificationStarted, v, now)
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Store.CreateVerification(ctx, v, []*switchboard.AppEvent{ev}); isPendingConflict(err) {
			// Another start for the number won the race; Twilio answered both with the one
			// verification, so this start was a resend of it (refused when the winner was
			// another tenant's: the store holds one pending mirror per Verify SID).
			return s.recordTwilioSend(ctx, v.To, v.Tenant, ch, now)
		} else if err != nil {
			return nil, err
		}
		s.started(v)
		return v, nil
	}
	code, err := NewCode(v.CodeLength)
	if err != nil {
		return nil, err
	}
	if v.CodeSalt, err = NewSalt(); err != nil {
		return nil, err
	}
	v.CodeHash = s.codec.Hash(v.CodeSalt, code)
	if v.CodeSealed, err = s.codec.Seal(v.ID, code); err != nil {
		return nil, err
	}
	// The verification is stored first and the code sent second: a crash between leaves a
	// pending verification whose resend sends the code, never a code nobody can check.
	send := s.planSend(v, ch, "start", now)
	v.Sends = 1
	v.SendAttempts = append(v.SendAttempts, send)
	ev, err := switchboard.VerificationEvent(switchboard.AppVerificationStarted, v, now)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.CreateVerification(ctx, v, []*switchboard.AppEvent{ev}); isPendingConflict(err) {
		// Another start for the number won the race (a double click): this one is a resend of
		// that verification's code, never a second code.
		pending, err := s.cfg.Store.PendingVerification(ctx, s.pendingScope(v.Tenant), v.To, now)
		if err != nil {
			return nil, err
		}
		if pending == nil {
			return nil, switchboard.Errorf(switchboard.ECONFLICT, "verification_conflict", "another verification of %s changed meanwhile; try again", v.To)
		}
		if !sameTenant(pending.Tenant, v.Tenant) {
			return nil, otherTenantPending(v.To)
		}
		return s.resend(ctx, pending, ch, now)
	} else if err != nil {
		return nil, err
	}
	if err := s.deliver(ctx, v, len(v.SendAttempts)-1, code, now); err != nil {
		if switchboard.ErrorCodeOf(err) == "call_failed" {
			// No code reached anyone: the verification is over, not pending in vain.
			v.Status, v.UpdatedAt = switchboard.VerificationFailed, now
			if evs, eerr := s.endEvents(v, now); eerr == nil {
				if uerr := s.cfg.Store.UpdateVerification(ctx, v, evs); uerr == nil {
					s.ended(ctx, v)
				}
			}
		}
		return nil, err
	}
	s.started(v)
	return v, nil
}

func (s *Service) started(v *switchboard.Verification) {
	s.cfg.Logger.Info("verification started", "verification_id", v.ID, "to", content.MaskPhone(v.To), "channel", v.Channel,
		"backend", v.Backend, "provider_sid", v.ProviderSID)
	if s.cfg.Observer != nil {
		s.cfg.Observer.VerificationStarted(v.Country, string(v.Channel))
	}
}

// planSend returns the send record of a code on channel ch; an SMS gets its message ID now, so
// that the stored verification names the message before it exists.
func (s *Service) planSend(v *switchboard.Verification, ch switchboard.VerifyChannel, reason string, now time.Time) switchboard.VerificationSend {
	send := switchboard.VerificationSend{Channel: ch, Reason: reason, At: now}
	v.Channel = ch
	if ch == switchboard.VerifyWhatsApp {
		send.MessageID = switchboard.NewID("msg")
	}
	if ch == switchboard.VerifySMS {
		send.MessageID = switchboard.NewID("msg")
		at := now.Add(min(s.cfg.FallbackPoll, s.cfg.FallbackAfter))
		if len(s.fallbackChannels(v)) > 0 {
			v.FallbackAt = &at
		}
	} else {
		v.FallbackAt = nil
	}
	return send
}

// deliver sends the code of send i of v: an otp message into the outbox, or a call. A call's ID
// is recorded on the verification afterwards.
func (s *Service) deliver(ctx context.Context, v *switchboard.Verification, i int, code string, now time.Time) error {
	send := v.SendAttempts[i]
	switch send.Channel {
	case switchboard.VerifySMS:
		return s.enqueueSMS(ctx, v, send.MessageID, code, now)
	case switchboard.VerifyWhatsApp:
		return s.enqueueWhatsApp(ctx, v, send.MessageID, code, now)
	case switchboard.VerifyCall:
		if s.cfg.Caller == nil {
			return switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled", "the call channel is not enabled on this installation")
		}
		id, err := s.cfg.Caller.Call(ctx, v.To, s.cfg.From, VoiceTwiML(code, v.Locale))
		if err != nil {
			s.cfg.Logger.Error("verification call failed", "verification_id", v.ID, "to", content.MaskPhone(v.To), "err", err)
			return switchboard.Errorf(switchboard.EUNAVAILABLE, "call_failed", "the call that reads the code could not be placed; try again or use sms")
		}
		for attempt := 0; attempt < 20; attempt++ {
			v.SendAttempts[i].CallID = id
			v.UpdatedAt = now
			err = s.cfg.Store.UpdateVerification(ctx, v, nil)
			if !switchboard.IsKind(err, switchboard.ECONFLICT) {
				return err
			}
			fresh, gerr := s.cfg.Store.GetVerification(ctx, v.ID)
			if gerr != nil || i >= len(fresh.SendAttempts) {
				return err
			}
			*v = *fresh
		}
		return err
	}
	return switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled", "the %s channel is not enabled on this installation", send.Channel)
}

// enqueueSMS puts the otp message of a code into the outbox. The message ID was chosen before
// the verification was stored; the idempotency key makes a repeated call create it once.
func (s *Service) enqueueSMS(ctx context.Context, v *switchboard.Verification, id, code string, now time.Time) error {
	if t := s.smsTemplate(v.Tenant, v.Locale); t != nil {
		vars := map[string]string{"code": code, "app": s.cfg.AppName, "minutes": strconv.Itoa(int(s.cfg.TTL / time.Minute))}
		for k := range vars {
			if t.Variable(k) == nil {
				delete(vars, k)
			}
		}
		body, err := t.Render(vars)
		if err == nil {
			return s.enqueue(ctx, v, id, switchboard.ChannelSMS, body, nil, t, now)
		}
		// A code is never lost to a template that does not fit (an app name over its
		// max_length, a variable it needs that verifications do not have): the built-in text goes.
		if _, warned := s.smsWarned.LoadOrStore(t.String(), true); !warned {
			s.cfg.Logger.Warn("verification SMS template does not render (is verify_app_name set?); sending the built-in text",
				"template", t.String(), "err", switchboard.ErrorMessage(err))
		}
	}
	body := fmt.Sprintf(smsBody(v.Locale), code, int(s.cfg.TTL/time.Minute))
	if s.cfg.AppName != "" {
		body = s.cfg.AppName + ": " + body
	}
	return s.enqueue(ctx, v, id, switchboard.ChannelSMS, body, nil, nil, now)
}

// DefaultSMSTemplate is the catalog template SMS codes are sent with when it exists.
const DefaultSMSTemplate = "signup_code"

// smsTemplate returns the catalog's SMS code template in locale's closest translation, as tenant
// sees the catalog (its override, else the shared template), or nil when there is no catalog, no
// such template, or it is not an SMS template.
func (s *Service) smsTemplate(tenant, locale string) *templates.Template {
	if s.cfg.Templates == nil {
		return nil
	}
	cat := s.cfg.Templates()
	if cat == nil {
		return nil
	}
	name := s.cfg.SMSTemplate
	if name == "" {
		name = DefaultSMSTemplate
	}
	tenant = switchboard.TenantOr(tenant)
	t, err := cat.LookupTenant(tenant, name, 0, locale)
	if err != nil && locale != "" {
		t, err = cat.LookupTenant(tenant, name, 0, "")
	}
	if err != nil || (t.Channel != "" && t.Channel != switchboard.ChannelSMS) || t.Variable("code") == nil {
		return nil
	}
	return t
}

// enqueue puts the otp message of a code on channel ch into the outbox (wa: its WhatsApp
// content template; tmpl: the catalog template it was rendered from, or nil).
func (s *Service) enqueue(ctx context.Context, v *switchboard.Verification, id string, ch switchboard.Channel, body string,
	wa *switchboard.WhatsAppOptions, tmpl *templates.Template, now time.Time) error {
	until := v.ExpiresAt
	detail := "one-time code of verification " + v.ID + " (expires " + until.Format(time.RFC3339) + ")"
	var name string
	var version int
	if tmpl != nil {
		name, version = tmpl.Name, tmpl.Version
		detail += ", from template " + tmpl.Name + " version " + strconv.Itoa(tmpl.Version)
		if tmpl.Tenant != "" {
			detail += ", tenant " + tmpl.Tenant + "'s override"
		}
	}
	spec := switchboard.MessageSpec{
		ID: id, Channel: ch, Category: switchboard.CategoryOTP, WhatsApp: wa, Template: name, TemplateVersion: version,
		To: v.To, From: s.cfg.From, Pool: s.cfg.Pool, Metadata: map[string]string{"verification_id": v.ID}, Body: body,
		ValidUntil: &until, APIKeyID: v.APIKeyID, Tenant: v.Tenant,
		Actor: "verify", Detail: detail,
	}
	idem := &switchboard.Idempotency{APIKeyID: "verify", Key: id, RequestHash: v.ID}
	if _, _, err := s.cfg.Messages.Create(ctx, spec, idem); err != nil {
		return err
	}
	if s.cfg.OnMessage != nil {
		s.cfg.OnMessage()
	}
	return nil
}

// resend sends the code of a pending verification again, on channel ch.
func (s *Service) resend(ctx context.Context, v *switchboard.Verification, ch switchboard.VerifyChannel, now time.Time) (*switchboard.Verification, error) {
	for attempt := 0; ; attempt++ {
		if v.Sends >= v.MaxSends {
			return nil, s.maxSends(ctx, v, now)
		}
		if s.cfg.Backend == BackendTwilio {
			if _, _, err := s.cfg.Twilio.StartVerification(ctx, v.To, string(ch), v.Locale); err != nil {
				return nil, s.twilioError(err)
			}
			return s.recordTwilioSend(ctx, v.To, v.Tenant, ch, now)
		}
		code, err := s.codec.Open(v.ID, v.CodeSealed)
		if err != nil {
			// The secret changed since the code was sealed: the old code cannot be sent again, so
			// the verification gets a new one (a person holding the old code must use the new).
			s.cfg.Logger.Warn("verification code cannot be unsealed (was the verify secret changed?); issuing a new code", "verification_id", v.ID)
			if code, err = NewCode(v.CodeLength); err != nil {
				return nil, err
			}
			v.CodeHash = s.codec.Hash(v.CodeSalt, code)
			if v.CodeSealed, err = s.codec.Seal(v.ID, code); err != nil {
				return nil, err
			}
		}
		if ch == switchboard.VerifyCall && s.cfg.Caller == nil {
			return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled", "the %s channel is not enabled on this installation", ch)
		}
		if ch == switchboard.VerifyWhatsApp {
			if _, err := s.whatsappTemplate(v.Tenant, v.Locale); err != nil {
				return nil, err
			}
		}
		send := s.planSend(v, ch, "resend", now)
		v.Sends++
		v.SendAttempts = append(v.SendAttempts, send)
		v.UpdatedAt = now
		err = s.cfg.Store.UpdateVerification(ctx, v, nil)
		if switchboard.IsKind(err, switchboard.ECONFLICT) && attempt < 20 {
			if v, err = s.cfg.Store.GetVerification(ctx, v.ID); err != nil {
				return nil, err
			}
			if v.Status != switchboard.VerificationPending {
				return nil, notPending(v)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.deliver(ctx, v, len(v.SendAttempts)-1, code, now); err != nil {
			return nil, err
		}
		s.cfg.Logger.Info("verification code sent again", "verification_id", v.ID, "channel", ch, "sends", v.Sends)
		return v, nil
	}
}

func isPendingConflict(err error) bool {
	return switchboard.IsKind(err, switchboard.ECONFLICT) && switchboard.ErrorCodeOf(err) == "verification_pending"
}

// recordTwilioSend records on the pending verification of to that Twilio Verify sent its code
// again on channel ch.
func (s *Service) recordTwilioSend(ctx context.Context, to, tenant string, ch switchboard.VerifyChannel, now time.Time) (*switchboard.Verification, error) {
	for attempt := 0; ; attempt++ {
		v, err := s.cfg.Store.PendingVerification(ctx, s.pendingScope(tenant), to, now)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, switchboard.Errorf(switchboard.ECONFLICT, "verification_conflict", "the verification of %s changed meanwhile; try again", to)
		}
		if !sameTenant(v.Tenant, tenant) {
			return nil, otherTenantPending(to)
		}
		v.Sends++
		v.Channel, v.UpdatedAt = ch, now
		v.SendAttempts = append(v.SendAttempts, switchboard.VerificationSend{Channel: ch, Reason: "resend", At: now})
		err = s.cfg.Store.UpdateVerification(ctx, v, nil)
		if switchboard.IsKind(err, switchboard.ECONFLICT) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// maxSends refuses another send of v's code.
func (s *Service) maxSends(ctx context.Context, v *switchboard.Verification, now time.Time) error {
	return s.refuse(ctx, refusal{reason: "max_sends_reached", kind: switchboard.ERATELIMITED, code: "max_sends_reached",
		detail:     fmt.Sprintf("the code of this verification was sent %d times, the most allowed; wait until it expires", v.Sends),
		retryAfter: v.ExpiresAt.Sub(now), tenant: v.Tenant, to: v.To, country: v.Country, userRef: v.UserRef, clientIP: v.ClientIP,
		verificationID: v.ID})
}

func notPending(v *switchboard.Verification) error {
	return switchboard.Errorf(switchboard.ECONFLICT, "verification_not_pending", "verification %s is %s; start a new one", v.ID, v.Status)
}

// CheckResult is the answer of a check.
type CheckResult struct {
	*switchboard.Verification
	// Valid is true when the code matched.
	Valid bool `json:"valid"`
}

// Check checks code against verification id. A wrong code answers Valid false with the
// verification still pending, until MaxChecks wrong codes make it max_attempts_reached. A check
// of a verification that is not pending (approved, expired...) is ECONFLICT
// verification_not_pending, as Twilio answers 20404.
func (s *Service) Check(ctx context.Context, id, code string) (*CheckResult, error) {
	if len(code) < MinCodeLength || len(code) > MaxCodeLength || strings.ContainsFunc(code, func(r rune) bool { return r < '0' || r > '9' }) {
		return nil, invalid("invalid_code", "code must be %d to %d digits", MinCodeLength, MaxCodeLength)
	}
	for attempt := 0; ; attempt++ {
		v, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if v.Status != switchboard.VerificationPending {
			return nil, notPending(v)
		}
		now := s.cfg.Clock()
		var match bool
		if s.cfg.Backend == BackendTwilio {
			status, err := s.cfg.Twilio.CheckVerification(ctx, v.ProviderSID, code)
			var pe *switchboard.ProviderError
			switch {
			case errors.As(err, &pe) && pe.Class == switchboard.ClassMaxAttempts:
				v.Checks = v.MaxChecks
				v.Status = switchboard.VerificationMaxAttemptsReached
			case errors.As(err, &pe) && pe.Class == switchboard.ClassNotFound:
				v.Status = switchboard.VerificationExpired
			case err != nil:
				return nil, s.twilioError(err)
			default:
				v.Checks++
				if st := switchboard.VerificationStatus(status); st.Valid() {
					v.Status = st
				}
				match = v.Status == switchboard.VerificationApproved
				if !match && v.Status == switchboard.VerificationPending && v.Checks >= v.MaxChecks {
					// Twilio refuses the next check with 60202; the mirror says so now, as the
					// builtin backend does.
					v.Status = switchboard.VerificationMaxAttemptsReached
				}
			}
		} else {
			v.Checks++
			match = s.codec.Match(v.CodeSalt, v.CodeHash, code)
			switch {
			case match:
				v.Status = switchboard.VerificationApproved
			case v.Checks >= v.MaxChecks:
				v.Status = switchboard.VerificationMaxAttemptsReached
			}
		}
		v.UpdatedAt = now
		if v.Status != switchboard.VerificationPending {
			v.FallbackAt = nil
		}
		evs, err := s.endEvents(v, now)
		if err != nil {
			return nil, err
		}
		err = s.cfg.Store.UpdateVerification(ctx, v, evs)
		if switchboard.IsKind(err, switchboard.ECONFLICT) && attempt < 20 {
			continue // another check came first: check again over its result
		}
		if err != nil {
			return nil, err
		}
		s.ended(ctx, v)
		if v.Status == switchboard.VerificationMaxAttemptsReached && !match {
			return nil, &switchboard.RefusedError{Err: switchboard.Errorf(switchboard.ERATELIMITED, "max_attempts_reached",
				"%d wrong codes: verification %s is over; start a new one", v.Checks, v.ID), RetryAfter: 0}
		}
		return &CheckResult{Verification: v, Valid: match}, nil
	}
}

// endEvents returns the events of v having reached its status (none while pending).
func (s *Service) endEvents(v *switchboard.Verification, now time.Time) ([]*switchboard.AppEvent, error) {
	var typ switchboard.AppEventType
	switch v.Status {
	case switchboard.VerificationPending:
		return nil, nil
	case switchboard.VerificationApproved:
		typ = switchboard.AppVerificationApproved
	default:
		typ = switchboard.AppVerificationFailed
	}
	ev, err := switchboard.VerificationEvent(typ, v, now)
	if err != nil {
		return nil, err
	}
	return []*switchboard.AppEvent{ev}, nil
}

// ended logs and measures a verification that reached a terminal status, and counts an
// approval for the pumping rule of its prefix.
func (s *Service) ended(ctx context.Context, v *switchboard.Verification) {
	if v.Status == switchboard.VerificationPending {
		return
	}
	s.cfg.Logger.Info("verification ended", "verification_id", v.ID, "status", v.Status, "checks", v.Checks, "sends", v.Sends)
	if v.Status == switchboard.VerificationApproved {
		if s.cfg.Observer != nil {
			s.cfg.Observer.VerificationApproved(v.Country, string(v.Channel))
		}
		if _, err := s.cfg.Store.HitRates(ctx, []switchboard.RateHit{{Key: "pump_ok:" + s.prefix(v.To), Window: s.cfg.Pumping.Window}}, s.cfg.Clock()); err != nil {
			s.cfg.Logger.Error("counting an approval for pumping protection", "verification_id", v.ID, "err", err)
		}
		return
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.VerificationFailed(v.Country, string(v.Channel), string(v.Status))
	}
}

// Cancel cancels a pending verification.
func (s *Service) Cancel(ctx context.Context, id string) (*switchboard.Verification, error) {
	for attempt := 0; ; attempt++ {
		v, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if v.Status != switchboard.VerificationPending {
			return nil, notPending(v)
		}
		if s.cfg.Backend == BackendTwilio {
			if _, err := s.cfg.Twilio.CancelVerification(ctx, v.ProviderSID); err != nil {
				var pe *switchboard.ProviderError
				if !errors.As(err, &pe) || pe.Class != switchboard.ClassNotFound {
					return nil, s.twilioError(err)
				}
			}
		}
		now := s.cfg.Clock()
		v.Status, v.UpdatedAt, v.FallbackAt = switchboard.VerificationCanceled, now, nil
		evs, err := s.endEvents(v, now)
		if err != nil {
			return nil, err
		}
		err = s.cfg.Store.UpdateVerification(ctx, v, evs)
		if switchboard.IsKind(err, switchboard.ECONFLICT) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.ended(ctx, v)
		return v, nil
	}
}

// Get returns a verification; a pending one past its lifetime is expired first.
func (s *Service) Get(ctx context.Context, id string) (*switchboard.Verification, error) {
	return s.get(ctx, id)
}

func (s *Service) get(ctx context.Context, id string) (*switchboard.Verification, error) {
	for attempt := 0; ; attempt++ {
		v, err := s.cfg.Store.GetVerification(ctx, id)
		if err != nil {
			return nil, err
		}
		now := s.cfg.Clock()
		if v.Status != switchboard.VerificationPending || now.Before(v.ExpiresAt) {
			return v, nil
		}
		v.Status, v.UpdatedAt, v.FallbackAt = switchboard.VerificationExpired, now, nil
		evs, err := s.endEvents(v, now)
		if err != nil {
			return nil, err
		}
		err = s.cfg.Store.UpdateVerification(ctx, v, evs)
		if switchboard.IsKind(err, switchboard.ECONFLICT) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.ended(ctx, v)
		return v, nil
	}
}

// twilioError turns a hosted verification's error into an application error by its class (the
// provider's code is only logged and named).
func (s *Service) twilioError(err error) error {
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Class {
	case switchboard.ClassInvalidParameter:
		return switchboard.Errorf(switchboard.EINVALID, "invalid_parameter", "Twilio Verify refused a parameter: %s", pe.Message)
	case switchboard.ClassMaxAttempts:
		return switchboard.Errorf(switchboard.ERATELIMITED, "max_attempts_reached", "too many checks of this verification")
	case switchboard.ClassMaxSends:
		return &switchboard.RefusedError{Err: switchboard.Errorf(switchboard.ERATELIMITED, "max_sends_reached", "the code was sent the most times allowed; wait until it expires"), RetryAfter: s.cfg.TTL}
	case switchboard.ClassBusy:
		return &switchboard.RefusedError{Err: switchboard.Errorf(switchboard.ERATELIMITED, "too_many_concurrent_requests", "too many concurrent requests for this number; try again shortly"), RetryAfter: 5 * time.Second}
	case switchboard.ClassNotFound:
		return switchboard.Errorf(switchboard.ENOTFOUND, "verification_not_found", "Twilio Verify does not know this verification (approved or expired)")
	}
	s.cfg.Logger.Error("twilio verify", "class", pe.Class, "code", pe.Code, "http_status", pe.HTTPStatus, "err", err)
	return switchboard.Errorf(switchboard.EUNAVAILABLE, "provider_unavailable", "Twilio Verify failed (%d); try again", pe.Code)
}
