package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard"
)

var cmpEmpty = cmpopts.EquateEmpty()

var otherTests = []test{
	{"AssignSender", testAssignSender},
	{"Inbound", testInbound},
	{"InboundListing", testInboundListing},
	{"APIKeys", testAPIKeys},
	{"Senders", testSenders},
	{"Ping", testPing},
}

func testAssignSender(t *testing.T, s switchboard.Store) {
	assign := func(pool, to, preferred string, valid ...string) string {
		t.Helper()
		got, err := s.AssignSender(t.Context(), pool, to, preferred, valid)
		if err != nil {
			t.Fatalf("AssignSender(%s, %s, %s, %v): %v", pool, to, preferred, valid, err)
		}
		return got
	}
	wantEqual(t, "first assignment", fromA, assign("default", toA, fromA, fromA, fromB))
	wantEqual(t, "sticky", fromA, assign("default", toA, fromB, fromA, fromB))
	wantEqual(t, "another recipient", fromB, assign("default", toB, fromB, fromA, fromB))
	wantEqual(t, "another pool", fromC, assign("clinic", toA, fromC, fromC))
	// fromA left the pool: the recipient moves to the preferred sender, which sticks.
	wantEqual(t, "replaced", fromB, assign("default", toA, fromB, fromB, fromC))
	wantEqual(t, "replacement sticks", fromB, assign("default", toA, fromC, fromB, fromC))
	wantEqual(t, "other pool untouched", fromC, assign("clinic", toA, fromA, fromA, fromC))
}

func testInbound(t *testing.T, s switchboard.Store) {
	in := &switchboard.InboundMessage{
		ID:          newID("in"),
		ProviderSID: "SMin1",
		Channel:     switchboard.ChannelMMS,
		From:        toA,
		To:          fromA,
		Body:        "STOP",
		NumMedia:    2,
		MediaURLs:   []string{"https://api.twilio.com/media/1", "https://api.twilio.com/media/2"},
		Payload:     json.RawMessage(`{"Body": "STOP", "NumMedia": "2", "MessageSid": "SMin1"}`),
		ReceivedAt:  at(time.Second),
	}
	created, err := s.CreateInbound(t.Context(), in)
	if err != nil || !created {
		t.Fatalf("CreateInbound = %v, %v; want created", created, err)
	}
	// Twilio retries the webhook: same SID, and the handler made a new ID.
	retry := *in
	retry.ID = newID("in")
	retry.ReceivedAt = at(2 * time.Second)
	created, err = s.CreateInbound(t.Context(), &retry)
	if err != nil || created {
		t.Fatalf("CreateInbound(retry) = %v, %v; want not created", created, err)
	}
	got, next, err := s.ListInbound(t.Context(), switchboard.InboundFilter{})
	if err != nil || next != "" || len(got) != 1 {
		t.Fatalf("ListInbound = %d, %q, %v; want 1 message", len(got), next, err)
	}
	wantEqual(t, "inbound", in, got[0], cmpEmpty, cmpopts.IgnoreFields(switchboard.InboundMessage{}, "Payload"))
	wantJSON(t, "inbound payload", in.Payload, got[0].Payload)
}

