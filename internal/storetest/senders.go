package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard"
)

// ignoreStamp compares senders' settings, not where they came from or when.
var ignoreStamp = cmpopts.IgnoreFields(switchboard.Sender{}, "Source", "UpdatedAt")

func listSenders(t *testing.T, s switchboard.Store) []switchboard.Sender {
	t.Helper()
	got, err := s.ListSenders(t.Context())
	if err != nil {
		t.Fatalf("ListSenders: %v", err)
	}
	return got
}

func sendersVersion(t *testing.T, s switchboard.Store) int64 {
	t.Helper()
	v, err := s.SendersVersion(t.Context())
	if err != nil {
		t.Fatalf("SendersVersion: %v", err)
	}
	return v
}

// testSenders: SyncSenders records the configuration's senders in its order, again and again.
func testSenders(t *testing.T, s switchboard.Store) {
	if got := listSenders(t, s); len(got) != 0 {
		t.Fatalf("ListSenders of an empty store = %v", got)
	}
	first := []switchboard.Sender{
		{From: fromB, Kind: switchboard.SenderTollFree, Rate: 3, Burst: 5, Pool: "default"},
		{From: fromA, Kind: switchboard.SenderLongCode, Rate: 0.5, Burst: 1, Pool: "default", Tenants: []string{"acme", "globex"}},
		{From: "MG00000000000000000000000000000000", Kind: switchboard.SenderMessagingService, Rate: -1, Burst: 0, Pool: "marketing"},
	}
	sync := func(senders []switchboard.Sender, now time.Time) {
		t.Helper()
		if err := s.SyncSenders(t.Context(), senders, now); err != nil {
			t.Fatalf("SyncSenders: %v", err)
		}
		got := listSenders(t, s)
		wantEqual(t, "senders, in configuration order", senders, got, cmpEmpty, ignoreStamp)
		for _, g := range got {
			if g.Source != switchboard.SenderFromConfig {
				t.Fatalf("sender %s has source %q after SyncSenders, want config", g.From, g.Source)
			}
		}
	}
	sync(first, at(0))
	sync(first, at(time.Minute)) // idempotent
	if got := listSenders(t, s); !got[0].UpdatedAt.Equal(at(0)) {
		t.Fatalf("an unchanged config sender's updated_at moved to %v, want %v", got[0].UpdatedAt, at(0))
	}
	sync([]switchboard.Sender{
		{From: fromC, Kind: switchboard.SenderShortCode, Rate: 100, Burst: 100, Pool: "otp"},
		{From: fromA, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 2, Pool: "default"},
	}, at(2*time.Minute))
	if got, err := s.GetSender(t.Context(), fromA); err != nil || got.Rate != 1 || !got.UpdatedAt.Equal(at(2*time.Minute)) || len(got.Tenants) != 0 {
		t.Fatalf("GetSender after a config change = %+v, %v; want rate 1, no tenants, updated at %v", got, err, at(2*time.Minute))
	}
	before := listSenders(t, s)
	err := s.SyncSenders(t.Context(), []switchboard.Sender{{From: fromB, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"},
		{From: fromB, Kind: switchboard.SenderLongCode, Rate: 2, Burst: 1, Pool: "default"}}, at(3*time.Minute))
	wantErr(t, err, switchboard.EINVALID, "duplicate_sender")
	wantEqual(t, "senders after a refused sync", before, listSenders(t, s), cmpEmpty)
	sync(nil, at(4*time.Minute))
}

// testSendersConfigAndAPI: senders made and changed through the API are the database's; the
// configuration file no longer changes them, and new config senders go before them.
func testSendersConfigAndAPI(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	cfgA := switchboard.Sender{From: fromA, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}
	cfgB := switchboard.Sender{From: fromB, Kind: switchboard.SenderTollFree, Rate: 3, Burst: 1, Pool: "default"}
	if err := s.SyncSenders(ctx, []switchboard.Sender{cfgA, cfgB}, at(0)); err != nil {
		t.Fatal(err)
	}
	// Create: a new sender goes last, Source api; its From taken fails.
	mg := switchboard.Sender{From: "MG0123456789abcdef0123456789abcdef", Kind: switchboard.SenderMessagingService, Rate: 10, Burst: 5,
		Pool: "marketing", Tenants: []string{"acme"}}
	if err := s.CreateSender(ctx, &mg, at(time.Minute)); err != nil {
		t.Fatalf("CreateSender: %v", err)
	}
	if mg.Source != switchboard.SenderFromAPI || !mg.UpdatedAt.Equal(at(time.Minute)) {
		t.Fatalf("created sender source %q updated %v, want api at %v", mg.Source, mg.UpdatedAt, at(time.Minute))
	}
	got, err := s.GetSender(ctx, mg.From)
	if err != nil {
		t.Fatalf("GetSender: %v", err)
	}
	wantEqual(t, "created sender", mg, *got)
	dup := cfgA
	wantErr(t, s.CreateSender(ctx, &dup, at(time.Minute)), switchboard.ECONFLICT, "sender_exists")
	bad := switchboard.Sender{From: "+1", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}
	wantErr(t, s.CreateSender(ctx, &bad, at(time.Minute)), switchboard.EINVALID, "invalid_sender")
	_, err = s.GetSender(ctx, fromC)
	wantErr(t, err, switchboard.ENOTFOUND, "sender_not_found")

	// Update: cfgB edited through the API becomes the database's.
	edited := cfgB
	edited.Rate, edited.Burst, edited.Pool = 7.5, 3, "slow"
	upd, err := s.UpdateSender(ctx, &edited, at(2*time.Minute))
	if err != nil {
		t.Fatalf("UpdateSender: %v", err)
	}
	if upd.Rate != 7.5 || upd.Burst != 3 || upd.Pool != "slow" || upd.Source != switchboard.SenderFromAPI || !upd.UpdatedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("UpdateSender = %+v", upd)
	}
	missing := cfgA
	missing.From = fromC
	_, err = s.UpdateSender(ctx, &missing, at(2*time.Minute))
	wantErr(t, err, switchboard.ENOTFOUND, "sender_not_found")
	invalid := cfgA
	invalid.Rate = -2
	_, err = s.UpdateSender(ctx, &invalid, at(2*time.Minute))
	wantErr(t, err, switchboard.EINVALID, "invalid_sender")

	// The next start-up lists cfgB with its old settings, and a new cfgC before cfgA: cfgB keeps
	// the API's settings, cfgC goes first, mg stays last.
	cfgC := switchboard.Sender{From: fromC, Kind: switchboard.SenderShortCode, Rate: 100, Burst: 10, Pool: "otp"}
	if err := s.SyncSenders(ctx, []switchboard.Sender{cfgC, cfgA, cfgB}, at(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "senders after a restart", []switchboard.Sender{cfgC, cfgA, *upd, mg}, listSenders(t, s), cmpEmpty, ignoreStamp)
	// A start-up whose file lists none drops the config senders, not the API's.
	if err := s.SyncSenders(ctx, nil, at(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "senders after a file without senders", []switchboard.Sender{*upd, mg}, listSenders(t, s), cmpEmpty, ignoreStamp)
}

// testSenderDelete: a sender with queued messages is not removed; a removed one stays removed
// through the next start-up and can be created again.
func testSenderDelete(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	cfgA := switchboard.Sender{From: fromA, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}
	cfgB := switchboard.Sender{From: fromB, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}
	if err := s.SyncSenders(ctx, []switchboard.Sender{cfgA, cfgB}, at(0)); err != nil {
		t.Fatal(err)
	}
	m := create(t, s, newMessage(at(0))) // queued, from fromA
	wantErr(t, s.DeleteSender(ctx, fromA, at(time.Minute)), switchboard.ECONFLICT, "sender_has_queued")
	if _, err := s.GetSender(ctx, fromA); err != nil {
		t.Fatalf("a refused delete removed the sender: %v", err)
	}
	v := sendersVersion(t, s)
	if err := s.DeleteSender(ctx, fromB, at(time.Minute)); err != nil {
		t.Fatalf("DeleteSender: %v", err)
	}
	if sendersVersion(t, s) == v {
		t.Fatal("DeleteSender left the senders' version as it was")
	}
	_, err := s.GetSender(ctx, fromB)
	wantErr(t, err, switchboard.ENOTFOUND, "sender_not_found")
	wantErr(t, s.DeleteSender(ctx, fromB, at(time.Minute)), switchboard.ENOTFOUND, "sender_not_found")
	wantErr(t, s.DeleteSender(ctx, fromC, at(time.Minute)), switchboard.ENOTFOUND, "sender_not_found")
	edit := cfgB
	_, err = s.UpdateSender(ctx, &edit, at(time.Minute))
	wantErr(t, err, switchboard.ENOTFOUND, "sender_not_found")
	// The file still lists fromB: it stays removed.
	if err := s.SyncSenders(ctx, []switchboard.Sender{cfgA, cfgB}, at(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "senders after a restart", []switchboard.Sender{cfgA}, listSenders(t, s), cmpEmpty, ignoreStamp)
	// Created again through the API.
	again := cfgB
	again.Rate = 2
	if err := s.CreateSender(ctx, &again, at(3*time.Minute)); err != nil {
		t.Fatalf("CreateSender of a removed sender: %v", err)
	}
	wantEqual(t, "senders after re-creating", []switchboard.Sender{cfgA, again}, listSenders(t, s), cmpEmpty, ignoreStamp)
	// Once its message is finished, fromA can go.
	if _, err := s.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusCanceled, At: at(4 * time.Minute)}); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := s.DeleteSender(ctx, fromA, at(5*time.Minute)); err != nil {
		t.Fatalf("DeleteSender after the queue emptied: %v", err)
	}
}

// testSendersVersion: the version moves with every change, in its transaction, and not for a
// start-up that changes nothing or a refused change.
func testSendersVersion(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	v0 := sendersVersion(t, s)
	moved := func(what string, f func() error, want bool) {
		t.Helper()
		before := sendersVersion(t, s)
		_ = f()
		if got := sendersVersion(t, s); (got != before) != want {
			t.Fatalf("%s: version %d -> %d, want moved=%v", what, before, got, want)
		}
	}
	cfg := []switchboard.Sender{{From: fromA, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}}
	moved("first sync", func() error { return s.SyncSenders(ctx, cfg, at(0)) }, true)
	moved("same sync", func() error { return s.SyncSenders(ctx, cfg, at(time.Minute)) }, false)
	cfg[0].Rate = 2
	moved("changed sync", func() error { return s.SyncSenders(ctx, cfg, at(time.Minute)) }, true)
	b := switchboard.Sender{From: fromB, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}
	moved("create", func() error { return s.CreateSender(ctx, &b, at(time.Minute)) }, true)
	moved("refused create", func() error { return s.CreateSender(ctx, &b, at(time.Minute)) }, false)
	b.Rate = 5
	moved("update", func() error { _, err := s.UpdateSender(ctx, &b, at(time.Minute)); return err }, true)
	moved("delete", func() error { return s.DeleteSender(ctx, fromB, at(time.Minute)) }, true)
	moved("refused delete", func() error { return s.DeleteSender(ctx, fromB, at(time.Minute)) }, false)
	moved("sync dropping a sender", func() error { return s.SyncSenders(ctx, nil, at(time.Minute)) }, true)
	if v := sendersVersion(t, s); v <= v0 {
		t.Fatalf("version %d after changes, started at %d", v, v0)
	}
}
