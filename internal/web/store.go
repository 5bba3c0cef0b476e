package web

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Store is what the dashboard reads and changes: messages and their search, sessions and API
// keys, inbound messages, consent, endpoints and deliveries, calls, conversations and
// verifications. Any switchboard.Store is one.
type Store interface {
	switchboard.MessageStore
	switchboard.DashboardStore
	switchboard.ConversationStore
	GetAPIKeyByHash(ctx context.Context, hash string) (*switchboard.APIKey, error)
	ListTenants(ctx context.Context) ([]*switchboard.Tenant, error)
	ListAPIKeys(ctx context.Context, tenant string) ([]*switchboard.APIKey, error)
	ListInbound(ctx context.Context, f switchboard.InboundFilter) (msgs []*switchboard.InboundMessage, next string, err error)
	RecordConsent(ctx context.Context, c *switchboard.ConsentRecord) error
	ConsentHistory(ctx context.Context, phone string) ([]*switchboard.ConsentRecord, error)
	ListConsent(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]*switchboard.ConsentRecord, error)
	GetEndpoint(ctx context.Context, id string) (*switchboard.Endpoint, error)
	ListEndpoints(ctx context.Context, tenant string) ([]*switchboard.Endpoint, error)
	RotateEndpointSecret(ctx context.Context, id, secret string, oldUntil, now time.Time) (*switchboard.Endpoint, error)
	ListDeliveries(ctx context.Context, f switchboard.DeliveryFilter) (ds []*switchboard.Delivery, next string, err error)
	ReplayDeadLetters(ctx context.Context, endpointID string, now time.Time) (int, error)
	GetCall(ctx context.Context, id string) (*switchboard.Call, error)
	ListCalls(ctx context.Context, f switchboard.CallFilter) ([]*switchboard.Call, error)
	ListVerifications(ctx context.Context, f switchboard.VerificationFilter) (vs []*switchboard.Verification, next string, err error)
	ListRefusals(ctx context.Context, f switchboard.RefusalFilter) (rs []*switchboard.Refusal, next string, err error)
	ListUsage(ctx context.Context, f switchboard.UsageFilter) ([]*switchboard.Usage, error)
}

// Messages makes new messages (the acceptance service, internal/accept): the dashboard's retries.
type Messages interface {
	CreateChecked(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency) (*switchboard.Message, bool, error)
}
