package switchboard

import "time"

// EndpointSync is what recording the configuration's endpoints changes (PlanEndpointSync): the
// endpoints to insert (made by the configuration, stamped now), those whose configured fields to
// update, and the IDs of the configured endpoints the configuration no longer lists, to delete.
type EndpointSync struct {
	Insert []*Endpoint
	Update []*Endpoint
	Delete []string
}

// PlanEndpointSync compares the configuration's endpoints with the stored ones. An endpoint the
// configuration lists under the ID of one made through the API is refused (ECONFLICT
// endpoint_exists): the configuration never takes over, nor deletes, what an operator made.
func PlanEndpointSync(existing, configured []*Endpoint, now time.Time) (EndpointSync, error) {
	var plan EndpointSync
	byID := make(map[string]*Endpoint, len(existing))
	for _, e := range existing {
		byID[e.ID] = e
	}
	listed := make(map[string]bool, len(configured))
	for _, e := range configured {
		listed[e.ID] = true
		old, ok := byID[e.ID]
		switch {
		case ok && old.Source != EndpointFromConfig:
			return EndpointSync{}, ErrEndpointNotFromConfig(e.ID)
		case ok:
			plan.Update = append(plan.Update, e)
		default:
			c := *e
			c.Source, c.CreatedAt, c.UpdatedAt, c.FailingSince, c.DisabledAt = EndpointFromConfig, now, now, nil, nil
			plan.Insert = append(plan.Insert, &c)
		}
	}
	for _, e := range existing {
		if e.Source == EndpointFromConfig && !listed[e.ID] {
			plan.Delete = append(plan.Delete, e.ID)
		}
	}
	return plan, nil
}

// DisabledEndpointError is the last error of a delivery dead-lettered because its endpoint is
// disabled.
const DisabledEndpointError = "endpoint disabled"

// FanOutDelivery is a delivery that fanning an event out creates (FanOut).
type FanOutDelivery struct {
	EndpointID string
	Status     DeliveryStatus
	LastError  string
}

// FanOut returns the deliveries of an event of tenant with type typ and targets (nil: every
// endpoint that subscribes to typ) to the endpoints eps: one per endpoint of the tenant that takes
// it (DeliversTo), dead at once for a disabled endpoint, so that its dead letters can be replayed
// after it is enabled.
func FanOut(tenant string, typ AppEventType, targets []string, eps []*Endpoint) []FanOutDelivery {
	var out []FanOutDelivery
	for _, ep := range eps {
		if !DeliversTo(tenant, typ, targets, ep) {
			continue
		}
		d := FanOutDelivery{EndpointID: ep.ID, Status: DeliveryPending}
		if ep.DisabledAt != nil {
			d.Status, d.LastError = DeliveryDead, DisabledEndpointError
		}
		out = append(out, d)
	}
	return out
}

// ReplaceSecrets swaps e's secrets for next if they are still old (the caller read them, sealed
// or unsealed them, and writes them back), else refuses: ECONFLICT secrets_changed.
func ReplaceSecrets(e *Endpoint, old, next []EndpointSecret) error {
	if !EqualSecrets(e.Secrets, old) {
		return ErrSecretsChanged(e.ID)
	}
	e.Secrets = next
	return nil
}

// RotateEndpointSecret adds secret to e as its newest (RotateSecrets) and stamps the change.
func RotateEndpointSecret(e *Endpoint, secret string, oldUntil, now time.Time) {
	e.Secrets = RotateSecrets(e.Secrets, secret, oldUntil, now)
	e.UpdatedAt = time.UnixMicro(now.UnixMicro()).UTC()
}
