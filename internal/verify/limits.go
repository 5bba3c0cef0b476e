package verify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// DefaultLimits are the rate limits when none are configured: generous enough for real users
// who mistype or wait for a slow text, tight enough that a script gets little out of one number,
// address or account.
func DefaultLimits() Limits {
	return Limits{
		Phone:    []Window{{5, 10 * time.Minute}, {10, time.Hour}, {20, 24 * time.Hour}},
		ClientIP: []Window{{20, time.Hour}, {100, 24 * time.Hour}},
		UserRef:  []Window{{10, time.Hour}, {30, 24 * time.Hour}},
		Country:  []Window{{1000, time.Hour}},
	}
}

// DefaultPumping is the SMS-pumping rule when none is configured.
func DefaultPumping() Pumping {
	return Pumping{Window: time.Hour, Threshold: 20, RiskyThreshold: 3, BlockFor: 24 * time.Hour, DropDigits: 4}
}

// ParseWindows parses rate-limit windows written as "5/10m,10/1h,20/24h" (a count per a
// duration; "d" days allowed). "" and "none" are no windows.
func ParseWindows(s string) ([]Window, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []Window
	for _, part := range strings.Split(s, ",") {
		n, per, ok := strings.Cut(strings.TrimSpace(part), "/")
		limit, err := strconv.Atoi(n)
		if !ok || err != nil || limit < 1 {
			return nil, fmt.Errorf("%q is not COUNT/DURATION such as 5/10m", part)
		}
		var d time.Duration
		if days, ok := strings.CutSuffix(per, "d"); ok {
			k, err := strconv.Atoi(days)
			if err != nil || k < 1 {
				return nil, fmt.Errorf("%q is not COUNT/DURATION such as 20/1d", part)
			}
			d = time.Duration(k) * 24 * time.Hour
		} else if d, err = time.ParseDuration(per); err != nil || d < time.Second {
			return nil, fmt.Errorf("%q is not COUNT/DURATION such as 5/10m (at least 1s)", part)
		}
		out = append(out, Window{Limit: limit, Per: d})
	}
	return out, nil
}

// FormatWindows writes windows as ParseWindows reads them.
func FormatWindows(ws []Window) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, strconv.Itoa(w.Limit)+"/"+w.Per.String())
	}
	return strings.Join(parts, ",")
}

// refusal describes a refused request.
type refusal struct {
	reason, detail, code string
	kind                 switchboard.ErrorKind
	retryAfter           time.Duration
	tenant               string
	to, country          string
	userRef, clientIP    string
	verificationID       string
	events               []*switchboard.AppEvent
}

// refuse records a refusal and returns the error that answers the request: its message says
// what happened and what to do, and it carries the refusal's ID as the support reference.
func (s *Service) refuse(ctx context.Context, r refusal) error {
	return s.refuseWithID(ctx, r, switchboard.NewID("ref"))
}

// safe reports whether to is on the safe list.
func (s *Service) safe(to string) bool {
	for _, e := range s.cfg.SafeList {
		if p, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(to, p) || e == to {
			return true
		}
	}
	return false
}

// prefix is the range to belongs to for the pumping rule: the number without its last digits.
func (s *Service) prefix(to string) string {
	n := len(to) - s.cfg.Pumping.DropDigits
	if n < 3 {
		n = min(len(to), 3)
	}
	return to[:n]
}

// risky reports whether to is in a premium-rate, shared-cost or unknown range: where SMS
// pumping makes its money.
func risky(to string) bool {
	n, err := phonenumbers.Parse(to, "")
	if err != nil {
		return true
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.UNKNOWN, phonenumbers.UAN, phonenumbers.VOICEMAIL:
		return true
	}
	return false
}

// tenantKey is the key of a rate counter of tenant: each tenant's numbers, addresses, users and
// countries are counted apart (user_ref 42 of one tenant is not user 42 of another, and one
// tenant's traffic does not use up another's limits). The default tenant's keys are as they
// were before tenants, so that its counts go on across the upgrade; no other key starts with
// "tenant:", and a tenant ID has no "/".
func tenantKey(tenant, key string) string {
	if tenant == switchboard.DefaultTenant {
		return key
	}
	return "tenant:" + tenant + "/" + key
}

