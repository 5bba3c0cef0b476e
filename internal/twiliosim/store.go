package twiliosim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Twilio's message statuses.
const (
	statusAccepted    = "accepted"
	statusScheduled   = "scheduled"
	statusQueued      = "queued"
	statusSending     = "sending"
	statusSent        = "sent"
	statusDelivered   = "delivered"
	statusUndelivered = "undelivered"
	statusFailed      = "failed"
	statusCanceled    = "canceled"
	statusReceived    = "received"
	statusRead        = "read"
	statusReceiving   = "receiving"
	statusPartially   = "partially_delivered"
)

// Message directions.
const (
	directionInbound     = "inbound"
	directionOutboundAPI = "outbound-api"
	directionReply       = "outbound-reply"
)

const apiVersion = "2010-04-01"

// finalStatus reports whether a status no longer changes in the simulator.
func finalStatus(s string) bool {
	switch s {
	case statusDelivered, statusUndelivered, statusFailed, statusCanceled, statusReceived, statusRead, statusPartially:
		return true
	}
	return false
}

// message is a stored message. Its Message fields are guarded by Simulator.mu.
type message struct {
	Message
	seq        uint64
	validUntil time.Time        // real time after which a queued message expires
	held       []*callbackEvent // callbacks held back by the shuffle fault
	failCode   int              // WhatsApp: the error the message fails with while sending
	noDelivery bool             // WhatsApp: sent, never delivered
	drawKey    uint64           // keys the message's fault draws under a traffic profile (profile_run.go)
	overflow   bool             // the sender's queue was full: the message fails 30001
}

func (m *message) snapshot() Message {
	c := m.Message
	if c.MediaURLs != nil {
		c.MediaURLs = slices.Clone(c.MediaURLs)
	}
	if c.SendAt != nil {
		t := *c.SendAt
		c.SendAt = &t
	}
	if c.DateSent != nil {
		t := *c.DateSent
		c.DateSent = &t
	}
	return c
}

// insert stores a new message, forgetting the oldest ones beyond MaxMessages. Callers hold mu.
func (s *Simulator) insertLocked(m *message) {
	s.seq++
	m.seq = s.seq
	s.msgs[m.SID] = m
	s.order = append(s.order, m)
	for len(s.order) > s.maxMsgs {
		delete(s.msgs, s.order[0].SID)
		s.order[0] = nil
		s.order = s.order[1:]
	}
}

// indexOfSeqLocked returns the position of the message with sequence seq in s.order, or -1.
func (s *Simulator) indexOfSeqLocked(seq uint64) int {
	i, ok := slices.BinarySearchFunc(s.order, seq, func(m *message, seq uint64) int {
		switch {
		case m.seq < seq:
			return -1
		case m.seq > seq:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return i
}

// newSID returns a Twilio-style SID: a two-letter prefix and 32 lowercase hex digits.
func newSID(prefix string) string { return prefix + randHex32() }

// randHex32 returns 128 random bits as 32 lowercase hex digits.
func randHex32() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// stableSID derives a SID from a seed, so that owned numbers keep their PN SID across restarts.
func stableSID(prefix, seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return prefix + hex.EncodeToString(sum[:16])
}

// rfc2822 formats a time the way Twilio's 2010-04-01 API does: "Thu, 30 Jul 2015 20:12:31 +0000".
func rfc2822(t time.Time) string {
	return t.UTC().Format(time.RFC1123Z)
}

// maskNumber keeps the last four digits of a phone number, for logs.
func maskNumber(n string) string {
	if len(n) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
}

// number is an owned phone number (an IncomingPhoneNumber). Fields are guarded by numMu.
type number struct {
	Number
	DateCreated, DateUpdated time.Time
}

// Number is an owned phone number as the control API shows it (GET /sim/v1/numbers).
type Number struct {
	SID string `json:"sid"`
	// AccountSID is the account that owns the number: the main account, or a subaccount.
	AccountSID           string `json:"account_sid"`
	PhoneNumber          string `json:"number"`
	FriendlyName         string `json:"friendly_name"`
	SMSURL               string `json:"sms_url"`
	SMSMethod            string `json:"sms_method"`
	SMSFallbackURL       string `json:"sms_fallback_url,omitempty"`
	SMSFallbackMethod    string `json:"sms_fallback_method,omitempty"`
	VoiceURL             string `json:"voice_url,omitempty"`
	VoiceMethod          string `json:"voice_method,omitempty"`
	VoiceFallbackURL     string `json:"voice_fallback_url,omitempty"`
	VoiceFallbackMethod  string `json:"voice_fallback_method,omitempty"`
	StatusCallback       string `json:"status_callback,omitempty"`
	StatusCallbackMethod string `json:"status_callback_method,omitempty"`
}

// friendlyName formats a NANP number as Twilio does, "(500) 555-0006"; other numbers stay E.164.
func friendlyName(e164 string) string {
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") {
		d := e164[2:]
		return fmt.Sprintf("(%s) %s-%s", d[:3], d[3:6], d[6:])
	}
	return e164
}

// AddNumber makes number an owned number of the account, or updates it when it is owned
// already; a non-empty smsURL becomes its SmsUrl. It is the same as POST /sim/v1/numbers.
func (s *Simulator) AddNumber(e164, smsURL string) (Number, error) {
	u := numberUpdate{}
	if smsURL != "" {
		u.SMSURL = &smsURL
	}
	n, _, err := s.upsertNumber(e164, u)
	return n.Number, err
}

// numberUpdate is a partial update of an owned number; nil fields are left alone.
type numberUpdate struct {
	SMSURL, SMSMethod, SMSFallbackURL, SMSFallbackMethod         *string
	VoiceURL, VoiceMethod, VoiceFallbackURL, VoiceFallbackMethod *string
	StatusCallback, StatusCallbackMethod, FriendlyName           *string
}

func (u *numberUpdate) validate() error {
	for _, p := range []*string{u.SMSURL, u.SMSFallbackURL, u.VoiceURL, u.VoiceFallbackURL, u.StatusCallback} {
		if p != nil && *p != "" && !validCallbackURL(*p) {
			return fmt.Errorf("invalid URL %q", *p)
		}
	}
	for _, p := range []*string{u.SMSMethod, u.SMSFallbackMethod, u.VoiceMethod, u.VoiceFallbackMethod, u.StatusCallbackMethod} {
		if p != nil {
			m := strings.ToUpper(*p)
			if m != "GET" && m != "POST" {
				return fmt.Errorf("invalid method %q: must be GET or POST", *p)
			}
			*p = m
		}
	}
	return nil
}

func (u *numberUpdate) apply(n *Number) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&n.SMSURL, u.SMSURL)
	set(&n.SMSMethod, u.SMSMethod)
	set(&n.SMSFallbackURL, u.SMSFallbackURL)
	set(&n.SMSFallbackMethod, u.SMSFallbackMethod)
	set(&n.VoiceURL, u.VoiceURL)
	set(&n.VoiceMethod, u.VoiceMethod)
	set(&n.VoiceFallbackURL, u.VoiceFallbackURL)
	set(&n.VoiceFallbackMethod, u.VoiceFallbackMethod)
	set(&n.StatusCallback, u.StatusCallback)
	set(&n.StatusCallbackMethod, u.StatusCallbackMethod)
	set(&n.FriendlyName, u.FriendlyName)
}

