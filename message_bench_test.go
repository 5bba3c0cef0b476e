package switchboard_test

import (
	"encoding/json"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// BenchmarkCanMoveTo measures the status merge rule over every pair of statuses (121 pairs per
// iteration), as applying each callback asks it once.
func BenchmarkCanMoveTo(b *testing.B) {
	moves := 0
	for b.Loop() {
		for _, from := range switchboard.Statuses {
			for _, to := range switchboard.Statuses {
				if from.CanMoveTo(to) {
					moves++
				}
			}
		}
	}
	if moves == 0 {
		b.Fatal("no status may move anywhere")
	}
	pairs := len(switchboard.Statuses) * len(switchboard.Statuses)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pairs), "ns/pair")
}

// benchMessage is a message resource as GET /v1/messages/{id} returns it for a delivered
// message: metadata, validity, and a timeline of six events with provider payloads.
func benchMessage() *switchboard.Message {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	until := t0.Add(10 * time.Hour)
	sid := "SM0123456789abcdef0123456789abcdef"
	id := "msg_0190b6f2a1c37d4e8f90a1b2c3d4e5f6"
	cb := func(status string) json.RawMessage {
		return json.RawMessage(`{"AccountSid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ApiVersion":"2010-04-01","From":"+15005550006",` +
			`"MessageSid":"` + sid + `","MessageStatus":"` + status + `","SmsSid":"` + sid + `","SmsStatus":"` + status + `","To":"+14155550100"}`)
	}
	actor := "dispatcher:node_0190b6f2a1c37d4e8f90a1b2c3d4e5f6"
	return &switchboard.Message{
		ID: id, Status: switchboard.StatusDelivered, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550100", From: "+15005550006", Pool: "default",
		Body:     "Job #1042 assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.",
		Segments: 1, Encoding: switchboard.EncodingGSM7,
		Metadata:   map[string]string{"job": "1042", "technician": "t-77"},
		ValidUntil: &until, ProviderSID: sid, Attempts: 1, NextAttemptAt: t0,
		APIKeyID: "key_0190b6f2a1c37d4e8f90a1b2c3d4e5f6", CreatedAt: t0, UpdatedAt: at(420),
		Events: []*switchboard.Event{
			{ID: 1, MessageID: id, Type: switchboard.EventCreated, Status: switchboard.StatusQueued, Actor: "api:key_0190b6f2", Detail: "accepted through the API", At: t0},
			{ID: 2, MessageID: id, Type: switchboard.EventAttempt, Actor: actor, Detail: "attempt 1: handing the message to twilio", At: at(12)},
			{ID: 3, MessageID: id, Type: switchboard.EventStatusChanged, Status: switchboard.StatusSending, Actor: actor,
				Detail: `handed to twilio as ` + sid + ` (provider status "queued")`, Payload: cb("queued"), At: at(31)},
			{ID: 4, MessageID: id, Type: switchboard.EventCallback, Status: switchboard.StatusSending, Actor: "twilio", Detail: "sending", Payload: cb("sending"), At: at(90)},
			{ID: 5, MessageID: id, Type: switchboard.EventCallback, Status: switchboard.StatusSent, Actor: "twilio", Detail: "sent", Payload: cb("sent"), At: at(150)},
			{ID: 6, MessageID: id, Type: switchboard.EventCallback, Status: switchboard.StatusDelivered, Actor: "twilio", Detail: "delivered", Payload: cb("delivered"), At: at(420)},
		},
	}
}

// BenchmarkMessageJSON measures encoding and decoding the message resource with its six-event
// timeline, the body of GET /v1/messages/{id}.
func BenchmarkMessageJSON(b *testing.B) {
	m := benchMessage()
	raw, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var out switchboard.Message
			if err := json.Unmarshal(raw, &out); err != nil {
				b.Fatal(err)
			}
			if len(out.Events) != 6 {
				b.Fatalf("decoded %d events, want 6", len(out.Events))
			}
		}
	})
	b.Run("roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := json.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			var out switchboard.Message
			if err := json.Unmarshal(buf, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
