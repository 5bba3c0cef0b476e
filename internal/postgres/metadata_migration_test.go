package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5/stdlib"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// TestMetadataBackfill: migrations 0090 and 0091 index the metadata of the messages and calls
// stored before them, so that they are found by metadata after an upgrade; a message without
// metadata, or with a non-string value written by hand, indexes nothing and does not stop the
// upgrade.
func TestMetadataBackfill(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []migrate.Migration
	for _, m := range ms {
		if m.Version < 90 {
			before = append(before, m)
		}
	}
	u, _ := pgtest.URL(t)
	db, err := postgres.Open(ctx, u, postgres.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw := stdlib.OpenDB(*db.Pool().Config().ConnConfig)
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	if _, err := migrate.Up(ctx, raw, migrate.Postgres, before); err != nil {
		t.Fatal(err)
	}
	for i, meta := range []any{`{"job_id":"1042","tech":"ana"}`, nil, `{"job_id":"1042"}`, `{"job_id":1042,"n":null}`, `{"job_id":"1043"}`} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
			segments, encoding, metadata, next_attempt_at, created_at, updated_at)
			VALUES ($1, 'delivered', 'sms', 'transactional', '+14155550100', '+15005550006', 'hi', 1, 'GSM-7', $2::jsonb, now(), now(), now())`,
			"msg_old"+string(rune('0'+i)), meta); err != nil {
			t.Fatal(err)
		}
	}
	// Calls (migration 0091): their metadata is inside data.
	for i, data := range []string{`{"id":"call_old0","status":"completed","metadata":{"job_id":"1042"}}`,
		`{"id":"call_old1","status":"completed"}`, `{"id":"call_old2","status":"completed","metadata":{"job_id":"1043"}}`} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO calls (id, token, status, version, created_at, data)
			VALUES ($1, $2, 'completed', 1, now(), $3::jsonb)`, "call_old"+string(rune('0'+i)), "tok"+string(rune('0'+i)), data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	got, _, err := db.ListMessages(ctx, switchboard.MessageFilter{Metadata: &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}})
	if err != nil || len(got) != 2 || got[0].ID != "msg_old2" || got[1].ID != "msg_old0" {
		t.Fatalf("after the upgrade, job_id=1042 lists %v (%v), want msg_old2, msg_old0", got, err)
	}
	calls, err := db.ListCalls(ctx, switchboard.CallFilter{Metadata: &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}, Before: "", Limit: 10})
	if err != nil || len(calls) != 1 || calls[0].ID != "call_old0" {
		t.Fatalf("after the upgrade, calls with job_id=1042: %v (%v), want call_old0", calls, err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM message_metadata`); n != 4 {
		t.Fatalf("message_metadata has %d rows, want 4 (no non-string values)", n)
	}
}
