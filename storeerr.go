package switchboard

// Named errors of the stores: one constructor per refusal, so that both engines (and any
// future one) answer the same kind, code and message for the same case. Codes are stable
// (see the README); messages are safe to show to the caller.

// ErrMessageNotFound is the ENOTFOUND error (message_not_found): "message %s not found".
func ErrMessageNotFound(id string) *Error {
	return Errorf(ENOTFOUND, "message_not_found", "message %s not found", id)
}

// ErrConversationNotFound is the ENOTFOUND error (conversation_not_found): "conversation %s not found".
func ErrConversationNotFound(id string) *Error {
	return Errorf(ENOTFOUND, "conversation_not_found", "conversation %s not found", id)
}

// ErrNoConversation is the ENOTFOUND error (conversation_not_found): "no %s conversation between these numbers".
func ErrNoConversation(channel Channel) *Error {
	return Errorf(ENOTFOUND, "conversation_not_found", "no %s conversation between these numbers", channel)
}

// ErrSessionNotFound is the ENOTFOUND error (session_not_found): "no such session".
func ErrSessionNotFound() *Error {
	return &Error{Kind: ENOTFOUND, Code: "session_not_found", Message: "no such session"}
}

// ErrMediaNotFound is the ENOTFOUND error (media_not_found): "no such media".
func ErrMediaNotFound() *Error {
	return &Error{Kind: ENOTFOUND, Code: "media_not_found", Message: "no such media"}
}

// ErrEndpointNotFound is the ENOTFOUND error (endpoint_not_found): "endpoint %s not found".
func ErrEndpointNotFound(id string) *Error {
	return Errorf(ENOTFOUND, "endpoint_not_found", "endpoint %s not found", id)
}

// ErrCallTokenNotFound is the ENOTFOUND error (call_not_found): "no call has this token".
func ErrCallTokenNotFound() *Error {
	return &Error{Kind: ENOTFOUND, Code: "call_not_found", Message: "no call has this token"}
}

// ErrAPIKeyNotFound is the ENOTFOUND error (api_key_not_found): "API key %s not found".
func ErrAPIKeyNotFound(id string) *Error {
	return Errorf(ENOTFOUND, "api_key_not_found", "API key %s not found", id)
}

// ErrVerificationNotFound is the ENOTFOUND error (verification_not_found): "verification %s not found".
func ErrVerificationNotFound(id string) *Error {
	return Errorf(ENOTFOUND, "verification_not_found", "verification %s not found", id)
}

// ErrProviderSIDNotFound is the ENOTFOUND error (message_not_found): "no message has provider SID %s".
func ErrProviderSIDNotFound(sid string) *Error {
	return Errorf(ENOTFOUND, "message_not_found", "no message has provider SID %s", sid)
}

// ErrEmptyProviderSID is the ENOTFOUND error (message_not_found): "no message has an empty provider SID".
func ErrEmptyProviderSID() *Error {
	return &Error{Kind: ENOTFOUND, Code: "message_not_found", Message: "no message has an empty provider SID"}
}

// ErrUnknownAPIKey is the EUNAUTHORIZED error (invalid_api_key): "unknown or revoked API key".
func ErrUnknownAPIKey() *Error {
	return &Error{Kind: EUNAUTHORIZED, Code: "invalid_api_key", Message: "unknown or revoked API key"}
}

// ErrMessageExists is the ECONFLICT error (message_exists): "message %s already exists".
func ErrMessageExists(id string) *Error {
	return Errorf(ECONFLICT, "message_exists", "message %s already exists", id)
}

// ErrProviderSIDTaken is the ECONFLICT error (provider_sid_taken): "another message already has provider SID %s".
func ErrProviderSIDTaken(sid string) *Error {
	return Errorf(ECONFLICT, "provider_sid_taken", "another message already has provider SID %s", sid)
}

// ErrLeaseLost is the ECONFLICT error (lease_lost): "message %s is no longer leased to %s".
func ErrLeaseLost(id, owner string) *Error {
	return Errorf(ECONFLICT, "lease_lost", "message %s is no longer leased to %s", id, owner)
}

// ErrDeliveryLeaseLost is the ECONFLICT error (lease_lost): "delivery %s is no longer leased to %s".
func ErrDeliveryLeaseLost(id, owner string) *Error {
	return Errorf(ECONFLICT, "lease_lost", "delivery %s is no longer leased to %s", id, owner)
}

// ErrMediaLeaseLost is the ECONFLICT error (lease_lost): "media download %s/%d is not leased to %s".
func ErrMediaLeaseLost(sid string, index int, owner string) *Error {
	return Errorf(ECONFLICT, "lease_lost", "media download %s/%d is not leased to %s", sid, index, owner)
}

