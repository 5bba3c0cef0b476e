package secretbox

import (
	"context"
	"fmt"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store wraps a store so that endpoint secrets are sealed on the way in and opened on the way
// out: the engines (SQLite, PostgreSQL) store the sealed strings as they store any secret, and
// every caller above sees plaintext. With a nil keyring values are written in plaintext and
// sealed ones refuse to open.
type Store struct {
	switchboard.Store
	keys *Keyring
}

var _ switchboard.Store = (*Store)(nil)

// Wrap returns s with endpoint secrets sealed by keys.
func Wrap(s switchboard.Store, keys *Keyring) *Store { return &Store{Store: s, keys: keys} }

// Unwrap returns the store a Store wraps, or s itself.
func Unwrap(s switchboard.Store) switchboard.Store {
	if w, ok := s.(*Store); ok {
		return w.Store
	}
	return s
}

func aad(endpointID string) string { return "switchboard endpoint secret\n" + endpointID }

func (s *Store) seal(id string, secrets []switchboard.EndpointSecret) ([]switchboard.EndpointSecret, error) {
	out := make([]switchboard.EndpointSecret, len(secrets))
	for i, sec := range secrets {
		v, err := s.keys.Seal(sec.Secret, aad(id))
		if err != nil {
			return nil, fmt.Errorf("sealing a secret of endpoint %s: %w", id, err)
		}
		out[i] = switchboard.EndpointSecret{Secret: v, ExpiresAt: sec.ExpiresAt}
	}
	return out, nil
}

// open opens e's secrets in place and reports whether any should be sealed again.
func (s *Store) open(e *switchboard.Endpoint) (stale bool, err error) {
	if e == nil {
		return false, nil
	}
	out := make([]switchboard.EndpointSecret, len(e.Secrets))
	for i, sec := range e.Secrets {
		v, st, err := s.keys.Open(sec.Secret, aad(e.ID))
		if err != nil {
			return false, fmt.Errorf("endpoint %s: %w", e.ID, err)
		}
		stale = stale || st
		out[i] = switchboard.EndpointSecret{Secret: v, ExpiresAt: sec.ExpiresAt}
	}
	e.Secrets = out
	return stale, nil
}

// CreateEndpoint stores e with its secrets sealed; e keeps its plaintext secrets.
func (s *Store) CreateEndpoint(ctx context.Context, e *switchboard.Endpoint) error {
	sealed, err := s.seal(e.ID, e.Secrets)
	if err != nil {
		return err
	}
	c := *e
	c.Secrets = sealed
	if err := s.Store.CreateEndpoint(ctx, &c); err != nil {
		return err
	}
	plain := e.Secrets
	*e = c
	e.Secrets = plain
	return nil
}

// GetEndpoint returns an endpoint with its secrets opened.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*switchboard.Endpoint, error) {
	e, err := s.Store.GetEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.open(e); err != nil {
		return nil, err
	}
	return e, nil
}

// ListEndpoints lists the endpoints of tenant (every endpoint when it is empty) with their
// secrets opened.
func (s *Store) ListEndpoints(ctx context.Context, tenant string) ([]*switchboard.Endpoint, error) {
	eps, err := s.Store.ListEndpoints(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, e := range eps {
		if _, err := s.open(e); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// RotateEndpointSecret adds a newest secret, sealed.
func (s *Store) RotateEndpointSecret(ctx context.Context, id, secret string, oldUntil, now time.Time) (*switchboard.Endpoint, error) {
	if secret != "" {
		sealed, err := s.keys.Seal(secret, aad(id))
		if err != nil {
			return nil, err
		}
		secret = sealed
	}
	e, err := s.Store.RotateEndpointSecret(ctx, id, secret, oldUntil, now)
	if err != nil {
		return nil, err
	}
	if _, err := s.open(e); err != nil {
		return nil, err
	}
	return e, nil
}

// SyncEndpoints records the configuration's endpoints with their secrets sealed.
func (s *Store) SyncEndpoints(ctx context.Context, eps []*switchboard.Endpoint, now time.Time) error {
	out := make([]*switchboard.Endpoint, len(eps))
	for i, e := range eps {
		sealed, err := s.seal(e.ID, e.Secrets)
		if err != nil {
			return err
		}
		c := *e
		c.Secrets = sealed
		out[i] = &c
	}
	return s.Store.SyncEndpoints(ctx, out, now)
}

// ClaimDeliveries claims deliveries with their endpoints' secrets opened.
func (s *Store) ClaimDeliveries(ctx context.Context, p switchboard.DeliveryClaim) ([]*switchboard.Delivery, error) {
	ds, err := s.Store.ClaimDeliveries(ctx, p)
	if err != nil {
		return nil, err
	}
	opened := map[*switchboard.Endpoint]bool{}
	for _, d := range ds {
		if d.Endpoint == nil || opened[d.Endpoint] {
			continue
		}
		opened[d.Endpoint] = true
		if _, err := s.open(d.Endpoint); err != nil {
			// The claimed deliveries' leases expire by themselves (releasing the owner's leases
			// would release its deliveries in flight too). A node starts only when every stored
			// secret opens, so this is a key removed while it runs.
			return nil, err
		}
	}
	return ds, nil
}

// Report says what Reseal found and did.
type Report struct {
	// Resealed counts the endpoints whose secrets were sealed again with the current key (or
	// for the first time); Plaintext the endpoints whose secrets are stored in plaintext (no
	// keyring).
	Resealed, Plaintext int
}

// Reseal makes every endpoint's stored secrets sealed with the current key: plaintext values
// (written before a key was configured) and values sealed with an older key are rewritten. It
// fails when a value does not open (its key is not listed): a node must not start then.
// Without a keyring it only counts the endpoints with plaintext secrets, and fails on sealed
// ones.
func (s *Store) Reseal(ctx context.Context) (Report, error) {
	var r Report
	for attempt := 0; ; attempt++ {
		raw, err := s.Store.ListEndpoints(ctx, "")
		if err != nil {
			return r, err
		}
		conflict := false
		for _, e := range raw {
			old := append([]switchboard.EndpointSecret(nil), e.Secrets...)
			if s.keys == nil {
				if len(old) > 0 {
					r.Plaintext++
				}
			}
			stale, err := s.open(e)
			if err != nil {
				return r, err
			}
			if !stale || s.keys == nil {
				continue
			}
			next, err := s.seal(e.ID, e.Secrets)
			if err != nil {
				return r, err
			}
			err = s.Store.ReplaceEndpointSecrets(ctx, e.ID, old, next)
			switch {
			case err == nil:
				r.Resealed++
			case switchboard.IsKind(err, switchboard.ECONFLICT) || switchboard.IsKind(err, switchboard.ENOTFOUND):
				conflict = true // rotated or deleted meanwhile: look again
			default:
				return r, err
			}
		}
		if !conflict || attempt >= 3 {
			return r, nil
		}
	}
}
