package export

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the exports read: messages and the consent history. Any switchboard.Store is
// one.
type Store interface {
	ListMessages(ctx context.Context, f switchboard.MessageFilter) (msgs []*switchboard.Message, next string, err error)
	ConsentHistory(ctx context.Context, phone string) ([]*switchboard.ConsentRecord, error)
	ListConsent(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]*switchboard.ConsentRecord, error)
}
