package switchboard

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Usage is what one tenant used on one day (UTC): the messages and calls it created, their
// segments, the verifications it started, and what the provider charged for its messages.
//
// A message counts on the day it was accepted (its CreatedAt, UTC), whatever day it is sent;
// its price counts on that same day when the provider reports it, which is later (see
// UsageStore). Every message counts, Switchboard's own replies (STOP confirmations, auto-replies)
// included: they cost the same.
type Usage struct {
	Tenant string `json:"tenant"`
	// Day is the UTC day, YYYY-MM-DD.
	Day           string `json:"day"`
	Messages      int64  `json:"messages"`
	Segments      int64  `json:"segments"`
	Calls         int64  `json:"calls"`
	Verifications int64  `json:"verifications"`
	// SpendMicros is the sum of the prices the provider reported for the day's messages, in
	// millionths of PriceUnit (a charge counts positive, whatever sign the provider shows).
	SpendMicros int64 `json:"spend_micros"`
	// PriceUnit is the currency of the prices (Twilio's price_unit, such as USD); empty when no
	// price was reported yet.
	PriceUnit string `json:"price_unit,omitempty"`
}

// Spend is SpendMicros as a decimal amount of PriceUnit, such as "0.0237".
func (u *Usage) Spend() string { return FormatMicros(u.SpendMicros) }

// UsageFilter selects usage rows: days From to To inclusive (YYYY-MM-DD; empty does not bound),
// of Tenant (empty: every tenant).
type UsageFilter struct {
	Tenant   string
	From, To string
}

// Validate refuses a filter whose From or To is not a day (EINVALID/invalid_day), or whose From
// is after its To (EINVALID/invalid_range).
func (f UsageFilter) Validate() error {
	for _, d := range []string{f.From, f.To} {
		if d == "" {
			continue
		}
		if t, err := time.Parse(time.DateOnly, d); err != nil || t.Format(time.DateOnly) != d {
			return Errorf(EINVALID, "invalid_day", "%q is not a day: write YYYY-MM-DD, such as 2026-12-07", d)
		}
	}
	if f.From != "" && f.To != "" && f.From > f.To {
		return Errorf(EINVALID, "invalid_range", "from %s is after to %s", f.From, f.To)
	}
	return nil
}

// MaxUsageDays bounds the range of one usage report.
const MaxUsageDays = 366

// DefaultUsageDays is the range of a usage report that names no start: the last 31 days.
const DefaultUsageDays = 31

