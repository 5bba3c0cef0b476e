package voice

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the voice service needs of the store: its calls, claimed with leases. Any
// switchboard.Store is one.
type Store interface {
	GetCall(ctx context.Context, id string) (*switchboard.Call, error)
	GetCallByToken(ctx context.Context, token string) (*switchboard.Call, error)
	UpdateCall(ctx context.Context, c *switchboard.Call, events []*switchboard.AppEvent) error
	ClaimCalls(ctx context.Context, owner string, now, until time.Time, limit int) ([]*switchboard.Call, error)
	ReleaseCall(ctx context.Context, id, owner string) error
	StaleCalls(ctx context.Context, before time.Time, limit int) ([]*switchboard.Call, error)
}