// ErrStatusConflict is the ECONFLICT error (status_conflict): "message %s is %s".
func ErrStatusConflict(id string, status Status) *Error {
	return Errorf(ECONFLICT, "status_conflict", "message %s is %s", id, status)
}

// ErrAttemptInFlight is the ECONFLICT error (attempt_in_flight): "message %s has an attempt in flight whose outcome is not known yet".
func ErrAttemptInFlight(id string) *Error {
	return Errorf(ECONFLICT, "attempt_in_flight", "message %s has an attempt in flight whose outcome is not known yet", id)
}

// ErrInboundExists is the ECONFLICT error (inbound_exists): "inbound message %s already exists".
func ErrInboundExists(id string) *Error {
	return Errorf(ECONFLICT, "inbound_exists", "inbound message %s already exists", id)
}

// ErrEndpointExists is the ECONFLICT error (endpoint_exists): "endpoint %s already exists".
func ErrEndpointExists(id string) *Error {
	return Errorf(ECONFLICT, "endpoint_exists", "endpoint %s already exists", id)
}

// ErrEndpointNotFromConfig is the ECONFLICT error (endpoint_exists): "endpoint %s exists and was not made by the configuration".
func ErrEndpointNotFromConfig(id string) *Error {
	return Errorf(ECONFLICT, "endpoint_exists", "endpoint %s exists and was not made by the configuration", id)
}

// ErrCallExists is the ECONFLICT error (call_exists): "call %s already exists".
func ErrCallExists(id string) *Error {
	return Errorf(ECONFLICT, "call_exists", "call %s already exists", id)
}

// ErrAPIKeyExists is the ECONFLICT error (api_key_exists): "API key %s already exists".
func ErrAPIKeyExists(id string) *Error {
	return Errorf(ECONFLICT, "api_key_exists", "API key %s already exists", id)
}

// ErrVerificationExists is the ECONFLICT error (verification_exists): "verification %s already exists".
func ErrVerificationExists(id string) *Error {
	return Errorf(ECONFLICT, "verification_exists", "verification %s already exists", id)
}

// ErrVerificationPending is the ECONFLICT error (verification_pending): "%s already has a pending verification".
func ErrVerificationPending(to string) *Error {
	return Errorf(ECONFLICT, "verification_pending", "%s already has a pending verification", to)
}

// ErrVerificationConflict is the ECONFLICT error (verification_conflict): "verification %s changed meanwhile".
func ErrVerificationConflict(id string) *Error {
	return Errorf(ECONFLICT, "verification_conflict", "verification %s changed meanwhile", id)
}

// ErrSessionExists is the ECONFLICT error (session_exists): "the session exists".
func ErrSessionExists() *Error {
	return &Error{Kind: ECONFLICT, Code: "session_exists", Message: "the session exists"}
}

// ErrSecretsChanged is the ECONFLICT error (secrets_changed): "the secrets of endpoint %s changed; read them again".
func ErrSecretsChanged(id string) *Error {
	return Errorf(ECONFLICT, "secrets_changed", "the secrets of endpoint %s changed; read them again", id)
}

// ErrIdempotencyKeyReused is the EUNPROCESSABLE error (idempotency_key_reused): "idempotency key %q was already used with a different request".
func ErrIdempotencyKeyReused(key string) *Error {
	return Errorf(EUNPROCESSABLE, "idempotency_key_reused", "idempotency key %q was already used with a different request", key)
}

// ErrDuplicateSender is the EINVALID error (duplicate_sender): "sender %s is configured twice".
func ErrDuplicateSender(from string) *Error {
	return Errorf(EINVALID, "duplicate_sender", "sender %s is configured twice", from)
}

// ErrInvalidText is the EINVALID error (invalid_text): "a text value holds a character the store cannot keep (NUL)".
func ErrInvalidText() *Error {
	return &Error{Kind: EINVALID, Code: "invalid_text", Message: "a text value holds a character the store cannot keep (NUL)"}
}

// ErrSenderNotFound is the ENOTFOUND error (sender_not_found): "sender %s not found".
func ErrSenderNotFound(from string) *Error {
	return Errorf(ENOTFOUND, "sender_not_found", "sender %s not found", from)
}

// ErrSenderExists is the ECONFLICT error (sender_exists): "sender %s exists".
func ErrSenderExists(from string) *Error {
	return Errorf(ECONFLICT, "sender_exists", "sender %s exists (change it with PATCH /v1/senders/%s)", from, from)
}

// ErrSenderHasQueued is the ECONFLICT error (sender_has_queued): "sender %s has %d queued
// messages": removing it would strand them.
func ErrSenderHasQueued(from string, n int64) *Error {
	return Errorf(ECONFLICT, "sender_has_queued",
		"sender %s has %d queued or scheduled messages: cancel them, or wait until they are sent, before removing it", from, n)
}
