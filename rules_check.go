package switchboard

import "time"

// The checks a store makes of its input before it writes anything: each is written once, here,
// so that both engines refuse the same input with the same error.

// CheckClaim checks a claim of messages, deliveries or media downloads: it needs an owner (the
// lease's) and a positive limit.
func CheckClaim(owner string, limit int) error {
	if owner == "" || limit <= 0 {
		return Errorf(EINVALID, "invalid_claim", "a claim needs an owner and a positive limit")
	}
	return nil
}

// CheckFanOut checks the limit of a fan-out of application events to endpoints.
func CheckFanOut(limit int) error {
	if limit <= 0 {
		return Errorf(EINVALID, "invalid_fanout", "fan-out needs a positive limit")
	}
	return nil
}

// CheckEndpoint checks an endpoint a store creates: it needs an ID and a URL.
func CheckEndpoint(e *Endpoint) error {
	if e == nil || e.ID == "" || e.URL == "" {
		return Errorf(EINVALID, "invalid_endpoint", "an endpoint needs an ID and a URL")
	}
	e.Tenant = TenantOr(e.Tenant)
	return ValidTenantID(e.Tenant)
}

// CheckSecretRotation checks the new secret of a rotation.
func CheckSecretRotation(secret string) error {
	if secret == "" {
		return Errorf(EINVALID, "invalid_secret", "a rotation needs a new secret")
	}
	return nil
}

// CheckDeliveryResult checks the outcome of a delivery attempt: the delivery, the lease owner and
// the time.
func CheckDeliveryResult(r DeliveryResult) error {
	if r.ID == "" || r.Owner == "" || r.At.IsZero() {
		return Errorf(EINVALID, "invalid_delivery_result", "a delivery result needs an ID, an owner and a time")
	}
	return nil
}

// CheckMediaResult checks the outcome of a media download: the message's SID, the lease owner and
// the time.
func CheckMediaResult(r MediaResult) error {
	if r.ProviderSID == "" || r.Owner == "" || r.At.IsZero() {
		return Errorf(EINVALID, "invalid_media_result", "a media result needs a provider SID, an owner and a time")
	}
	return nil
}

// CheckCall checks a call a store creates: an ID, a webhook token and its creation time, and a
// valid tenant (an empty one becomes DefaultTenant).
func CheckCall(c *Call) error {
	if c == nil || c.ID == "" || c.Token == "" || c.CreatedAt.IsZero() {
		return Errorf(EINVALID, "invalid_call", "a call needs an ID, a token and its creation time")
	}
	c.Tenant = TenantOr(c.Tenant)
	return ValidTenantID(c.Tenant)
}

// CheckSession checks a dashboard session a store creates: its hash and its subject.
func CheckSession(s *DashboardSession) error {
	if s == nil || s.Hash == "" || s.Subject == "" {
		return Errorf(EINVALID, "invalid_session", "a session needs a hash and a subject")
	}
	return nil
}

// CheckAppEvent checks an application event a store appends: an ID and a type.
func CheckAppEvent(ev *AppEvent) error {
	if ev == nil || ev.ID == "" || ev.Type == "" {
		return Errorf(EINVALID, "invalid_event", "an event needs an ID and a type")
	}
	return nil
}

// CheckInbound checks an inbound message a store records: an ID and the provider's SID.
func CheckInbound(in *InboundMessage) error {
	if in == nil || in.ID == "" || in.ProviderSID == "" {
		return Errorf(EINVALID, "invalid_inbound", "an inbound message needs an ID and a provider SID")
	}
	if in.Tenant != "" {
		return ValidTenantID(in.Tenant)
	}
	return nil
}

// CheckSenderAssignment checks a sticky sender assignment: a recipient and a preferred sender.
func CheckSenderAssignment(to, preferred string) error {
	if to == "" || preferred == "" {
		return Errorf(EINVALID, "invalid_sender", "a sender assignment needs a recipient and a preferred sender")
	}
	return nil
}

// CheckAPIKey checks an API key a store creates: an ID, the secret's hash, a valid tenant and
// role. An empty tenant becomes DefaultTenant and an empty role RoleAdmin.
func CheckAPIKey(k *APIKey) error {
	if k == nil || k.ID == "" || k.Hash == "" {
		return Errorf(EINVALID, "invalid_api_key", "an API key needs an ID and a hash")
	}
	k.Tenant = TenantOr(k.Tenant)
	if k.Role == "" {
		k.Role = RoleAdmin
	}
	if err := ValidTenantID(k.Tenant); err != nil {
		return err
	}
	if !k.Role.Valid() {
		return Errorf(EINVALID, "invalid_api_key", "an API key's role must be read, send, admin or platform")
	}
	return nil
}

// CheckRefusal checks a refusal a store records: an ID, a reason, a time and a valid tenant (an
// empty one is set to DefaultTenant).
func CheckRefusal(r *Refusal) error {
	if r == nil || r.ID == "" || r.Reason == "" || r.At.IsZero() {
		return Errorf(EINVALID, "invalid_refusal", "a refusal needs an ID, a reason and a time")
	}
	r.Tenant = TenantOr(r.Tenant)
	return ValidTenantID(r.Tenant)
}

// CheckBlock checks a prefix block a store records: the prefix and its times.
func CheckBlock(b PrefixBlock) error {
	if b.Prefix == "" || b.Until.IsZero() || b.At.IsZero() {
		return Errorf(EINVALID, "invalid_block", "a block needs a prefix and its times")
	}
	return nil
}

// CheckRateHits checks the counters of a rate check: each needs a key, a positive window and a
// limit of at least 0 (0: count only).
func CheckRateHits(hits []RateHit) error {
	for _, h := range hits {
		if h.Key == "" || h.Window <= 0 || h.Limit < 0 {
			return Errorf(EINVALID, "invalid_rate", "a rate hit needs a key, a positive window and a limit of at least 0")
		}
	}
	return nil
}

// RateWindow returns the fixed window of length w that holds now.
func RateWindow(now time.Time, w time.Duration) (start, end time.Time) {
	start = now.Truncate(w)
	return start, start.Add(w)
}

// JudgeRateHits decides a rate check from the counts the store read of each hit's current window
// (counts[i] for hits[i]): the first hit whose counter is at its limit refuses the check, with
// the time until its window ends; else every hit that is not a peek counts, and the store adds
// those hits. The result's Counts are the counts after the check.
func JudgeRateHits(hits []RateHit, counts []int, now time.Time) RateResult {
	res := RateResult{Refused: -1, Counts: counts}
	for i, h := range hits {
		if h.Limit > 0 && counts[i] >= h.Limit {
			_, end := RateWindow(now, h.Window)
			res.Refused, res.RetryAfter = i, end.Sub(now)
			return res
		}
	}
	for i, h := range hits {
		if !h.Peek {
			counts[i]++
		}
	}
	return res
}
