package twiliosim

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// Errors of Inbound.
var (
	// ErrInvalidInbound: from, to or body is missing or malformed.
	ErrInvalidInbound = errors.New("twiliosim: invalid inbound message")
	// ErrNumberNotOwned: the inbound message's To is not a number of the account.
	ErrNumberNotOwned = errors.New("twiliosim: number not owned by the account")
	// ErrNoSMSURL: the number has no SmsUrl to post the inbound webhook to.
	ErrNoSMSURL = errors.New("twiliosim: number has no SmsUrl")
)

// WebhookError is an inbound webhook that did not answer 2xx.
type WebhookError struct {
	URL        string
	StatusCode int    // 0 when the request itself failed
	Body       string // the start of the answer
	Err        error
}

// Error implements error.
func (e *WebhookError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("twiliosim: inbound webhook %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("twiliosim: inbound webhook %s answered %d", e.URL, e.StatusCode)
}

// Unwrap returns the transport error, if any.
func (e *WebhookError) Unwrap() error { return e.Err }

// InboundResult is what became of a simulated inbound message.
type InboundResult struct {
	SID           string   `json:"sid"`
	WebhookURL    string   `json:"webhook_url,omitempty"`
	WebhookStatus int      `json:"webhook_status,omitempty"`
	WebhookBody   string   `json:"webhook_body,omitempty"`
	Replies       []string `json:"replies,omitempty"` // SIDs of messages created from TwiML <Message> replies
}

// Inbound simulates a phone texting one of the account's numbers: the message is stored
// (direction inbound, status received) and a signed webhook is posted to the number's SmsUrl,
// with SmsMethod. It fails with ErrInvalidInbound, ErrNumberNotOwned, ErrNoSMSURL (the message
// is stored all the same) or a *WebhookError when the webhook did not answer 2xx. It is the same
// as POST /sim/v1/inbound.
func (s *Simulator) Inbound(ctx context.Context, from, to, body string, mediaURLs ...string) error {
	_, err := s.inbound(ctx, from, to, body, mediaURLs)
	return err
}

func (s *Simulator) inbound(ctx context.Context, from, to, body string, mediaURLs []string) (InboundResult, error) {
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if from == "" || to == "" {
		return InboundResult{}, fmt.Errorf("%w: from and to are required", ErrInvalidInbound)
	}
	if body == "" && len(mediaURLs) == 0 {
		return InboundResult{}, fmt.Errorf("%w: body or media_urls is required", ErrInvalidInbound)
	}
	if utf8.RuneCountInString(body) > maxBodyChars {
		return InboundResult{}, fmt.Errorf("%w: body over %d characters", ErrInvalidInbound, maxBodyChars)
	}
	for _, u := range mediaURLs {
		if !validCallbackURL(u) {
			return InboundResult{}, fmt.Errorf("%w: media URL %q is not an absolute http(s) URL", ErrInvalidInbound, u)
		}
	}
	fromChan, _ := splitChannel(from)
	_, toNumber := splitChannel(to)
	s.numMu.RLock()
	n, ok := s.numbers[toNumber]
	var num Number
	if ok {
		num = n.Number
	}
	s.numMu.RUnlock()
	if !ok {
		return InboundResult{}, fmt.Errorf("%w: %s", ErrNumberNotOwned, maskNumber(toNumber))
	}

	now := s.now()
	prefix := "SM"
	if len(mediaURLs) > 0 {
		prefix = "MM"
	}
	m := &message{Message: Message{
		SID:         newSID(prefix),
		AccountSID:  num.AccountSID,
		Direction:   directionInbound,
		From:        from,
		To:          to,
		Body:        body,
		MediaURLs:   mediaURLs,
		Status:      statusReceived,
		NumMedia:    len(mediaURLs),
		NumSegments: segmentsFor(body, len(mediaURLs), ""),
		DateCreated: now,
		DateUpdated: now,
		DateSent:    &now,
	}}
	if len(mediaURLs) > 0 {
		// An inbound MMS is "receiving" while its media arrives (SentDelay), then "received"
		// before its webhook is posted (the statuses of Twilio's Message resource; the
		// timing is ours).
		m.Status = statusReceiving
	}
	s.mu.Lock()
	s.insertLocked(m)
	s.mu.Unlock()
	if m.Status == statusReceiving {
		t := time.NewTimer(s.cfg.SentDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-s.done:
		}
		t.Stop()
		s.mu.Lock()
		m.Status, m.DateUpdated = statusReceived, s.now()
		s.mu.Unlock()
	}
	if fromChan == "whatsapp:" {
		s.openWindow(to, from, now)
	}
	optOutType := s.handleKeyword(to, from, body)
	res := InboundResult{SID: m.SID, WebhookURL: num.SMSURL}
	if num.SMSURL == "" {
		return res, fmt.Errorf("%w: %s", ErrNoSMSURL, maskNumber(toNumber))
	}

	v := url.Values{}
	v.Set("MessageSid", m.SID)
	v.Set("SmsSid", m.SID)
	v.Set("SmsMessageSid", m.SID)
	v.Set("AccountSid", num.AccountSID)
	v.Set("From", from)
	v.Set("To", to)
	v.Set("Body", body)
	v.Set("NumMedia", strconv.Itoa(len(mediaURLs)))
	v.Set("NumSegments", strconv.Itoa(m.NumSegments))
	v.Set("SmsStatus", statusReceived)
	v.Set("ApiVersion", apiVersion)
	if sv := s.serviceOfNumber(to); sv != "" {
		v.Set("MessagingServiceSid", sv) // the number is a sender of this service
	}
	if fromChan == "whatsapp:" {
		// WhatsApp webhooks carry the sender's WhatsApp ID (the number without "+") and profile
		// name (Twilio's WhatsApp webhook documentation); the name is the simulator's choice.
		_, n := splitChannel(from)
		v.Set("WaId", strings.TrimPrefix(n, "+"))
		v.Set("ProfileName", "Simulated User")
	} else {
		// Geographic parameters of SMS webhooks (Twilio's messaging webhook documentation):
		// the country from the calling code; city, state and zip are not known to the simulator
		// and are sent empty (our choice).
		for _, side := range []struct{ prefix, number string }{{"From", from}, {"To", to}} {
			v.Set(side.prefix+"Country", countryOf(side.number))
			v.Set(side.prefix+"State", "")
			v.Set(side.prefix+"City", "")
			v.Set(side.prefix+"Zip", "")
		}
	}
	if optOutType != "" {
		// Twilio adds OptOutType to the webhook of a keyword message (twilio-facts.md §5,
		// UNCONFIRMED there: sent for every keyword is our choice).
		v.Set("OptOutType", optOutType)
	}
	for i, u := range mediaURLs {
		v.Set("MediaUrl"+strconv.Itoa(i), u)
		v.Set("MediaContentType"+strconv.Itoa(i), mediaType(u))
	}

	status, raw, err := s.postWebhook(ctx, num.SMSURL, num.SMSMethod, v)
	if (err != nil || status < 200 || status > 299) && num.SMSFallbackURL != "" {
		// Twilio requests the SmsFallbackUrl when the SmsUrl fails, with ErrorCode 11200
		// ("HTTP retrieval failure") and ErrorUrl added (Twilio's IncomingPhoneNumber and
		// webhook documentation).
		res.WebhookURL = num.SMSFallbackURL
		v.Set("ErrorCode", "11200")
		v.Set("ErrorUrl", num.SMSURL)
		status, raw, err = s.postWebhook(ctx, num.SMSFallbackURL, num.SMSFallbackMethod, v)
		if err != nil {
			return res, &WebhookError{URL: num.SMSFallbackURL, Err: err}
		}
	} else if err != nil {
		return res, &WebhookError{URL: num.SMSURL, Err: err}
	}
	res.WebhookStatus, res.WebhookBody = status, string(raw)
	if status < 200 || status > 299 {
		return res, &WebhookError{URL: res.WebhookURL, StatusCode: status, Body: truncate(string(raw), 1024)}
	}
	res.Replies = s.twimlReplies(raw, to, from)
	return res, nil
}

// postWebhook requests an application URL with signed parameters (GET: in the query, the
// signature covering that URL) and returns the answer's status and the start of its body.
func (s *Simulator) postWebhook(ctx context.Context, rawURL, method string, v url.Values) (int, []byte, error) {
	target, _, _ := strings.Cut(rawURL, "#")
	var req *http.Request
	var err error
	if method == http.MethodGet {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + v.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err == nil {
			setWebhookHeaders(req, twiliosig.Sign(s.tokenOf(v.Get("AccountSid")), target, nil), randHex32())
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(v.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			setWebhookHeaders(req, twiliosig.Sign(s.tokenOf(v.Get("AccountSid")), target, v), randHex32())
		}
	}
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, raw, nil
}

// countryOf is the ISO country of a number, from its calling code: a few common ones, "" else
// (+1 is taken as US).
func countryOf(number string) string {
	_, n := splitChannel(number)
	for _, c := range []struct{ code, iso string }{
		{"+1", "US"}, {"+44", "GB"}, {"+33", "FR"}, {"+49", "DE"}, {"+34", "ES"}, {"+39", "IT"},
		{"+31", "NL"}, {"+61", "AU"}, {"+52", "MX"}, {"+55", "BR"}, {"+91", "IN"}, {"+81", "JP"},
	} {
		if strings.HasPrefix(n, c.code) {
			return c.iso
		}
	}
	return ""
}

// mediaType guesses a media URL's content type from its extension, as a handset's MMS would
// carry it; image/jpeg when unknown.
func mediaType(u string) string {
	p, err := url.Parse(u)
	if err == nil {
		if t := mime.TypeByExtension(path.Ext(p.Path)); t != "" {
			t, _, _ = strings.Cut(t, ";")
			return t
		}
	}
	return "image/jpeg"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// twiml is the part of a messaging TwiML answer the simulator acts on.
type twiml struct {
	XMLName  xml.Name `xml:"Response"`
	Messages []struct {
		To   string `xml:"to,attr"`
		From string `xml:"from,attr"`
		Text string `xml:",chardata"`
		Body string `xml:"Body"`
	} `xml:"Message"`
}

// twimlReplies creates an outbound-reply message for each <Message> of a TwiML answer and
// returns their SIDs. Replies go through the normal lifecycle (they have no status callback).
func (s *Simulator) twimlReplies(raw []byte, ourNumber, theirNumber string) []string {
	var t twiml
	if len(raw) == 0 || xml.Unmarshal(raw, &t) != nil {
		return nil
	}
	var sids []string
	for _, tm := range t.Messages {
		body := strings.TrimSpace(tm.Body)
		if body == "" {
			body = strings.TrimSpace(tm.Text)
		}
		if body == "" {
			continue
		}
		to, from := theirNumber, ourNumber
		if tm.To != "" {
			to = tm.To
		}
		if tm.From != "" {
			from = tm.From
		}
		sids = append(sids, s.storeReply(from, to, body, true))
	}
	return sids
}

// storeReply creates an outbound-reply message from our number to theirs and starts its
// lifecycle; it returns its SID. With checkOptOut, a reply to a person who opted out of our
// number is stored failed with 21610 and never delivered.
func (s *Simulator) storeReply(from, to, body string, checkOptOut bool) string {
	now := s.now()
	m := &message{Message: Message{
		SID:            newSID("SM"),
		AccountSID:     s.accountOfNumber(from),
		Direction:      directionReply,
		From:           from,
		To:             to,
		Body:           body,
		Status:         statusQueued,
		NumSegments:    segmentsFor(body, 0, ""),
		ValidityPeriod: maxValidityPeriod,
		DateCreated:    now,
		DateUpdated:    now,
	}}
	blocked := checkOptOut && s.blockedSend(from, "", to)
	if blocked {
		m.Status, m.ErrorCode, m.ErrorMessage = statusFailed, 21610, "Attempt to send to unsubscribed recipient"
	}
	s.mu.Lock()
	s.insertLocked(m)
	if !blocked {
		s.startLifecycleLocked(m)
	}
	s.mu.Unlock()
	return m.SID
}

// --- control API ---

type controlError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func writeControlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, controlError{Error: fmt.Sprintf(format, args...), Status: status})
}

// controlRoutes are the control API's routes, by "METHOD /path".
var controlRoutes = map[string]func(*Simulator, http.ResponseWriter, *http.Request){
	"GET /sim/v1/messages": (*Simulator).controlMessages,
	"POST /sim/v1/inbound": (*Simulator).controlInbound,
	"GET /sim/v1/numbers": func(s *Simulator, w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"numbers": s.Numbers()})
	},
	"POST /sim/v1/numbers": (*Simulator).controlNumbers,
	"GET /sim/v1/faults": func(s *Simulator, w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	},
	"POST /sim/v1/faults": (*Simulator).controlFaults,
	"GET /sim/v1/stats": func(s *Simulator, w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	},
	"POST /sim/v1/reset": func(s *Simulator, w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	},
}

