// Package twilio is Switchboard's Twilio provider: sending, fetching and finding messages through
// Twilio's REST API (with the official twilio-go client), keeping the senders' inbound webhooks
// pointed at Switchboard, classifying every failure into a dispatcher outcome, and explaining
// Twilio's error codes. It also parses Twilio's webhook forms for the webhook ingress.
//
// It is the only package that imports twilio-go. Only the client and 2010 API packages are
// imported, not the SDK's root package, which pulls in every Twilio product and doubles the build.
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Defaults and bounds.
const (
	// DefaultTimeout bounds one HTTP request to Twilio when Config.Timeout is not set.
	DefaultTimeout = 10 * time.Second
	// MaxFind bounds how many messages Find returns; reconciliation asks about one recipient and
	// one sender over a few minutes, so more means the query is wrong.
	MaxFind = 1000
	// maxValiditySeconds is Twilio's upper bound (and default) for ValidityPeriod.
	maxValiditySeconds = 36000
	// findSlack widens Find's time window: clocks of Switchboard and Twilio differ a little.
	findSlack = time.Minute
)

// Config configures the Twilio provider.
type Config struct {
	// AccountSID is the account messages are sent from (TWILIO_ACCOUNT_SID).
	AccountSID string
	// AuthToken authenticates as the account (TWILIO_AUTH_TOKEN), unless APIKey is set.
	AuthToken string
	// APIKey and APISecret authenticate with an API key (TWILIO_API_KEY, TWILIO_API_SECRET);
	// they take precedence over AuthToken.
	APIKey    string
	APISecret string
	// BaseURL, when set, receives every request instead of Twilio (SWITCHBOARD_TWILIO_BASE_URL):
	// the scheme and host of api.twilio.com etc. are rewritten to BaseURL's, e.g.
	// http://127.0.0.1:9099 for `switchboard sim`.
	BaseURL string
	// Timeout bounds each HTTP request, response body included; DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient is an optional base client; only its Transport is used. Timeouts, redirects
	// (never followed) and retries (none: the dispatcher retries) are the provider's own.
	HTTPClient *http.Client
	// Logger receives the provider's logs; nothing is logged when nil.
	Logger *slog.Logger
	// Clock is this node's own clock, against which the Date header of Twilio's answers gives
	// Twilio's clock offset (ClockOffset); the system clock when nil.
	Clock switchboard.Clock
}

// Provider sends messages through Twilio. It is safe for concurrent use.
type Provider struct {
	accountSID string
	username   string
	password   string
	timeout    time.Duration
	transport  http.RoundTripper
	log        *slog.Logger
	clock      switchboard.Clock

	// dateOffset is Twilio's clock minus ours (ns), from the last answer's Date header; dateSeen
	// says whether one was read.
	dateOffset atomic.Int64
	dateSeen   atomic.Bool
}

var _ switchboard.Provider = (*Provider)(nil)

// alphanumeric is twilio-go's own rule for credentials (client.validateCredentials): anything else
// is refused at every request with a 21222/21224 error, so it is refused here, once, at start-up.
var alphanumeric = regexp.MustCompile(`^[a-zA-Z0-9]*$`)

// New returns a Twilio provider after checking the configuration. Error messages name the setting
// at fault and never contain a secret.
func New(cfg Config) (*Provider, error) {
	p := &Provider{accountSID: cfg.AccountSID, timeout: cfg.Timeout, log: cfg.Logger, clock: cfg.Clock}
	if p.clock == nil {
		p.clock = switchboard.SystemClock
	}
	if err := checkCredential("TWILIO_ACCOUNT_SID", cfg.AccountSID); err != nil {
		return nil, err
	}
	if strings.HasPrefix(cfg.AccountSID, "SK") {
		return nil, errors.New("twilio: TWILIO_ACCOUNT_SID looks like an API key SID (SK...); " +
			"set the account SID (AC...) there and the key in TWILIO_API_KEY")
	}
	if cfg.APIKey != "" || cfg.APISecret != "" {
		if err := checkCredential("TWILIO_API_KEY", cfg.APIKey); err != nil {
			return nil, err
		}
		if err := checkCredential("TWILIO_API_SECRET", cfg.APISecret); err != nil {
			return nil, err
		}
		p.username, p.password = cfg.APIKey, cfg.APISecret
	} else {
		if err := checkCredential("TWILIO_AUTH_TOKEN", cfg.AuthToken); err != nil {
			return nil, fmt.Errorf("%w (or set TWILIO_API_KEY and TWILIO_API_SECRET)", err)
		}
		p.username, p.password = cfg.AccountSID, cfg.AuthToken
	}
	if p.timeout < 0 {
		return nil, errors.New("twilio: timeout must not be negative")
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	p.transport = defaultTransport()
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		p.transport = cfg.HTTPClient.Transport
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("twilio: SWITCHBOARD_TWILIO_BASE_URL %q must be an http(s) URL "+
				"with a host and no query, e.g. http://127.0.0.1:9099", cfg.BaseURL)
		}
		p.transport = &RewriteTransport{Base: u, Next: p.transport}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With(slog.String("provider", "twilio"))
	return p, nil
}

