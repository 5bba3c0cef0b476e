package verify

import (
	"context"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what verifications need of the store: the verification store, and the otp messages
// they sent (read back by the fallback). Any switchboard.Store is one.
type Store interface {
	switchboard.VerificationStore
	GetMessage(ctx context.Context, id string) (*switchboard.Message, error)
}

// Messages makes new messages (the acceptance service, internal/accept): the otp messages.
type Messages interface {
	Create(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency) (*switchboard.Message, bool, error)
}
