// Package secretbox encrypts the secrets Switchboard stores (the signing secrets of event
// endpoints, the tenants' own Twilio credentials) with keys the operator provides, so that a copy of the database or of a backup does
// not give them away.
//
// A Keyring holds named AES-256-GCM keys; the first is current. Seal encrypts with the current
// key and writes the key's name into the value ("sbenc:v1:<key id>:<base64 nonce+ciphertext>"),
// with associated data binding the value to its row (an endpoint's ID), so that a value copied
// into another row does not open. Open decrypts with whichever listed key sealed the value; a
// value without the prefix is plaintext written before a key was configured and is returned as
// is. Rotation: list the new key first and the old one after it; new writes use the new key, old
// values stay readable, and Reseal rewrites every value not sealed with the current key (a node
// does it at start), after which the old key may be removed.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Prefix starts every sealed value.
const Prefix = "sbenc:v1:"

// ErrNoKey is the error when a sealed value names a key the keyring does not hold (or there is no keyring).
var ErrNoKey = errors.New("the key that sealed this secret is not configured")

// Keyring holds the keys; the zero of *Keyring (nil) seals nothing and opens only plaintext.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ParseKeyring parses keys written as KEY_ID:BASE64 (32 bytes, standard or URL base64, such as
// the output of `openssl rand -base64 32`), separated by commas, spaces or new lines; the first
// is the current key. An empty string is no keyring (nil).
func ParseKeyring(s string) (*Keyring, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if len(fields) == 0 {
		return nil, nil
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, f := range fields {
		id, b64, ok := strings.Cut(f, ":")
		if !ok || !keyID.MatchString(id) {
			return nil, fmt.Errorf("key %d: write each key as KEY_ID:BASE64, the ID of letters, digits, - and _ (at most 32)", i+1)
		}
		raw, err := decode(b64)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("key %s: must be 32 bytes in base64 (openssl rand -base64 32)", id)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("key %s is listed twice", id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		if k.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		if i == 0 {
			k.current = id
		}
	}
	return k, nil
}

func decode(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Current is the ID of the key new values are sealed with ("" without a keyring).
func (k *Keyring) Current() string {
	if k == nil {
		return ""
	}
	return k.current
}

// Sealed reports whether a stored value is sealed (as opposed to plaintext).
func Sealed(stored string) bool { return strings.HasPrefix(stored, Prefix) }

// Seal encrypts plain with the current key, bound to aad (the row it belongs to). Without a
// keyring it returns plain unchanged.
func (k *Keyring) Seal(plain, aad string) (string, error) {
	if k == nil {
		return plain, nil
	}
	a := k.aeads[k.current]
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := a.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return Prefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open returns the plaintext of a stored value and whether it should be sealed again (it is
// plaintext while a keyring is set, or sealed with a key that is not the current one). It
// fails with ErrNoKey when the value's key is not held, and when the value does not open with
// it (tampered, or moved from another row).
func (k *Keyring) Open(stored, aad string) (plain string, stale bool, err error) {
	if !Sealed(stored) {
		return stored, k != nil, nil
	}
	id, b64, ok := strings.Cut(strings.TrimPrefix(stored, Prefix), ":")
	if !ok {
		return "", false, errors.New("a sealed secret is malformed")
	}
	if k == nil {
		return "", false, fmt.Errorf("%w: it was sealed with key %q and no SWITCHBOARD_SECRET_KEY is set", ErrNoKey, id)
	}
	a, held := k.aeads[id]
	if !held {
		return "", false, fmt.Errorf("%w: it was sealed with key %q, which SWITCHBOARD_SECRET_KEY does not list", ErrNoKey, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return "", false, errors.New("a sealed secret is malformed")
	}
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(aad))
	if err != nil {
		return "", false, fmt.Errorf("a sealed secret does not open with key %q (tampered, or not this row's)", id)
	}
	return string(pt), id != k.current, nil
}
