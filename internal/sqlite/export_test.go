package sqlite_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestReaderExportsNeutralValues: times come out as time.Time in UTC, booleans as bool, JSON as
// its text, absent values as nil.
func TestReaderExportsNeutralValues(t *testing.T) {
	t.Parallel()
	db := open(t)
	m := testMessage("msg_1")
	m.MediaURLs, m.SendAt = []string{"https://example.com/a.png"}, ptr(t0.Add(time.Hour))
	if _, _, err := db.CreateMessage(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending,
		AttemptInFlight: ptr(true), At: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenReader(t.Context(), db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cols, rows, err := r.Export(t.Context(), "messages")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for row, err := range rows {
		if err != nil {
			t.Fatal(err)
		}
		n++
		v := map[string]any{}
		for i, c := range cols {
			v[c] = row[i]
		}
		if at, ok := v["send_at"].(time.Time); !ok || !at.Equal(t0.Add(time.Hour)) || at.Location() != time.UTC {
			t.Errorf("send_at = %#v, want %v in UTC", v["send_at"], t0.Add(time.Hour))
		}
		if v["attempt_in_flight"] != true {
			t.Errorf("attempt_in_flight = %#v, want true", v["attempt_in_flight"])
		}
		if v["media_urls"] != `["https://example.com/a.png"]` {
			t.Errorf("media_urls = %#v", v["media_urls"])
		}
		if v["valid_until"] != nil || v["segments"] != int64(m.Segments) || v["id"] != "msg_1" {
			t.Errorf("valid_until, segments, id = %#v, %#v, %#v", v["valid_until"], v["segments"], v["id"])
		}
	}
	if n != 1 {
		t.Fatalf("exported %d messages, want 1", n)
	}
	if _, _, err := r.Export(t.Context(), "no_such_table"); err == nil {
		t.Fatal("export of an unknown table succeeded")
	}
}

// TestReaderDoesNotWrite: the file is opened read-only, so the store's file is left byte for
// byte as it was, and a missing file is an error rather than a new empty database.
func TestReaderDoesNotWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateMessage(t.Context(), testMessage("msg_1"), nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenReader(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Count(t.Context(), "messages"); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	r.Close()
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("the reader changed the file")
	}

	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := sqlite.OpenReader(t.Context(), missing); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("OpenReader of a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReader created %s: %v", missing, err)
	}
}

// TestReaderChecksSchema: a file whose migrations differ from this build's is refused, older
// or newer.
func TestReaderChecksSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"older", "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)", "lacks migration"},
		{"newer", "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '')", "does not know"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "switchboard.db")
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.ExecContext(t.Context(), tc.sql); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			if r, err := sqlite.OpenReader(t.Context(), path); err == nil || !strings.Contains(err.Error(), tc.want) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("OpenReader: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