// ControlRoutes returns the control API's routes as "METHOD /path", sorted, so that the API's
// OpenAPI document can be held to them.
func ControlRoutes() []string {
	return slices.Sorted(maps.Keys(controlRoutes))
}

func (s *Simulator) controlMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, from, status, dir := q.Get("to"), q.Get("from"), q.Get("status"), q.Get("direction")
	acct := q.Get("account_sid")
	all := s.Messages()
	out := make([]Message, 0, len(all))
	for _, m := range all {
		if (to == "" || m.To == to) && (from == "" || m.From == from) && (acct == "" || m.AccountSID == acct) &&
			(status == "" || m.Status == status) && (dir == "" || m.Direction == dir) {
			out = append(out, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// decodeBody reads a JSON object (unknown fields refused) or a form into dst, a pointer to a
// struct whose json tags name the form keys; "media_url" is accepted for "media_urls".
func decodeBody(r *http.Request, dst any) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return err
		}
		return decodeForm(r.PostForm, dst)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func decodeForm(form url.Values, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		vals, ok := form[name]
		if !ok && name == "media_urls" {
			vals, ok = form["media_url"]
		}
		if !ok || len(vals) == 0 {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			f = f.Elem()
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString(vals[0])
		case reflect.Slice:
			if f.Type().Elem().Kind() != reflect.String {
				return fmt.Errorf("%s: send it in a JSON body", name)
			}
			f.Set(reflect.ValueOf(slices.Clone(vals)))
		case reflect.Bool:
			b, err := strconv.ParseBool(vals[0])
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			f.SetBool(b)
		case reflect.Int:
			n, err := strconv.Atoi(vals[0])
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			f.SetInt(int64(n))
		case reflect.Float64:
			x, err := strconv.ParseFloat(vals[0], 64)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			f.SetFloat(x)
		}
	}
	return nil
}

type inboundRequest struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Body      string   `json:"body"`
	MediaURLs []string `json:"media_urls"`
	// Channel "whatsapp" addresses from and to as WhatsApp ("whatsapp:" prefixed).
	Channel string `json:"channel"`
}

