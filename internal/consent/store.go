package consent

import (
	"context"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the consent service needs of the store: the consent history. Any
// switchboard.Store is one.
type Store interface {
	RecordConsent(ctx context.Context, c *switchboard.ConsentRecord) error
	LatestConsent(ctx context.Context, phone string, scopes []string) (*switchboard.ConsentRecord, error)
}
