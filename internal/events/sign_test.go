package events

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestSignGoldenVectors holds Sign to vectors computed elsewhere: the specification's example
// and a rotation computed with Python's hmac module.
func TestSignGoldenVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name      string   `json:"name"`
		Secrets   []string `json:"secrets"`
		ID        string   `json:"id"`
		Timestamp int64    `json:"timestamp"`
		Body      string   `json:"body"`
		Signature string   `json:"signature"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 2 {
		t.Fatal("no vectors")
	}
	for _, v := range vectors {
		if got := Sign(v.Secrets, v.ID, time.Unix(v.Timestamp, 0), []byte(v.Body)); got != v.Signature {
			t.Errorf("%s: Sign = %q, want %q", v.Name, got, v.Signature)
		}
	}
}

func TestSignSkipsUndecodableSecrets(t *testing.T) {
	t.Parallel()
	if got := Sign([]string{"not-a-secret", "whsec_!!!"}, "evt_1", time.Unix(1, 0), nil); got != "" {
		t.Fatalf("Sign with no valid secret = %q", got)
	}
}

func TestNewSecretDecodes(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	key, err := switchboard.DecodeSecret(a)
	if err != nil || len(key) != 32 {
		t.Fatalf("DecodeSecret(NewSecret()) = %d bytes, %v", len(key), err)
	}
}

func TestDecodeSecret(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true},
		{"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", true}, // unpadded
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},                 // no prefix
		{"whsec_", false},
		{"whsec_AAAA", false}, // 3 bytes: too short to be a key
		{"whsec_@@@@", false},
	} {
		_, err := switchboard.DecodeSecret(c.in)
		if (err == nil) != c.ok {
			t.Errorf("DecodeSecret(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
		if err != nil && switchboard.ErrorCodeOf(err) != "invalid_secret" {
			t.Errorf("DecodeSecret(%q): code %s", c.in, switchboard.ErrorCodeOf(err))
		}
	}
}