func (s *Simulator) controlInbound(w http.ResponseWriter, r *http.Request) {
	var in inboundRequest
	if err := decodeBody(r, &in); err != nil {
		writeControlError(w, http.StatusBadRequest, "invalid body: %v", err)
		return
	}
	switch in.Channel {
	case "", "sms":
	case "whatsapp":
		in.From, in.To = whatsappAddress(in.From), whatsappAddress(in.To)
	default:
		writeControlError(w, http.StatusBadRequest, "channel must be sms or whatsapp")
		return
	}
	res, err := s.inbound(r.Context(), in.From, in.To, in.Body, in.MediaURLs)
	var we *WebhookError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, ErrInvalidInbound):
		writeControlError(w, http.StatusBadRequest, "%v", err)
	case errors.Is(err, ErrNumberNotOwned):
		writeControlError(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, ErrNoSMSURL):
		writeControlError(w, http.StatusConflict, "%v (message %s stored)", err, res.SID)
	case errors.As(err, &we):
		writeJSON(w, http.StatusBadGateway, struct {
			controlError
			InboundResult
		}{controlError{Error: err.Error(), Status: http.StatusBadGateway}, res})
	default:
		writeControlError(w, http.StatusInternalServerError, "%v", err)
	}
}

type numberRequest struct {
	Number               string  `json:"number"`
	SMSURL               *string `json:"sms_url"`
	SMSMethod            *string `json:"sms_method"`
	SMSFallbackURL       *string `json:"sms_fallback_url"`
	SMSFallbackMethod    *string `json:"sms_fallback_method"`
	VoiceURL             *string `json:"voice_url"`
	VoiceMethod          *string `json:"voice_method"`
	StatusCallback       *string `json:"status_callback"`
	StatusCallbackMethod *string `json:"status_callback_method"`
	FriendlyName         *string `json:"friendly_name"`
}

