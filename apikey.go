package switchboard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// HashAPIKeySecret returns the stored form of an API key secret (APIKey.Hash). Secrets are
// 256-bit random strings, so a plain SHA-256 is enough (no password stretching needed).
func HashAPIKeySecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewAPIKey makes a new API key named name and returns it with its secret ("sb_" and 52
// base32 characters), which is shown only once: the key keeps its hash.
func NewAPIKey(name string, now time.Time) (*APIKey, string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", err
	}
	secret := "sb_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	return &APIKey{ID: NewID("key"), Name: name, Hash: HashAPIKeySecret(secret), CreatedAt: now}, secret, nil
}