// defaultTransport is http.DefaultTransport with a larger idle pool: the default keeps 2 idle
// connections per host, and the dispatcher sends to a single host from many goroutines, so most
// requests would open (and leave in TIME_WAIT) a new connection.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return t
}

// checkCredential checks one credential without ever echoing its value.
func checkCredential(name, value string) error {
	if value == "" {
		return fmt.Errorf("twilio: %s is required", name)
	}
	if !alphanumeric.MatchString(value) {
		return fmt.Errorf("twilio: %s must contain only letters and digits "+
			"(check for quotes, spaces or a trailing newline)", name)
	}
	return nil
}

// Name implements switchboard.Provider.
func (p *Provider) Name() string { return "twilio" }

// ErrorClass implements switchboard.ErrorCodes with Class.
func (p *Provider) ErrorClass(code int) switchboard.ErrorClass { return Class(code) }

// ErrorCode implements switchboard.ErrorCodes with Code.
func (p *Provider) ErrorCode(class switchboard.ErrorClass) int { return Code(class) }

// api returns a twilio-go API client whose requests are bound to ctx and the per-request timeout,
// and the trace the classifier reads after a failure. A client per call is cheap (a few small
// structs; connections are pooled in the shared transport) and is the only way to give twilio-go,
// which builds its requests with context.Background(), a context.
func (p *Provider) api(ctx context.Context) (*openapi.ApiService, *callTrace) {
	tr := &callTrace{}
	c := &client.Client{
		Credentials: client.NewCredentials(p.username, p.password),
		HTTPClient: &http.Client{
			Transport: &callTransport{ctx: ctx, timeout: p.timeout, next: p.transport, trace: tr, clock: p.clock, date: p.observeDate},
			// As twilio-go's default client: never follow a redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		UserAgentExtensions: []string{"switchboard/" + switchboard.Version},
	}
	c.SetAccountSid(p.accountSID)
	h := client.NewRequestHandler(c)
	// twilio-go reads TWILIO_EDGE and TWILIO_REGION from the environment and rewrites hosts with
	// them; Switchboard's settings are its own, so where requests go never depends on them.
	h.Edge, h.Region = "", ""
	return openapi.NewApiService(h), tr
}

// observeDate records Twilio's clock offset from an answer's Date header (RFC 9110: the second
// the answer was generated), read between sent and answered on our clock. The header has whole
// seconds, so the estimate is its middle second against the middle of the round trip: known
// within half a second plus half the round trip.
func (p *Provider) observeDate(date string, sent, answered time.Time) {
	d, err := http.ParseTime(date)
	if err != nil {
		return
	}
	mid := sent.Add(answered.Sub(sent) / 2)
	p.dateOffset.Store(int64(d.Add(500 * time.Millisecond).Sub(mid)))
	p.dateSeen.Store(true)
}

// ClockOffset is Twilio's clock minus this node's, from the Date header of the last answer, and
// whether any answer carried one.
func (p *Provider) ClockOffset() (time.Duration, bool) {
	return time.Duration(p.dateOffset.Load()), p.dateSeen.Load()
}

// isMessagingServiceSID tells a Messaging Service SID ("MG" and 32 more characters, hex digits at
// Twilio) from a sender number or an alphanumeric sender ID (at most 11 characters, so one that
// happens to start with "MG" is not mistaken for a service).
func isMessagingServiceSID(s string) bool {
	return len(s) == 34 && strings.HasPrefix(s, "MG") && alphanumeric.MatchString(s)
}

// validitySeconds converts a validity period to Twilio's ValidityPeriod: whole seconds, rounded up,
// within 1..36000; 0 (not sent) when d is not positive.
func validitySeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s := math.Ceil(d.Seconds())
	return int(min(max(s, 1), maxValiditySeconds))
}