// UsageRange reads a usage report's range: from and to are UTC days (YYYY-MM-DD), to defaulting
// to today (now's UTC day) and from to DefaultUsageDays-1 days before to; at most MaxUsageDays
// days (EINVALID otherwise).
func UsageRange(from, to string, now time.Time) (UsageFilter, error) {
	f := UsageFilter{From: from, To: to}
	if f.To == "" {
		f.To = UTCDay(now)
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	end, _ := time.Parse(time.DateOnly, f.To)
	if f.From == "" {
		f.From = end.AddDate(0, 0, -(DefaultUsageDays - 1)).Format(time.DateOnly)
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	start, _ := time.Parse(time.DateOnly, f.From)
	if end.Sub(start) >= MaxUsageDays*24*time.Hour {
		return f, Errorf(EINVALID, "invalid_range", "from %s to %s is more than %d days", f.From, f.To, MaxUsageDays)
	}
	return f, nil
}

// UsageStore keeps per tenant and day the counts that quotas are checked against and the usage
// report reads. The stores keep the counts in the transaction of every change that moves them
// (triggers on messages, calls and verifications), so they can never disagree with the rows.
//
// Quotas: creating a message an application asked for (one whose APIKeyID is an API key's,
// "key_…", and that is not a WhatsApp message's SMS leg) while its
// tenant's DailyMessages, DailySegments or DailySpendCents for the message's UTC day is used up
// fails with ERATELIMITED quota_exceeded or spend_cap_reached (a *RefusedError whose RetryAfter
// runs to the next UTC midnight), and stores nothing. Concurrent creates never overshoot a
// limit. Switchboard's own messages (keyword replies and auto-replies, whose APIKeyID is
// "system"; SMS legs of WhatsApp messages already accepted) count but are never refused: a
// STOP's confirmation must go.
type UsageStore interface {
	// ListUsage returns the usage rows of f, by day then tenant.
	ListUsage(ctx context.Context, f UsageFilter) ([]*Usage, error)
	// DuePrices returns up to limit messages whose price is to be fetched from the provider:
	// handed to it (a provider SID), finished (delivered, read, undelivered or failed) at or
	// before now, with no price recorded and fewer than MaxPriceFetches tries.
	DuePrices(ctx context.Context, now time.Time, limit int) ([]*Message, error)
	// RecordPrice records the price the provider reported for message id and adds it to the
	// spend of its tenant and day, once: a second price for a message that has one changes
	// nothing. A nil price records a try that found none yet: the message is due again at
	// next, and after MaxPriceFetches tries no more.
	RecordPrice(ctx context.Context, id string, p *Price, next time.Time) error
}

// MaxPriceFetches bounds how many times the price of one message is fetched: Twilio sets a
// message's price some time after it is sent, and never for some (a failed message may stay
// null).
const MaxPriceFetches = 5

// Price is what the provider charged for a message: its decimal text as the provider reported
// it ("-0.00790": Twilio shows charges negative), the currency, and the amount in millionths.
type Price struct {
	Text   string `json:"price"`
	Unit   string `json:"price_unit"`
	Micros int64  `json:"-"`
}

// maxPriceMicros bounds a price (a million of the currency): anything larger is not a price.
const maxPriceMicros = 1_000_000 * 1_000_000

// ParsePrice reads a provider's price: a decimal number, optionally signed, with at most six
// decimals kept (the rest rounded half away from zero), and the charge in millionths, positive
// (Twilio writes charges negative, credits never happen for messages). unit is the currency
// code: three ASCII letters. It returns nil and no error for a price not reported yet (empty or
// "null").
func ParsePrice(text, unit string) (*Price, error) {
	if text == "" || text == "null" {
		return nil, nil
	}
	if len(unit) != 3 || strings.IndexFunc(unit, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return nil, Errorf(EINVALID, "invalid_price", "price unit %q is not a currency code such as USD", unit)
	}
	s := strings.TrimPrefix(strings.TrimPrefix(text, "-"), "+")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(whole) > 7 || len(frac) > 30 || !digits(whole) || !digits(frac) {
		return nil, Errorf(EINVALID, "invalid_price", "price %q is not a decimal amount", text)
	}
	var micros int64
	if whole != "" {
		w, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return nil, Errorf(EINVALID, "invalid_price", "price %q is not a decimal amount", text)
		}
		micros = w * 1_000_000
	}
	for i := range 6 {
		d := int64(0)
		if i < len(frac) {
			d = int64(frac[i] - '0')
		}
		micros += d * pow10(5-i)
	}
	if len(frac) > 6 && frac[6] >= '5' {
		micros++
	}
	if micros > maxPriceMicros {
		return nil, Errorf(EINVALID, "invalid_price", "price %q is too large", text)
	}
	return &Price{Text: text, Unit: unit, Micros: micros}, nil
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// FormatMicros writes an amount in millionths as a decimal with at least two and at most six
// decimals: 23700 is "0.0237", 1500000 is "1.50".
func FormatMicros(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	s := fmt.Sprintf("%s%d.%06d", sign, m/1_000_000, m%1_000_000)
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	return s
}

// Stable codes of quota refusals (answered 429 with Retry-After until the next UTC day).
const (
	CodeQuotaExceeded   = "quota_exceeded"
	CodeSpendCapReached = "spend_cap_reached"
)

// UTCDay is the UTC day of t as YYYY-MM-DD: the day quotas and usage count on.
func UTCDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// NextUTCDay is the start of the UTC day after t's: when a day's quotas start over.
func NextUTCDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// QuotaRefusal is the error of a create refused by its tenant's daily limits: code is
// CodeQuotaExceeded (which says which limit) or CodeSpendCapReached; the caller is told to come
// back at the next UTC day (RetryAfter), when the day's counts start over.
func QuotaRefusal(code, tenant, limit string, at time.Time) error {
	var msg string
	if code == CodeSpendCapReached {
		msg = fmt.Sprintf("tenant %s reached its daily spend cap for %s (UTC); nothing was created", tenant, UTCDay(at))
	} else {
		msg = fmt.Sprintf("tenant %s used its %s for %s (UTC); nothing was created", tenant, limit, UTCDay(at))
	}
	next := NextUTCDay(at)
	return &RefusedError{Err: Errorf(ERATELIMITED, code, "%s; the day's quotas start over at %s", msg, next.Format(time.RFC3339)),
		RetryAfter: next.Sub(at)}
}

// QuotaErrorTag is how the stores' triggers name a refusal in the database error they raise:
// "switchboard_quota:<limit>" where limit is daily_messages, daily_segments or
// daily_spend_cents. QuotaFromDBError turns such an error into QuotaRefusal.
const QuotaErrorTag = "switchboard_quota:"

// QuotaFromDBError returns the QuotaRefusal a database error raised by the quota triggers stands
// for, or nil when err is not one.
func QuotaFromDBError(err error, tenant string, at time.Time) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	i := strings.Index(msg, QuotaErrorTag)
	if i < 0 {
		return nil
	}
	limit := msg[i+len(QuotaErrorTag):]
	switch {
	case strings.HasPrefix(limit, "daily_spend_cents"):
		return QuotaRefusal(CodeSpendCapReached, tenant, "daily spend cap", at)
	case strings.HasPrefix(limit, "daily_segments"):
		return QuotaRefusal(CodeQuotaExceeded, tenant, "daily segments", at)
	default:
		return QuotaRefusal(CodeQuotaExceeded, tenant, "daily messages", at)
	}
}
