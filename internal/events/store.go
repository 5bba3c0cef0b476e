package events

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the event worker needs of the store: the fan-out of the event log into
// deliveries, and the delivery queue. Any switchboard.Store is one.
type Store interface {
	FanOutEvents(ctx context.Context, now time.Time, limit int) (int, error)
	ClaimDeliveries(ctx context.Context, p switchboard.DeliveryClaim) ([]*switchboard.Delivery, error)
	FinishDelivery(ctx context.Context, r switchboard.DeliveryResult) (disabled bool, err error)
	ReleaseDeliveries(ctx context.Context, owner string) (int, error)
}
