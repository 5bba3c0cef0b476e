package dispatch

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the dispatcher needs of the store: the outbox (claims with leases), message
// updates, the provider's status as a callback when it is polled, and the event log for circuit
// changes. Any switchboard.Store is one.
type Store interface {
	ClaimMessages(ctx context.Context, p switchboard.ClaimParams) ([]*switchboard.Message, error)
	ReleaseLeases(ctx context.Context, owner string) (int, error)
	DueSenders(ctx context.Context, now time.Time) ([]string, error)
	StaleSending(ctx context.Context, before time.Time, limit int) ([]*switchboard.Message, error)
	UpdateMessage(ctx context.Context, u switchboard.MessageUpdate) (*switchboard.Message, error)
	GetMessageByProviderSID(ctx context.Context, sid string) (*switchboard.Message, error)
	IngestCallback(ctx context.Context, cb *switchboard.Callback) (switchboard.CallbackResult, error)
	AppendAppEvent(ctx context.Context, ev *switchboard.AppEvent) error
	DuePrices(ctx context.Context, now time.Time, limit int) ([]*switchboard.Message, error)
	RecordPrice(ctx context.Context, id string, p *switchboard.Price, next time.Time) error
}
