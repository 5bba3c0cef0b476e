package switchboard_test

import (
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestStoreErrors pins the kind, code and message of the named store errors that both engines
// answer: clients switch on the codes.
func TestStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *switchboard.Error
		kind switchboard.ErrorKind
		code string
		msg  string
	}{
		{switchboard.ErrMessageNotFound("msg_1"), switchboard.ENOTFOUND, "message_not_found", "message msg_1 not found"},
		{switchboard.ErrProviderSIDNotFound("SM1"), switchboard.ENOTFOUND, "message_not_found", "no message has provider SID SM1"},
		{switchboard.ErrLeaseLost("msg_1", "node-a"), switchboard.ECONFLICT, "lease_lost", "message msg_1 is no longer leased to node-a"},
		{switchboard.ErrMediaLeaseLost("MM1", 2, "node-a"), switchboard.ECONFLICT, "lease_lost", "media download MM1/2 is not leased to node-a"},
		{switchboard.ErrStatusConflict("msg_1", switchboard.StatusSent), switchboard.ECONFLICT, "status_conflict", "message msg_1 is sent"},
		{switchboard.ErrIdempotencyKeyReused("k"), switchboard.EUNPROCESSABLE, "idempotency_key_reused", `idempotency key "k" was already used with a different request`},
		{switchboard.ErrUnknownAPIKey(), switchboard.EUNAUTHORIZED, "invalid_api_key", "unknown or revoked API key"},
		{switchboard.CheckClaim("", 1).(*switchboard.Error), //nolint:errorlint // CheckClaim returns the *Error itself, unwrapped; the test holds it to that
			switchboard.EINVALID, "invalid_claim", "a claim needs an owner and a positive limit"},
		{switchboard.ErrSenderNotFound("+15005550006"), switchboard.ENOTFOUND, "sender_not_found", "sender +15005550006 not found"},
		{switchboard.ErrSenderHasQueued("+15005550006", 2), switchboard.ECONFLICT, "sender_has_queued",
			"sender +15005550006 has 2 queued or scheduled messages: cancel them, or wait until they are sent, before removing it"},
		{switchboard.ErrEndpointNotFromConfig("ep_1"), switchboard.ECONFLICT, "endpoint_exists", "endpoint ep_1 exists and was not made by the configuration"},
	} {
		if tc.err.Kind != tc.kind || tc.err.Code != tc.code || tc.err.Message != tc.msg {
			t.Errorf("%v, want %s/%s %q", tc.err, tc.kind, tc.code, tc.msg)
		}
	}
}