// Send implements switchboard.Provider: it creates a Message at Twilio. From may be a number or a
// Messaging Service SID. A failure is a *switchboard.ProviderError (see classify for its Outcome).
func (p *Provider) Send(ctx context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	if req == nil {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_send", "no send request")
	}
	params := &openapi.CreateMessageParams{}
	params.SetTo(address(req.Channel, req.To))
	if isMessagingServiceSID(req.From) {
		params.SetMessagingServiceSid(req.From)
	} else {
		params.SetFrom(address(req.Channel, req.From))
	}
	if req.ContentSID != "" {
		// A content template replaces the body and media (Twilio: ContentSid, no Body/MediaUrl).
		params.SetContentSid(req.ContentSID)
		if req.ContentVariables != "" {
			params.SetContentVariables(req.ContentVariables)
		}
	} else {
		if req.Body != "" {
			params.SetBody(req.Body)
		}
		if len(req.MediaURLs) > 0 {
			params.SetMediaUrl(req.MediaURLs)
		}
	}
	if req.StatusCallback != "" {
		params.SetStatusCallback(req.StatusCallback)
	}
	if vp := validitySeconds(req.ValidityPeriod); vp > 0 {
		params.SetValidityPeriod(vp)
	}

	start := time.Now()
	api, tr := p.api(ctx)
	m, err := api.CreateMessage(params)
	attrs := []slog.Attr{
		slog.String("message_id", req.MessageID),
		slog.String("to", content.MaskPhone(req.To)),
		slog.String("from", content.MaskPhone(req.From)),
		slog.Duration("elapsed", time.Since(start)),
	}
	if err != nil {
		pe := classify(err, tr)
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio send failed", append(attrs,
			slog.Int("http_status", pe.HTTPStatus), slog.Int("code", pe.Code),
			slog.String("outcome", pe.Outcome.String()), slog.String("reason", reason(pe)))...)
		return nil, pe
	}
	pm := toProviderMessage(m)
	if pm.SID == "" {
		// A 2xx without a message SID: something answered, but not Twilio's Messages API as
		// documented. The message may exist; reconcile rather than resend.
		pe := &switchboard.ProviderError{
			Outcome:    switchboard.OutcomeAmbiguous,
			HTTPStatus: int(tr.status.Load()),
			Class:      switchboard.ClassNone,
			Message:    "response without a message SID",
			Explanation: "Twilio's answer did not name the created message, so the message may or may " +
				"not exist. Switchboard looks it up at Twilio before sending again. Check " +
				"SWITCHBOARD_TWILIO_BASE_URL if it is set.",
			Raw: pm.Raw,
		}
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio send answered without a SID", attrs...)
		return nil, pe
	}
	if pm.Status == "" {
		// Created, with a status word this table does not know yet: it is at least handed over.
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio send: unknown status",
			append(attrs, slog.String("sid", pm.SID), slog.String("provider_status", pm.ProviderStatus))...)
		pm.Status = switchboard.StatusSending
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "twilio message created",
		append(attrs, slog.String("sid", pm.SID), slog.String("provider_status", pm.ProviderStatus))...)
	return pm, nil
}

// reason is a loggable summary of a provider error: never Twilio's message text, which can quote
// the phone number.
func reason(pe *switchboard.ProviderError) string {
	if pe.Err != nil {
		return pe.Message // our own words, from describeNetworkError or a status text
	}
	return LookupCode(pe.Code).Title
}

// Fetch implements switchboard.Provider: Twilio's view of one message. A failure is a
// *switchboard.ProviderError; an unknown SID is HTTP 404 with code 20404.
func (p *Provider) Fetch(ctx context.Context, sid string) (*switchboard.ProviderMessage, error) {
	if sid == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_sid", "no message SID to fetch")
	}
	api, tr := p.api(ctx)
	m, err := api.FetchMessage(sid, nil)
	if err != nil {
		pe := classify(err, tr)
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio fetch failed", slog.String("sid", sid),
			slog.Int("http_status", pe.HTTPStatus), slog.Int("code", pe.Code), slog.String("reason", reason(pe)))
		return nil, pe
	}
	return toProviderMessage(m), nil
}

