package switchboard

import (
	"context"
	"time"
)

// Store is Switchboard's durable state: the union of the per-aggregate stores below. SQLite
// (embedded default) and PostgreSQL implement it, and internal/storetest is the conformance suite
// both must pass unchanged. Only the node, which wires everything, needs it whole: every other
// package declares the few methods it uses as an interface of its own (dispatch.Store,
// webhook.Store, events.Store, ...), which any Store satisfies.
//
// Every method that writes does so in one transaction: a message and its first timeline event, a
// status change and the event that explains it, a raw callback and its application.
type Store interface {
	MessageStore
	OutboxStore
	SenderStore
	CallbackStore
	InboundStore
	KeyStore
	RetentionStore
	ConsentStore
	EventLogStore
	AppEventStore
	EndpointStore
	SecretStore
	DeliveryStore
	ObservabilityStore
	DashboardStore
	CallStore
	MediaQueueStore
	ConversationStore
	// VerificationStore keeps one-time-code verifications (verification.go).
	VerificationStore
	WhatsAppStore
	// UsageStore keeps per tenant and day the counts of quotas and the usage report (usage.go).
	UsageStore
	// TenantStore keeps the tenants (tenant.go).
	TenantStore
	// TenantCredentialStore keeps the tenants' own provider accounts (tenantcreds.go).
	TenantCredentialStore

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// MessageStore keeps messages and their timelines.
type MessageStore interface {
	// CreateMessage stores a new message (its ID, timestamps and NextAttemptAt already set) with a
	// "created" event (when m.Events holds one EventCreated event, its Actor and Detail explain
	// the acceptance). With idem set, a second request with the same API key and idempotency key
	// returns the first message and replayed=true when the request hash matches, and fails with
	// EUNPROCESSABLE/idempotency_key_reused when it does not. Concurrent requests with one key
	// create one message.
	CreateMessage(ctx context.Context, m *Message, idem *Idempotency) (stored *Message, replayed bool, err error)
	// GetMessage returns a message with its timeline in the order the events were appended, or
	// ENOTFOUND.
	GetMessage(ctx context.Context, id string) (*Message, error)
	// GetMessageByProviderSID returns the message the provider knows by sid, or ENOTFOUND.
	GetMessageByProviderSID(ctx context.Context, sid string) (*Message, error)
	// ListMessages lists messages newest first, without timelines; next is the cursor of the
	// following page, or "" at the end.
	ListMessages(ctx context.Context, f MessageFilter) (msgs []*Message, next string, err error)
	// UpdateMessage applies one atomic change (see MessageUpdate). When it sets a provider SID,
	// callbacks that arrived earlier for that SID are applied in the same transaction.
	UpdateMessage(ctx context.Context, u MessageUpdate) (*Message, error)
}

// OutboxStore is the messages table seen as the dispatcher's queue: claims with leases.
type OutboxStore interface {
	// ClaimMessages leases up to p.Limit due messages of sender p.From to p.Owner: status queued
	// or scheduled, NextAttemptAt <= p.Now, no live lease. Oldest due first.
	ClaimMessages(ctx context.Context, p ClaimParams) ([]*Message, error)
	// ReleaseLeases drops every lease owner holds (graceful shutdown) and returns how many.
	ReleaseLeases(ctx context.Context, owner string) (int, error)
	// DueSenders returns the senders that have messages due at now, for the dispatcher to visit.
	DueSenders(ctx context.Context, now time.Time) ([]string, error)
	// NextDueAt returns the earliest NextAttemptAt among claimable messages, or nil.
	NextDueAt(ctx context.Context) (*time.Time, error)
	// StaleSending lists messages that were handed to the provider (a SID is set, status sending
	// or sent) but have not changed since before, least recently changed first, so that their
	// status can be fetched from the provider when callbacks were lost.
	StaleSending(ctx context.Context, before time.Time, limit int) ([]*Message, error)
}

// SenderStore records the configured senders and the sticky sender of each recipient.
type SenderStore interface {
	// AssignSender returns the sticky sender of recipient to in pool: the one recorded earlier if
	// it is still among valid, else preferred, which is recorded.
	AssignSender(ctx context.Context, pool, to, preferred string, valid []string) (string, error)
	// SyncSenders records the senders of the configuration file at start-up (Source config,
	// UpdatedAt now), in its order: a new one is created, one still from the configuration is
	// updated, one the API has changed or removed since (Source api) is left as it is (the
	// database wins once a sender is edited through the API), and a config sender no longer
	// listed is removed. A sender listed twice fails with EINVALID/duplicate_sender and changes
	// nothing. The senders' version moves when anything changed.
	SyncSenders(ctx context.Context, senders []Sender, now time.Time) error
	// ListSenders returns the stored senders (not the removed ones) in order: the
	// configuration's first, then those created through the API, oldest first.
	ListSenders(ctx context.Context) ([]Sender, error)
	// GetSender returns the stored sender with this From, or ENOTFOUND (also once removed).
	GetSender(ctx context.Context, from string) (*Sender, error)
	// CreateSender stores a new sender (Source api, UpdatedAt now, placed last), or fails with
	// ECONFLICT/sender_exists when a sender with its From is stored. A removed sender's From may
	// be created again. s must be valid (Sender.Validate).
	CreateSender(ctx context.Context, s *Sender, now time.Time) error
	// UpdateSender replaces the settings of the stored sender s.From (kind, rate, burst, pool,
	// tenants), marks it Source api with UpdatedAt now, and returns it; ENOTFOUND when there is
	// no such sender. s must be valid.
	UpdateSender(ctx context.Context, s *Sender, now time.Time) (*Sender, error)
	// DeleteSender removes the sender from, keeping a tombstone so that the configuration file
	// does not bring it back at the next start-up. ENOTFOUND when there is none;
	// ECONFLICT/sender_has_queued when messages from it are queued or scheduled (they would be
	// stranded): nothing changes then.
	DeleteSender(ctx context.Context, from string, now time.Time) error
	// SendersVersion is a number that changes, in the transaction of the change, whenever the
	// stored senders do: nodes poll it (one row read) and reload the senders when it moves.
	SendersVersion(ctx context.Context) (int64, error)
}

// CallbackStore ingests provider status callbacks.
type CallbackStore interface {
	// IngestCallback durably records a provider status callback and applies it to its message:
	// deduplicated on (SID, provider status), status only forward, kept pending when no message
	// has the SID yet.
	IngestCallback(ctx context.Context, cb *Callback) (CallbackResult, error)
}

// InboundStore keeps inbound messages.
type InboundStore interface {
	// CreateInbound stores an inbound message; created is false when its provider SID was seen.
	CreateInbound(ctx context.Context, in *InboundMessage) (created bool, err error)
	// ListInbound lists inbound messages newest first.
	ListInbound(ctx context.Context, f InboundFilter) (msgs []*InboundMessage, next string, err error)
}

// KeyStore keeps API keys (their hashes only).
type KeyStore interface {
	// CreateAPIKey stores a new API key (hash only).
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// GetAPIKeyByHash returns the unrevoked key with this secret hash, or EUNAUTHORIZED.
	GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	// ListAPIKeys lists the keys of tenant (every tenant's when it is empty), newest first.
	ListAPIKeys(ctx context.Context, tenant string) ([]*APIKey, error)
	// RevokeAPIKey revokes a key by ID, or ENOTFOUND.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey records that the key was used at at. The recorded time never moves back; an
	// unknown ID is not an error (the key may have been deleted meanwhile).
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// RetentionStore forgets what retention says is too old.
type RetentionStore interface {
	// Redact removes the bodies of finished messages created before before (keeping their
	// hash, length and segments, and setting RedactedAt to at), the raw provider payloads on
	// their timelines, and the bodies and payloads of inbound messages and raw webhook events
	// received before before. Of finished calls created before before it removes the variables,
	// spoken and keyed inputs and last TwiML (Call.Redact, RedactedAt set to at); of finished
	// verifications the code material (hash, salt, sealed code); of message.received and
	// call.completed events older than before the body, media and inputs. It works in batches of
	// at most limit messages and limit calls and returns how many messages and calls it
	// redacted; call it until it returns 0.
	Redact(ctx context.Context, before, at time.Time, limit int) (int, error)
	// PruneRefusals deletes verification refusals (a person's number, IP address and the
	// reason) recorded before before, at most limit, and returns how many; call it until it
	// returns 0. A refusal is the support reference a person quotes, so its cutoff is the
	// retention, never store_bodies=false's "now".
	PruneRefusals(ctx context.Context, before time.Time, limit int) (int, error)
}

// ConsentStore keeps each recipient's append-only consent history.
type ConsentStore interface {
	// RecordConsent appends a change to a recipient's consent history (ID set by the store).
	RecordConsent(ctx context.Context, c *ConsentRecord) error
	// RecordConsents records every change of cs, or none (an import): one invalid record, or a
	// failure part way, leaves the history as it was.
	RecordConsents(ctx context.Context, cs []*ConsentRecord) error
	// LatestConsent returns the most recent record for phone among scopes (a pool's name and
	// ScopeAll), or nil when there is none.
	LatestConsent(ctx context.Context, phone string, scopes []string) (*ConsentRecord, error)
	// ConsentHistory returns every record for phone, oldest first.
	ConsentHistory(ctx context.Context, phone string) ([]*ConsentRecord, error)
	// ListConsent returns records with At in [since, until) (zero times do not bound) and ID
	// above afterID, in ID order, at most limit: the whole registry, page by page, for audits.
	ListConsent(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]*ConsentRecord, error)
}

// AppEventStore is the event log to applications: the methods of the other stores that change
// state write the events that report the change in the same transaction (the transactional
// outbox): UpdateMessage and IngestCallback a message.status_changed per status move,
// CreateInbound a message.received for a new inbound message, RecordConsent a consent.changed.
type AppEventStore interface {
	// ListAppEvents lists the event log in log order.
	ListAppEvents(ctx context.Context, f AppEventFilter) ([]*AppEvent, error)
	// FanOutEvents takes up to limit events that have not been fanned out, oldest first, creates
	// one delivery per endpoint whose patterns match each (due at now; a dead letter at once for a
	// disabled endpoint), marks them fanned out, and returns how many events it took. Concurrent
	// callers, on any node, never fan out one event twice.
	FanOutEvents(ctx context.Context, now time.Time, limit int) (int, error)
	// PruneEvents deletes the oldest events of the log, up to limit, with their deliveries: those
	// with At before before that were fanned out, stopping at the first that was not, is not as
	// old, or has a pending delivery. The newest event is never deleted, so sequence numbers are
	// never reused. It returns how many events it deleted.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
}

// EndpointStore keeps the applications' webhook endpoints.
type EndpointStore interface {
	// CreateEndpoint stores a new endpoint.
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	// GetEndpoint returns an endpoint, or ENOTFOUND.
	GetEndpoint(ctx context.Context, id string) (*Endpoint, error)
	// ListEndpoints lists the endpoints of tenant (every tenant's when it is empty), oldest
	// first.
	ListEndpoints(ctx context.Context, tenant string) ([]*Endpoint, error)
	// DeleteEndpoint removes an endpoint and its deliveries, or fails with ENOTFOUND.
	DeleteEndpoint(ctx context.Context, id string) error
	// RotateEndpointSecret makes secret the endpoint's newest secret; the secrets active before
	// stay active until oldUntil (when not already expiring earlier), and expired ones are dropped.
	RotateEndpointSecret(ctx context.Context, id, secret string, oldUntil, now time.Time) (*Endpoint, error)
	// SyncEndpoints records the endpoints of the configuration (Source config): new ones are
	// created, listed ones updated (URL, patterns, secrets; their delivery state kept), and config
	// endpoints no longer listed are deleted with their deliveries.
	SyncEndpoints(ctx context.Context, eps []*Endpoint, now time.Time) error
}

// DeliveryStore is the queue of event deliveries to endpoints, claimed with leases.
type DeliveryStore interface {
	// ClaimDeliveries leases up to p.Limit due deliveries (pending, NextAttemptAt <= p.Now, no
	// live lease) of enabled endpoints to p.Owner, oldest due first, with their event and endpoint.
	ClaimDeliveries(ctx context.Context, p DeliveryClaim) ([]*Delivery, error)
	// FinishDelivery records an attempt's outcome and releases the lease (see DeliveryResult).
	// It fails with ECONFLICT/lease_lost when r.Owner no longer holds the lease. disabled reports
	// that the failure disabled the endpoint.
	FinishDelivery(ctx context.Context, r DeliveryResult) (disabled bool, err error)
	// ReleaseDeliveries drops every delivery lease owner holds (graceful shutdown).
	ReleaseDeliveries(ctx context.Context, owner string) (int, error)
	// ListDeliveries lists an endpoint's deliveries newest first, with their events; next is the
	// cursor of the following page, or "" at the end.
	ListDeliveries(ctx context.Context, f DeliveryFilter) (ds []*Delivery, next string, err error)
	// ReplayDeadLetters makes an endpoint's dead letters pending again, due at now with their
	// attempts reset, and enables the endpoint if it was disabled. ENOTFOUND for no endpoint.
	ReplayDeadLetters(ctx context.Context, endpointID string, now time.Time) (int, error)
}