// upsertNumber adds (to the main account) or updates an owned number and returns a copy of it;
// created reports whether it is new.
func (s *Simulator) upsertNumber(e164 string, u numberUpdate) (n number, created bool, err error) {
	return s.upsertNumberIn(s.cfg.AccountSID, e164, u)
}

// upsertNumberIn adds a number to account acct, or updates it when some account owns it already
// (a number keeps its owner).
func (s *Simulator) upsertNumberIn(acct, e164 string, u numberUpdate) (n number, created bool, err error) {
	e164 = strings.TrimSpace(e164)
	if !isE164(e164) && !isShortCode(e164) {
		return number{}, false, fmt.Errorf("%q is not an E.164 phone number or a short code", e164)
	}
	if err := u.validate(); err != nil {
		return number{}, false, err
	}
	now := s.now()
	s.numMu.Lock()
	defer s.numMu.Unlock()
	cur, ok := s.numbers[e164]
	if !ok {
		cur = &number{
			Number: Number{
				SID:                  stableSID("PN", acct+"/"+e164),
				AccountSID:           acct,
				PhoneNumber:          e164,
				FriendlyName:         friendlyName(e164),
				SMSMethod:            "POST",
				SMSFallbackMethod:    "POST",
				VoiceMethod:          "POST",
				VoiceFallbackMethod:  "POST",
				StatusCallbackMethod: "POST",
			},
			DateCreated: now,
		}
		s.numbers[e164] = cur
		s.numOrder = append(s.numOrder, cur)
	}
	u.apply(&cur.Number)
	cur.DateUpdated = now
	return *cur, !ok, nil
}

// Numbers returns the owned numbers in the order they were added.
func (s *Simulator) Numbers() []Number {
	s.numMu.RLock()
	defer s.numMu.RUnlock()
	out := make([]Number, len(s.numOrder))
	for i, n := range s.numOrder {
		out[i] = n.Number
	}
	return out
}

// ownerOf is the account that owns number n (plain E.164), or "".
func (s *Simulator) ownerOf(n string) string {
	s.numMu.RLock()
	defer s.numMu.RUnlock()
	if x, ok := s.numbers[n]; ok {
		return x.AccountSID
	}
	return ""
}

// accountOfNumber is the account that owns addr (a "whatsapp:" prefix is ignored), the main
// account when none does.
func (s *Simulator) accountOfNumber(addr string) string {
	_, n := splitChannel(addr)
	if a := s.ownerOf(n); a != "" {
		return a
	}
	return s.cfg.AccountSID
}

// owned reports whether some account owns the number (a "whatsapp:" prefix is ignored).
func (s *Simulator) owned(addr string) bool {
	_, n := splitChannel(addr)
	s.numMu.RLock()
	_, ok := s.numbers[n]
	s.numMu.RUnlock()
	return ok
}
