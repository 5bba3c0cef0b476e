package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// testReplaceEndpointSecrets: an endpoint's secrets are swapped only while they are exactly the
// ones read (a rotation in between wins), nothing else changes, and an unknown endpoint is
// ENOTFOUND.
func testReplaceEndpointSecrets(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	e := createEndpoint(t, s, newEndpoint(at(0), "*"))
	old := getEndpoint(t, s, e.ID).Secrets
	until := at(time.Hour)
	next := []switchboard.EndpointSecret{{Secret: "sbenc:v1:k1:abc", ExpiresAt: &until}, {Secret: "sbenc:v1:k1:def"}}
	stale := []switchboard.EndpointSecret{{Secret: "whsec_other"}}
	wantErr(t, s.ReplaceEndpointSecrets(ctx, e.ID, stale, next), switchboard.ECONFLICT, "secrets_changed")
	wantErr(t, s.ReplaceEndpointSecrets(ctx, "ep_missing", old, next), switchboard.ENOTFOUND, "")
	if got := getEndpoint(t, s, e.ID); !switchboard.EqualSecrets(got.Secrets, old) {
		t.Fatalf("a refused replacement changed the secrets: %+v", got.Secrets)
	}
	if err := s.ReplaceEndpointSecrets(ctx, e.ID, old, next); err != nil {
		t.Fatal(err)
	}
	got := getEndpoint(t, s, e.ID)
	if !switchboard.EqualSecrets(got.Secrets, next) || got.URL != e.URL || !got.UpdatedAt.Equal(e.UpdatedAt) {
		t.Fatalf("after the replacement: %+v", got)
	}
	// The old secrets are gone: replacing from them again is a conflict.
	wantErr(t, s.ReplaceEndpointSecrets(ctx, e.ID, old, old), switchboard.ECONFLICT, "secrets_changed")
}
