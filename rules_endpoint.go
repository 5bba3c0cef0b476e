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
