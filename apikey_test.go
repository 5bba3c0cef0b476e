package switchboard_test

import (
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// A new key keeps only the hash of its secret, and the hash is what the stores look keys up by.
func TestNewAPIKey(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k, secret, err := switchboard.NewAPIKey("ci", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "sb_") || len(secret) != 3+52 {
		t.Fatalf("secret %q: want sb_ and 52 base32 characters", secret)
	}
	if k.Hash != switchboard.HashAPIKeySecret(secret) || strings.Contains(k.Hash, secret) {
		t.Fatalf("hash %q is not the secret's SHA-256", k.Hash)
	}
	if k.Name != "ci" || !k.CreatedAt.Equal(now) || !strings.HasPrefix(k.ID, "key_") {
		t.Fatalf("key %+v", k)
	}
	// The SHA-256 of "abc": a stable stored form, so keys made by older versions still match.
	if got := switchboard.HashAPIKeySecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashAPIKeySecret(abc) = %s", got)
	}
	_, other, _ := switchboard.NewAPIKey("ci", now)
	if other == secret {
		t.Fatal("two keys with one secret")
	}
}