func testInboundListing(t *testing.T, s switchboard.Store) {
	var all []*switchboard.InboundMessage
	for i := range 9 {
		in := &switchboard.InboundMessage{
			ID: newID("in"), ProviderSID: newID("SM"), Channel: switchboard.ChannelSMS,
			From: []string{toA, toB, toA}[i%3], To: []string{fromA, fromB}[i%2], Body: "YES",
			ReceivedAt: at(time.Duration(i) * time.Second),
		}
		if _, err := s.CreateInbound(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		all = append(all, in)
	}
	listAll := func(f switchboard.InboundFilter) []string {
		t.Helper()
		var out []string
		for page := 0; page < 100; page++ {
			got, next, err := s.ListInbound(t.Context(), f)
			if err != nil {
				t.Fatalf("ListInbound(%+v): %v", f, err)
			}
			if f.Limit > 0 && len(got) > f.Limit {
				t.Fatalf("ListInbound: %d over limit %d", len(got), f.Limit)
			}
			if len(got) == 0 && page > 0 {
				t.Fatal("ListInbound: empty page after a cursor")
			}
			for _, in := range got {
				out = append(out, in.ID)
			}
			if next == "" {
				return out
			}
			f.Cursor = next
		}
		t.Fatal("ListInbound: too many pages")
		return nil
	}
	newestFirst := func(pick func(i int, in *switchboard.InboundMessage) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if pick(i, all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	everything := newestFirst(func(int, *switchboard.InboundMessage) bool { return true })
	wantEqual(t, "all", everything, listAll(switchboard.InboundFilter{}))
	wantEqual(t, "all, pages of 2", everything, listAll(switchboard.InboundFilter{Limit: 2}))
	wantEqual(t, "from", newestFirst(func(_ int, in *switchboard.InboundMessage) bool { return in.From == toA }),
		listAll(switchboard.InboundFilter{From: toA, Limit: 4}))
	wantEqual(t, "to", newestFirst(func(_ int, in *switchboard.InboundMessage) bool { return in.To == fromB }),
		listAll(switchboard.InboundFilter{To: fromB}))
	wantEqual(t, "from and to", newestFirst(func(_ int, in *switchboard.InboundMessage) bool { return in.From == toB && in.To == fromA }),
		listAll(switchboard.InboundFilter{From: toB, To: fromA}), cmpEmpty)
}

func testAPIKeys(t *testing.T, s switchboard.Store) {
	k1 := &switchboard.APIKey{ID: newID("key"), Name: "billing", Hash: "hash-1", CreatedAt: at(0)}
	k2 := &switchboard.APIKey{ID: newID("key"), Name: "ops", Hash: "hash-2", CreatedAt: at(time.Minute), LastUsedAt: ptr(at(2 * time.Minute))}
	for _, k := range []*switchboard.APIKey{k1, k2} {
		if err := s.CreateAPIKey(t.Context(), k); err != nil {
			t.Fatalf("CreateAPIKey(%s): %v", k.Name, err)
		}
	}
	if err := s.CreateAPIKey(t.Context(), &switchboard.APIKey{ID: newID("key"), Name: "dup", Hash: "hash-1", CreatedAt: at(0)}); err == nil {
		t.Fatal("CreateAPIKey with an existing hash succeeded")
	}
	got, err := s.GetAPIKeyByHash(t.Context(), "hash-1")
	if err != nil {
		t.Fatalf("GetAPIKeyByHash: %v", err)
	}
	wantEqual(t, "key", k1, got)
	_, err = s.GetAPIKeyByHash(t.Context(), "hash-unknown")
	wantErr(t, err, switchboard.EUNAUTHORIZED, "")

	keys, err := s.ListAPIKeys(t.Context(), "")
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	wantEqual(t, "keys, newest first", []*switchboard.APIKey{k2, k1}, keys)

	if err := s.RevokeAPIKey(t.Context(), k1.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	_, err = s.GetAPIKeyByHash(t.Context(), "hash-1")
	wantErr(t, err, switchboard.EUNAUTHORIZED, "")
	if _, err := s.GetAPIKeyByHash(t.Context(), "hash-2"); err != nil {
		t.Fatalf("the other key stopped working: %v", err)
	}
	keys, err = s.ListAPIKeys(t.Context(), "")
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAPIKeys after revoking = %d keys, %v", len(keys), err)
	}
	if r := keys[1].RevokedAt; r == nil || !r.Equal(at(time.Hour)) {
		t.Fatalf("revoked key lists revoked at %v, want %s", r, at(time.Hour))
	}
	wantErr(t, s.RevokeAPIKey(t.Context(), "key_unknown", at(time.Hour)), switchboard.ENOTFOUND, "")

	// Last use: recorded, never moved back, unknown keys ignored.
	for _, touch := range []time.Duration{3 * time.Minute, 90 * time.Second} {
		if err := s.TouchAPIKey(t.Context(), k2.ID, at(touch)); err != nil {
			t.Fatalf("TouchAPIKey: %v", err)
		}
	}
	if err := s.TouchAPIKey(t.Context(), "key_unknown", at(time.Hour)); err != nil {
		t.Fatalf("TouchAPIKey of an unknown key: %v", err)
	}
	got, err = s.GetAPIKeyByHash(t.Context(), "hash-2")
	if err != nil {
		t.Fatal(err)
	}
	if u := got.LastUsedAt; u == nil || !u.Equal(at(3*time.Minute)) {
		t.Fatalf("last used at %v after touches at 3m and 1m30s, want %s", u, at(3*time.Minute))
	}
}

func testSenders(t *testing.T, s switchboard.Store) {
	got, err := s.ListSenders(t.Context())
	if err != nil || len(got) != 0 {
		t.Fatalf("ListSenders of an empty store = %v, %v", got, err)
	}
	first := []switchboard.Sender{
		{From: fromB, Kind: switchboard.SenderTollFree, Rate: 3, Burst: 5, Pool: "default"},
		{From: fromA, Kind: switchboard.SenderLongCode, Rate: 0.5, Burst: 1, Pool: "default"},
		{From: "MG00000000000000000000000000000000", Kind: switchboard.SenderMessagingService, Rate: -1, Burst: 0, Pool: "marketing"},
	}
	sync := func(senders []switchboard.Sender) {
		t.Helper()
		if err := s.SyncSenders(t.Context(), senders); err != nil {
			t.Fatalf("SyncSenders: %v", err)
		}
		got, err := s.ListSenders(t.Context())
		if err != nil {
			t.Fatalf("ListSenders: %v", err)
		}
		wantEqual(t, "senders, in configuration order", senders, got, cmpEmpty)
	}
	sync(first)
	sync(first) // idempotent
	sync([]switchboard.Sender{
		{From: fromC, Kind: switchboard.SenderShortCode, Rate: 100, Burst: 100, Pool: "otp"},
		{From: fromA, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 2, Pool: "default"},
	})
	sync(nil)
}

// testPing: Ping commits a real write (the readiness row, so that a full disk fails it), again
// and again, and changes nothing a caller can see.
func testPing(t *testing.T, s switchboard.Store) {
	for range 3 {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
}
