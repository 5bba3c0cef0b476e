package sqlstore

// The column lists of the tables both engines read, in the order each engine's scanner of the
// row reads them: the schema is the same in both (only the SQL types differ).

const (
	// MessageInsertCols are the columns of a new message's row, in the order of each engine's
	// insert.
	MessageInsertCols = `id, status, channel, category, to_number, from_number, pool, body, media_urls,
	segments, encoding, metadata, send_at, valid_until, provider_sid, error_code, error_message,
	attempts, next_attempt_at, attempt_in_flight, attempt_started_at, lease_owner, lease_until,
	api_key_id, created_at, updated_at, timezone, template, template_version, body_sha256, body_length,
	redacted_at, whatsapp, fallback_message_id, tenant`
	// MessageCols are the columns each engine's scanMessage reads, in its order: the inserted
	// ones and the price, which only RecordPrice sets.
	MessageCols = MessageInsertCols + `, price, price_unit`
	// EventCols are the columns of a timeline event (message_events).
	EventCols = `id, message_id, type, status, actor, error_code, detail, payload, at`
	// APIKeyCols are the columns of an API key.
	APIKeyCols = `id, name, hash, created_at, revoked_at, last_used_at, tenant, role`
	// AppEventCols are the columns of an application event (app_events).
	AppEventCols = `seq, id, type, version, at, data, tenant`
	// ConsentCols are the columns of a consent record.
	ConsentCols = `id, phone, scope, state, source, evidence, actor, at, tenant`
	// ConversationCols are the columns of a conversation.
	ConversationCols = `id, channel, our_number, their_number, last_message_at, last_inbound_at, last_outbound_at,
		inbound_count, outbound_count, created_at, tenant`
	// DeliveryCols are the columns of a delivery.
	DeliveryCols = `id, event_seq, endpoint_id, status, attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, lease_owner, lease_until, created_at, updated_at`
	// EndpointCols are the columns of an endpoint.
	EndpointCols = `id, url, description, event_types, secrets, source, failing_since, disabled_at, created_at, updated_at, tenant`
	// InboundCols are the columns of an inbound message.
	InboundCols = `id, provider_sid, channel, from_number, to_number, body, num_media, media_urls, payload, received_at, tenant`
	// RefusalCols are the columns of a verification refusal.
	RefusalCols = `id, reason, detail, phone, country, user_ref, client_ip, verification_id, retry_after, at, tenant`
	// TenantCols are the columns of a tenant.
	TenantCols = `id, name, environment, staging_mode, allowed_recipients, daily_messages, daily_segments,
		daily_spend_cents, created_at, updated_at`
	// VerificationCols are the columns of a verification.
	VerificationCols = `id, status, phone, channel, locale, country, user_ref, client_ip, backend, provider_sid,
		code_length, sends, checks, max_sends, max_checks, send_attempts, fallback_at, expires_at, api_key_id,
		code_hash, code_salt, code_sealed, version, created_at, updated_at, tenant, metadata`
)
