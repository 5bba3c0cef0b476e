package webhook

import (
	"context"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the webhook ingress needs of the store: it records what the provider reports
// and nothing else. Any switchboard.Store is one.
type Store interface {
	IngestCallback(ctx context.Context, cb *switchboard.Callback) (switchboard.CallbackResult, error)
	CreateInbound(ctx context.Context, in *switchboard.InboundMessage) (created bool, err error)
}
