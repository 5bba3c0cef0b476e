package api

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
)

// Store is what the HTTP API reads and changes: messages, conversations, consent, endpoints
// and their deliveries, calls, API keys (authentication) and the event log of a message's trace,
// and what acceptance needs when the API makes its own acceptance service. Any switchboard.Store
// is one.
type Store interface {
	accept.Store
	switchboard.MessageStore
	switchboard.ConversationStore
	switchboard.EndpointStore
	switchboard.TenantStore
	GetAPIKeyByHash(ctx context.Context, hash string) (*switchboard.APIKey, error)
	CreateAPIKey(ctx context.Context, k *switchboard.APIKey) error
	ListAPIKeys(ctx context.Context, tenant string) ([]*switchboard.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
	RecordConsent(ctx context.Context, c *switchboard.ConsentRecord) error
	RecordConsents(ctx context.Context, cs []*switchboard.ConsentRecord) error
	ConsentHistory(ctx context.Context, phone string) ([]*switchboard.ConsentRecord, error)
	ListDeliveries(ctx context.Context, f switchboard.DeliveryFilter) (ds []*switchboard.Delivery, next string, err error)
	ReplayDeadLetters(ctx context.Context, endpointID string, now time.Time) (int, error)
	CreateCall(ctx context.Context, c *switchboard.Call, idem *switchboard.Idempotency) (stored *switchboard.Call, replayed bool, err error)
	GetCall(ctx context.Context, id string) (*switchboard.Call, error)
	ListCalls(ctx context.Context, f switchboard.CallFilter) ([]*switchboard.Call, error)
	MessageAppEvents(ctx context.Context, m *switchboard.Message) (evs []*switchboard.MessageAppEvent, truncated bool, err error)
	ListSenders(ctx context.Context) ([]switchboard.Sender, error)
	GetSender(ctx context.Context, from string) (*switchboard.Sender, error)
	CreateSender(ctx context.Context, s *switchboard.Sender, now time.Time) error
	UpdateSender(ctx context.Context, s *switchboard.Sender, now time.Time) (*switchboard.Sender, error)
	DeleteSender(ctx context.Context, from string, now time.Time) error
	ListUsage(ctx context.Context, f switchboard.UsageFilter) ([]*switchboard.Usage, error)
	Ping(ctx context.Context) error
}
