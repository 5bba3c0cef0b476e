package verify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
)

// Code lengths allowed (Twilio Verify's CodeLength range).
const (
	MinCodeLength = 4
	MaxCodeLength = 10
)

// MinSecretBytes is the shortest secret a Codec accepts.
const MinSecretBytes = 32

// Codec turns codes into what is stored: a keyed, salted hash that checks compare in constant
// time, and a sealed copy that only a holder of the secret opens, for resends.
//
// Why both: the hash alone would make a resend within the lifetime send a new code, which Twilio
// Verify does not do (a person who gets two texts must be able to use either). Why keyed: a
// 6-digit code has only a million values, so a plain salted hash is reversed by brute force in
// milliseconds by anyone who reads the database; with the key coming from the configuration, a
// stolen database alone reveals no code.
type Codec struct {
	hashKey []byte
	aead    cipher.AEAD
}

// NewCodec derives the hashing and sealing keys from secret (at least MinSecretBytes bytes).
func NewCodec(secret []byte) (*Codec, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("verify: the code secret must be at least %d bytes, not %d", MinSecretBytes, len(secret))
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("switchboard verify seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Codec{hashKey: derive("switchboard verify hash v1"), aead: aead}, nil
}

// NewCode returns a uniformly random code of n digits from crypto/rand.
func NewCode(n int) (string, error) {
	if n < MinCodeLength || n > MaxCodeLength {
		return "", fmt.Errorf("verify: code length %d is outside %d-%d", n, MinCodeLength, MaxCodeLength)
	}
	buf := make([]byte, n)
	ten := big.NewInt(10)
	for i := range buf {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", fmt.Errorf("verify: random code: %w", err)
		}
		buf[i] = byte('0' + d.Int64())
	}
	return string(buf), nil
}

// NewSalt returns a fresh random salt, hex.
func NewSalt() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Hash returns the stored hash of code under salt.
func (c *Codec) Hash(salt, code string) string {
	m := hmac.New(sha256.New, c.hashKey)
	m.Write([]byte(salt))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// Match reports whether code hashes to hash under salt, in constant time.
func (c *Codec) Match(salt, hash, code string) bool {
	want, err := hex.DecodeString(hash)
	if err != nil {
		return false
	}
	got, _ := hex.DecodeString(c.Hash(salt, code))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Seal encrypts code for the verification id (the id is authenticated with it, so a sealed code
// copied to another row does not open).
func (c *Codec) Seal(id, code string) (string, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(c.aead.Seal(nonce, nonce, []byte(code), []byte(id))), nil
}

// errSealed is returned when a sealed code does not open (another secret, or tampering).
var errSealed = errors.New("verify: the sealed code does not open with this secret")

// Open decrypts a code sealed for the verification id.
func (c *Codec) Open(id, sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < c.aead.NonceSize() {
		return "", errSealed
	}
	n := c.aead.NonceSize()
	code, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(id))
	if err != nil {
		return "", errSealed
	}
	return string(code), nil
}