func (s *Simulator) controlNumbers(w http.ResponseWriter, r *http.Request) {
	var in numberRequest
	if err := decodeBody(r, &in); err != nil {
		writeControlError(w, http.StatusBadRequest, "invalid body: %v", err)
		return
	}
	n, created, err := s.upsertNumber(in.Number, numberUpdate{
		SMSURL: in.SMSURL, SMSMethod: in.SMSMethod,
		SMSFallbackURL: in.SMSFallbackURL, SMSFallbackMethod: in.SMSFallbackMethod,
		VoiceURL: in.VoiceURL, VoiceMethod: in.VoiceMethod,
		StatusCallback: in.StatusCallback, StatusCallbackMethod: in.StatusCallbackMethod,
		FriendlyName: in.FriendlyName,
	})
	if err != nil {
		writeControlError(w, http.StatusBadRequest, "%v", err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, n.Number)
}

func (s *Simulator) controlFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeBody(r, &f); err != nil {
		writeControlError(w, http.StatusBadRequest, "invalid body: %v", err)
		return
	}
	if err := f.validate(); err != nil {
		writeControlError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, f)
}

// validate checks that ratios are probabilities and durations and counts are sane.
func (f *Faults) validate() error {
	for name, r := range map[string]float64{
		"status_429_ratio": f.Status429Ratio, "status_500_ratio": f.Status500Ratio,
		"timeout_ratio": f.TimeoutRatio, "callback_drop_ratio": f.CallbackDropRatio,
		"failed_ratio": f.FailedRatio, "undelivered_ratio": f.UndeliveredRatio,
	} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("%s must be between 0 and 1", name)
		}
	}
	const maxMS = int(time.Hour / time.Millisecond)
	for name, ms := range map[string]int{
		"timeout_ms": f.TimeoutMS, "latency_ms": f.LatencyMS, "callback_delay_ms": f.CallbackDelayMS,
	} {
		if ms < 0 || ms > maxMS {
			return fmt.Errorf("%s must be between 0 and %d", name, maxMS)
		}
	}
	if f.PartiallyDeliveredRatio < 0 || f.PartiallyDeliveredRatio > 1 || math.IsNaN(f.PartiallyDeliveredRatio) {
		return errors.New("partially_delivered_ratio must be between 0 and 1")
	}
	if err := validateMix(f.CarrierErrors); err != nil {
		return err
	}
	if err := f.validateCarriers(); err != nil {
		return err
	}
	if err := validateCodeMix("whatsapp_errors", 63000, f.WhatsAppErrors); err != nil {
		return err
	}
	if f.ThroughputScale < 0 || f.ThroughputScale > 1e6 || math.IsNaN(f.ThroughputScale) {
		return errors.New("throughput_scale must be between 0 (off) and 1000000")
	}
	for n, mps := range f.SenderMPS {
		if mps <= 0 || mps > 1e6 || math.IsNaN(mps) {
			return fmt.Errorf("sender_mps: %s: must be above 0", maskNumber(n))
		}
	}
	if f.QueueHours < 0 || f.QueueHours > 1000 || math.IsNaN(f.QueueHours) {
		return errors.New("queue_hours must be between 0 (default 10) and 1000")
	}
	if f.CallbackDuplicates < 0 || f.CallbackDuplicates > 100 {
		return errors.New("callback_duplicates must be between 0 and 100")
	}
	for name, c := range map[string]int{"failed_code": f.FailedCode, "undelivered_code": f.UndeliveredCode} {
		if c < 0 {
			return fmt.Errorf("%s must be a Twilio error code", name)
		}
	}
	return nil
}
