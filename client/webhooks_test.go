package client_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/client"
)

// The Standard Webhooks specification's example.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	return h
}

// sign computes a signature the way the specification describes it.
func sign(secret, id, ts string, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	now := time.Unix(specTS, 0)
	ts := strconv.Itoa(specTS)
	other := "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	for _, c := range []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"the specification's example", specSecret, headers(specID, ts, specSig), specBody, now, nil},
		{"without the whsec_ prefix", strings.TrimPrefix(specSecret, "whsec_"), headers(specID, ts, specSig), specBody, now, nil},
		{"one of several signatures (rotation)", specSecret, headers(specID, ts, sign(other, specID, ts, []byte(specBody))+" "+specSig), specBody, now, nil},
		{"an unknown version is skipped", specSecret, headers(specID, ts, "v2,abc "+specSig), specBody, now, nil},
		{"4 minutes late", specSecret, headers(specID, ts, specSig), specBody, now.Add(4 * time.Minute), nil},
		{"6 minutes late", specSecret, headers(specID, ts, specSig), specBody, now.Add(6 * time.Minute), client.ErrWebhookTimestamp},
		{"6 minutes early", specSecret, headers(specID, ts, specSig), specBody, now.Add(-6 * time.Minute), client.ErrWebhookTimestamp},
		{"another secret", other, headers(specID, ts, specSig), specBody, now, client.ErrWebhookSignature},
		{"a changed body", specSecret, headers(specID, ts, specSig), `{"test": 2432232315}`, now, client.ErrWebhookSignature},
		{"a changed id", specSecret, headers("msg_other", ts, specSig), specBody, now, client.ErrWebhookSignature},
		{"a changed timestamp", specSecret, headers(specID, strconv.Itoa(specTS+1), specSig), specBody, now, client.ErrWebhookSignature},
		{"no signature", specSecret, headers(specID, ts, ""), specBody, now, client.ErrWebhookHeaders},
		{"no id", specSecret, headers("", ts, specSig), specBody, now, client.ErrWebhookHeaders},
		{"a signed timestamp", specSecret, headers(specID, "+"+ts, specSig), specBody, now, client.ErrWebhookHeaders},
		{"a bad secret", "whsec_!!", headers(specID, ts, specSig), specBody, now, client.ErrWebhookSecret},
	} {
		if err := client.VerifyWebhookAt(c.secret, c.h, []byte(c.body), c.now); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: VerifyWebhookAt = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := []byte(`{"id":"evt_1","type":"message.received","version":1,"timestamp":"2031-03-04T05:06:07Z","data":{"body":"hi"}}`)
	ev, err := client.ParseWebhook(specSecret, headers("evt_1", ts, sign(specSecret, "evt_1", ts, body)), body)
	if err != nil || ev.ID != "evt_1" || ev.Type != "message.received" || ev.Version != 1 || string(ev.Data) != `{"body":"hi"}` {
		t.Fatalf("ParseWebhook = %+v, %v", ev, err)
	}
	// The id signed in the header must be the event's.
	if _, err := client.ParseWebhook(specSecret, headers("evt_2", ts, sign(specSecret, "evt_2", ts, body)), body); err == nil {
		t.Fatal("a body of another event was accepted")
	}
}

// FuzzVerifyWebhook: whatever arrives, verification never panics, accepts only a header that
// holds the correct signature, and always accepts one that does.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add(specID, strconv.Itoa(specTS), specSig, []byte(specBody), int64(0))
	f.Add("evt_1", "1614265330", "v1,AAAA v1,"+strings.Repeat("A", 44), []byte("{}"), int64(100))
	f.Add("", "", "", []byte(nil), int64(-400))
	f.Add("x", "99999999999999999999", "v1,", []byte("\x00"), int64(1))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, skew int64) {
		now := time.Unix(specTS+skew, 0)
		h := headers(id, ts, sig)
		correct := sign(specSecret, h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
		err := client.VerifyWebhookAt(specSecret, h, body, now)
		if err == nil {
			found := false
			for _, s := range strings.Fields(h.Get("webhook-signature")) {
				if v, b, ok := strings.Cut(s, ","); ok && v == "v1" {
					got, derr := base64.StdEncoding.DecodeString(b)
					want, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(correct, "v1,"))
					found = found || (derr == nil && hmac.Equal(got, want))
				}
			}
			if !found {
				t.Fatalf("accepted without the correct signature: id %q ts %q sig %q", id, ts, sig)
			}
		}
		// Signed correctly, with a timestamp within the tolerance, it is accepted.
		if id != "" && !strings.ContainsAny(id, "\r\n\x00") && strings.TrimSpace(id) == id {
			good := strconv.FormatInt(now.Unix(), 10)
			h := headers(id, good, sig+" "+sign(specSecret, id, good, body))
			if h.Get("webhook-id") == id {
				if err := client.VerifyWebhookAt(specSecret, h, body, now); err != nil {
					t.Fatalf("a correct signature was refused: %v (id %q)", err, id)
				}
			}
		}
	})
}