// admit applies geo permissions, prefix blocks, rate limits and the pumping rule to a start of
// tenant. The rate limits are the tenant's; prefix blocks and the pumping counters are the
// installation's (see switchboard.PrefixBlock): SMS pumping costs the provider account every
// tenant without its own credentials shares, and a pumper spreading its starts over tenants
// must not get a threshold per tenant.
func (s *Service) admit(ctx context.Context, req StartRequest, tenant, country string, pending *switchboard.Verification, now time.Time) error {
	base := refusal{tenant: tenant, to: req.To, country: country, userRef: req.UserRef, clientIP: req.ClientIP}
	if pending != nil {
		base.verificationID = pending.ID
	}
	if len(s.cfg.AllowedCountries) > 0 && !slices.Contains(s.cfg.AllowedCountries, country) {
		r := base
		r.reason, r.code, r.kind = "country_not_allowed", "country_not_allowed", switchboard.EFORBIDDEN
		name := country
		if name == "" {
			name = "an unknown region"
		}
		r.detail = fmt.Sprintf("verifications to %s are not allowed on this installation (geo permissions)", name)
		return s.refuse(ctx, r)
	}
	if s.safe(req.To) {
		return nil
	}
	prefix := s.prefix(req.To)
	if b, err := s.cfg.Store.PrefixBlocked(ctx, prefix, now); err != nil {
		return err
	} else if b != nil {
		r := base
		r.reason, r.code, r.kind = "prefix_blocked", "prefix_blocked", switchboard.ERATELIMITED
		r.retryAfter = b.Until.Sub(now)
		r.detail = "verifications to this number range are paused after suspected SMS pumping"
		return s.refuse(ctx, r)
	}
	type dim struct {
		reason, key string
		windows     []Window
	}
	dims := []dim{{"rate_limited_phone", "phone:" + req.To, s.cfg.Limits.Phone}}
	if req.ClientIP != "" {
		dims = append(dims, dim{"rate_limited_client_ip", "ip:" + req.ClientIP, s.cfg.Limits.ClientIP})
	}
	if req.UserRef != "" {
		dims = append(dims, dim{"rate_limited_user_ref", "user:" + req.UserRef, s.cfg.Limits.UserRef})
	}
	dims = append(dims, dim{"rate_limited_country", "country:" + country, s.cfg.Limits.Country})
	var hits []switchboard.RateHit
	var reasons []string
	for _, d := range dims {
		for _, w := range d.windows {
			hits = append(hits, switchboard.RateHit{Key: tenantKey(tenant, d.key+"/"+w.Per.String()), Window: w.Per, Limit: w.Limit})
			reasons = append(reasons, d.reason)
		}
	}
	pumpStarts := len(hits)
	threshold := s.cfg.Pumping.Threshold
	if risky(req.To) {
		threshold = s.cfg.Pumping.RiskyThreshold
	}
	if threshold > 0 && pending == nil {
		hits = append(hits,
			switchboard.RateHit{Key: "pump:" + prefix, Window: s.cfg.Pumping.Window},
			switchboard.RateHit{Key: "pump_ok:" + prefix, Window: s.cfg.Pumping.Window, Peek: true})
	}
	if len(hits) == 0 {
		return nil
	}
	res, err := s.cfg.Store.HitRates(ctx, hits, now)
	if err != nil {
		return err
	}
	if res.Refused >= 0 {
		r := base
		r.reason, r.code, r.kind = reasons[res.Refused], "rate_limited", switchboard.ERATELIMITED
		h := hits[res.Refused]
		r.retryAfter = res.RetryAfter
		r.detail = fmt.Sprintf("too many verifications (%s: at most %d per %s); retry after %d seconds",
			strings.TrimPrefix(r.reason, "rate_limited_"), h.Limit, h.Window, int((res.RetryAfter+time.Second-1)/time.Second))
		return s.refuse(ctx, r)
	}
	if threshold > 0 && pending == nil {
		unverified := res.Counts[pumpStarts] - res.Counts[pumpStarts+1]
		if unverified > threshold {
			return s.blockPrefix(ctx, base, prefix, unverified, threshold, now)
		}
	}
	return nil
}

// blockPrefix blocks a prefix suspected of SMS pumping, raises the alert and refuses the start.
func (s *Service) blockPrefix(ctx context.Context, base refusal, prefix string, unverified, threshold int, now time.Time) error {
	until := now.Add(s.cfg.Pumping.BlockFor)
	reason := fmt.Sprintf("%d unverified starts to %s… within %s (threshold %d)", unverified, prefix, s.cfg.Pumping.Window, threshold)
	refID := switchboard.NewID("ref")
	ev, err := switchboard.NewAppEvent(switchboard.AppVerificationFraudAlert, now, switchboard.FraudAlertData{
		Prefix: prefix, Reason: reason, Until: until.UTC(), RefusalID: refID,
	})
	if err != nil {
		return err
	}
	if err := s.cfg.Store.BlockPrefix(ctx, switchboard.PrefixBlock{Prefix: prefix, Reason: reason, Until: until, At: now}, nil); err != nil {
		return err
	}
	s.cfg.Logger.Warn("suspected SMS pumping: prefix blocked", "prefix", prefix, "unverified", unverified, "until", until)
	r := base
	r.reason, r.code, r.kind = "pumping_suspected", "prefix_blocked", switchboard.ERATELIMITED
	r.retryAfter = s.cfg.Pumping.BlockFor
	r.detail = "verifications to this number range are paused after suspected SMS pumping"
	r.events = []*switchboard.AppEvent{ev}
	return s.refuseWithID(ctx, r, refID)
}

// refuseWithID is refuse with a refusal ID chosen beforehand (named by an event).
func (s *Service) refuseWithID(ctx context.Context, r refusal, id string) error {
	now := s.cfg.Clock()
	rec := &switchboard.Refusal{
		ID: id, Tenant: r.tenant, Reason: r.reason, Detail: r.detail, To: r.to, Country: r.country, UserRef: r.userRef,
		ClientIP: r.clientIP, VerificationID: r.verificationID, At: now,
		RetryAfterSeconds: int((r.retryAfter + time.Second - 1) / time.Second),
	}
	if err := s.cfg.Store.RecordRefusal(ctx, rec, r.events); err != nil {
		return err
	}
	s.cfg.Logger.Warn("verification refused", "reason", r.reason, "to", content.MaskPhone(r.to), "support_ref", id)
	if s.cfg.Observer != nil {
		s.cfg.Observer.VerificationRefused(r.reason)
	}
	return &switchboard.RefusedError{Err: switchboard.Errorf(r.kind, r.code, "%s. Support reference: %s", r.detail, id),
		RetryAfter: r.retryAfter, SupportRef: id}
}

// Refusals lists recorded refusals, newest first (f.Tenant's; every tenant's when empty).
func (s *Service) Refusals(ctx context.Context, f switchboard.RefusalFilter) ([]*switchboard.Refusal, string, error) {
	return s.cfg.Store.ListRefusals(ctx, f)
}