// Find implements switchboard.Provider: the messages from q.From to q.To created at or after
// q.Since (less a minute of clock slack), for reconciling an attempt whose outcome is unknown.
// q.Since is compared with Twilio's date_created, on Twilio's clock: callers pass a bound that no
// clock difference can cross (the dispatcher: the message's creation less an hour), never the
// attempt's own time. At most MaxFind messages are returned; when Twilio lists that many, the
// ones found come with an EUNAVAILABLE error coded switchboard.CodeFindIncomplete, since the
// list may have stopped before the message looked for. When q.From is a Messaging Service SID,
// messages are matched on their messaging_service_sid, since their From is the number the
// service chose.
//
// Twilio filters lists only by the day of date_sent, so the query asks for that day onwards and
// the exact bound is applied here on date_created.
//
// [UNCONFIRMED] Whether Twilio's DateSent filter includes messages that are still queued
// (date_sent null) is not documented; if it does not, a message still queued at Twilio is missed.
func (p *Provider) Find(ctx context.Context, q switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	if q.To == "" && q.From == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_find", "find needs a To or a From")
	}
	params := &openapi.ListMessageParams{}
	if q.To != "" {
		params.SetTo(address(q.Channel, q.To))
	}
	service := ""
	if isMessagingServiceSID(q.From) {
		service = q.From
	} else if q.From != "" {
		params.SetFrom(address(q.Channel, q.From))
	}
	// No DateSent filter on the request: Twilio's is day-granular, and whether it includes a
	// message still in Twilio's queue (date_sent not set yet) is not documented — missing such a
	// message would mean sending it twice. To and From narrow the list enough; the cutoff on
	// date_created is applied here.
	var cutoff time.Time
	if !q.Since.IsZero() {
		cutoff = q.Since.Add(-findSlack)
	}
	params.SetPageSize(MaxFind)
	params.SetLimit(MaxFind)

	api, tr := p.api(ctx)
	list, err := api.ListMessage(params)
	if err != nil {
		pe := classify(err, tr)
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio find failed", slog.String("to", content.MaskPhone(q.To)),
			slog.String("from", content.MaskPhone(q.From)), slog.Int("http_status", pe.HTTPStatus),
			slog.Int("code", pe.Code), slog.String("reason", reason(pe)))
		return nil, pe
	}
	truncated := len(list) >= MaxFind
	if truncated {
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio find truncated", slog.Int("limit", MaxFind),
			slog.String("to", content.MaskPhone(q.To)), slog.String("from", content.MaskPhone(q.From)))
	}
	out := make([]*switchboard.ProviderMessage, 0, len(list))
	for i := range list {
		m := &list[i]
		if service != "" && deref(m.MessagingServiceSid) != service {
			continue
		}
		pm := toProviderMessage(m)
		// A message whose date cannot be read is kept: for reconciliation, missing a message that
		// was sent means sending it twice.
		if !cutoff.IsZero() && !pm.CreatedAt.IsZero() && pm.CreatedAt.Before(cutoff) {
			continue
		}
		out = append(out, pm)
	}
	if truncated {
		// The list may end before the message looked for: what was found is returned, but
		// "not found" cannot be concluded from it.
		return out, switchboard.Errorf(switchboard.EUNAVAILABLE, switchboard.CodeFindIncomplete,
			"the provider listed at least %d messages for this pair; the list may not hold the one looked for", MaxFind)
	}
	return out, nil
}

