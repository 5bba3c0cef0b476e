package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
)

// TestMetadataBackfill: migrations 0090 and 0091 index the metadata of the messages and calls
// stored before them, so that they are found by metadata after an upgrade; a message without
// metadata, or with a non-string value written by hand, indexes nothing and does not stop the
// upgrade.
func TestMetadataBackfill(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []migrate.Migration
	for _, m := range ms {
		if m.Version < 90 {
			before = append(before, m)
		}
	}
	raw, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Up(ctx, raw, migrate.SQLite, before); err != nil {
		t.Fatal(err)
	}
	for i, meta := range []any{`{"job_id":"1042","tech":"ana"}`, nil, `{"job_id":"1042"}`, `{"job_id":1042,"n":null}`, `{"job_id":"1043"}`} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
			segments, encoding, metadata, next_attempt_at, created_at, updated_at)
			VALUES (?, 'delivered', 'sms', 'transactional', '+14155550100', '+15005550006', 'hi', 1, 'GSM-7', ?, ?, ?, ?)`,
			"msg_old"+string(rune('0'+i)), meta, i, i, i); err != nil {
			t.Fatal(err)
		}
	}
	// Calls (migration 0091): their metadata is inside data.
	for i, data := range []string{`{"id":"call_old0","status":"completed","metadata":{"job_id":"1042"}}`,
		`{"id":"call_old1","status":"completed"}`, `{"id":"call_old2","status":"completed","metadata":{"job_id":"1043"}}`} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO calls (id, token, status, version, created_at, data)
			VALUES (?, ?, 'completed', 1, ?, ?)`, "call_old"+string(rune('0'+i)), "tok"+string(rune('0'+i)), i, data); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer db.Close()
	got, _, err := db.ListMessages(ctx, switchboard.MessageFilter{Metadata: &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}})
	if err != nil || len(got) != 2 || got[0].ID != "msg_old2" || got[1].ID != "msg_old0" {
		t.Fatalf("after the upgrade, job_id=1042 lists %v (%v), want msg_old2, msg_old0", got, err)
	}
	calls, err := db.ListCalls(ctx, switchboard.CallFilter{Metadata: &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}, Before: "", Limit: 10})
	if err != nil || len(calls) != 1 || calls[0].ID != "call_old0" {
		t.Fatalf("after the upgrade, calls with job_id=1042: %v (%v), want call_old0", calls, err)
	}
	var rows int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM message_metadata`).Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("message_metadata has %d rows (%v), want 4 (no non-string values)", rows, err)
	}
}
