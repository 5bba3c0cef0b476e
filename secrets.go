package switchboard

import (
	"context"
	"time"
)

// SecretStore is what encryption of secrets at rest needs from the store beyond the endpoint
// methods: rewriting an endpoint's secrets in their new form (encrypted with the current key)
// without racing a rotation.
type SecretStore interface {
	// ReplaceEndpointSecrets swaps endpoint id's secrets for next only while they are still
	// exactly old: ECONFLICT/secrets_changed otherwise (a rotation came in between; read again),
	// ENOTFOUND when there is no such endpoint. Nothing else of the endpoint changes.
	ReplaceEndpointSecrets(ctx context.Context, id string, old, next []EndpointSecret) error
}

// EqualSecrets reports whether a and b are the same secrets with the same expiries, in order.
func EqualSecrets(a, b []EndpointSecret) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Secret != b[i].Secret || !equalTimePtr(a[i].ExpiresAt, b[i].ExpiresAt) {
			return false
		}
	}
	return true
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