// SyncWebhooks points the inbound SMS webhook (SmsUrl, method POST) of each sender number at
// smsURL, through Twilio's IncomingPhoneNumbers API, changing only numbers that differ. Senders
// that are not phone numbers in E.164 form (Messaging Service SIDs, short codes, alphanumeric
// IDs, WhatsApp senders) are skipped: their webhooks are configured elsewhere. Every number is
// tried; the errors, each naming its number, are joined.
func (p *Provider) SyncWebhooks(ctx context.Context, numbers []string, smsURL string) error {
	if smsURL == "" {
		return errors.New("twilio: no SMS webhook URL to sync (is SWITCHBOARD_PUBLIC_URL set?)")
	}
	var errs []error
	for _, n := range numbers {
		if !isPhoneNumber(n) {
			p.log.LogAttrs(ctx, slog.LevelDebug, "twilio webhook sync: skipping sender that is not a number",
				slog.String("from", content.MaskPhone(n)))
			continue
		}
		if err := p.syncWebhook(ctx, n, smsURL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// phoneNumber matches an E.164 number.
var phoneNumber = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func isPhoneNumber(s string) bool { return phoneNumber.MatchString(s) }

func (p *Provider) syncWebhook(ctx context.Context, number, smsURL string) error {
	params := &openapi.ListIncomingPhoneNumberParams{}
	params.SetPhoneNumber(number)
	params.SetPageSize(50)
	params.SetLimit(50)
	api, tr := p.api(ctx)
	list, err := api.ListIncomingPhoneNumber(params)
	if err != nil {
		return fmt.Errorf("twilio: looking up sender %s: %w", number, classify(err, tr))
	}
	// Twilio's PhoneNumber filter also matches partial numbers: insist on the exact one.
	var found *openapi.ApiV2010IncomingPhoneNumber
	for i := range list {
		if deref(list[i].PhoneNumber) == number {
			found = &list[i]
			break
		}
	}
	if found == nil || deref(found.Sid) == "" {
		return fmt.Errorf("twilio: sender %s is not a phone number on Twilio account %s: "+
			"buy or port it into that account, or remove it from the senders", number, p.accountSID)
	}
	if deref(found.SmsUrl) == smsURL && strings.EqualFold(deref(found.SmsMethod), http.MethodPost) {
		p.log.LogAttrs(ctx, slog.LevelDebug, "twilio webhook already in place",
			slog.String("from", content.MaskPhone(number)), slog.String("sid", deref(found.Sid)))
		return nil
	}
	update := &openapi.UpdateIncomingPhoneNumberParams{}
	update.SetSmsUrl(smsURL)
	update.SetSmsMethod(http.MethodPost)
	api, tr = p.api(ctx)
	if _, err := api.UpdateIncomingPhoneNumber(deref(found.Sid), update); err != nil {
		return fmt.Errorf("twilio: setting the SMS webhook of sender %s: %w", number, classify(err, tr))
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "twilio webhook updated",
		slog.String("from", content.MaskPhone(number)), slog.String("sid", deref(found.Sid)),
		slog.String("sms_url", smsURL))
	return nil
}

// address is a number as Twilio addresses it on a channel: "whatsapp:+E164" for WhatsApp, the
// number itself otherwise. Switchboard keeps plain E.164 numbers everywhere else.
func address(ch switchboard.Channel, number string) string {
	if ch == switchboard.ChannelWhatsApp && number != "" && !strings.HasPrefix(number, whatsappPrefix) {
		return whatsappPrefix + number
	}
	return number
}

// toProviderMessage converts twilio-go's message. Status is empty when Twilio's status is not one
// MapStatus knows (an inbound message, or a status newer than this code); ProviderStatus always
// has Twilio's word. ErrorMessage explains the code from the code table, falling back to Twilio's
// own text for a code the table does not know.
func toProviderMessage(m *openapi.ApiV2010Message) *switchboard.ProviderMessage {
	raw, _ := json.Marshal(m) // cannot fail: strings, ints and a map decoded from JSON
	pm := &switchboard.ProviderMessage{
		SID:            deref(m.Sid),
		To:             strings.TrimPrefix(deref(m.To), whatsappPrefix),
		From:           strings.TrimPrefix(deref(m.From), whatsappPrefix),
		Body:           deref(m.Body),
		ProviderStatus: deref(m.Status),
		CreatedAt:      parseTime(deref(m.DateCreated)),
		Raw:            raw,
	}
	if s, ok := MapStatus(pm.ProviderStatus); ok {
		pm.Status = s
	}
	// A price Twilio reports that cannot be read is left out (nil: "not priced yet"), never
	// guessed; the message's raw payload keeps it.
	pm.Price, _ = switchboard.ParsePrice(deref(m.Price), deref(m.PriceUnit))
	if m.ErrorCode != nil && *m.ErrorCode != 0 {
		pm.ErrorCode = *m.ErrorCode
		info := LookupCode(pm.ErrorCode)
		pm.ErrorMessage = info.Describe()
		if !info.Known && deref(m.ErrorMessage) != "" {
			pm.ErrorMessage = deref(m.ErrorMessage)
		}
	}
	return pm
}

// parseTime reads Twilio's RFC 2822 timestamps ("Thu, 30 Jul 2015 20:12:31 +0000"); the zero
// time when s is empty or unreadable.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := mail.ParseDate(s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
