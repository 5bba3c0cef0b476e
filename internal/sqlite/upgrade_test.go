package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// upgradeFixtures are storetest's upgrade fixtures in SQLite's SQL of their versions (times in
// microseconds: 1893553445000000 is storetest.UpgradeTime).
var upgradeFixtures = map[int]string{
	1: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body, metadata,
		segments, encoding, provider_sid, next_attempt_at, created_at, updated_at)
	VALUES ('msg_upgrade_1', 'delivered', 'sms', 'transactional', '+14155550100', '+15005550006',
		'upgrade fixture', '{"job":"1042"}', 1, 'GSM-7', 'SMupgrade1', 1893553445000000, 1893553445000000, 1893553446000000);
	INSERT INTO message_events (message_id, type, status, actor, at)
	VALUES ('msg_upgrade_1', 'created', 'queued', 'api', 1893553445000000),
	       ('msg_upgrade_1', 'status', 'delivered', 'provider', 1893553446000000);
	INSERT INTO api_keys (id, name, hash, created_at) VALUES ('key_upgrade', 'fixture', 'upgradehash', 1893553445000000);
	INSERT INTO inbound_messages (id, provider_sid, channel, from_number, to_number, body, received_at)
	VALUES ('in_upgrade_1', 'SMinupgrade1', 'sms', '+14155550100', '+15005550006', 'STOP', 1893553445000000);`,
	2: `INSERT INTO consent_records (phone, scope, state, source, evidence, actor, at)
	VALUES ('+14155550100', '*', 'opted_out', 'keyword', 'STOP', 'recipient', 1893553445000000);`,
}

func upgradeEngine(t *testing.T) storetest.Engine {
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Engine{
		Migrations: ms, Dialect: migrate.SQLite, Fixtures: upgradeFixtures,
		Empty: func(t *testing.T) (*sql.DB, func(t *testing.T) switchboard.Store) {
			path := filepath.Join(t.TempDir(), "switchboard.db")
			db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, func(t *testing.T) switchboard.Store {
				st, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Fatalf("opening (and upgrading) the old database: %v", err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
		},
	}
}

// TestUpgradeFromEveryVersion: a database made by each earlier schema version, with data written
// then, upgrades to the latest and reads back through the store.
func TestUpgradeFromEveryVersion(t *testing.T) {
	t.Parallel()
	storetest.RunUpgrades(t, upgradeEngine(t))
}

// TestOlderNodeOnNewerSchema: this code, as the N-1 node of a rolling upgrade, works on a schema
// that a newer release extended additively.
func TestOlderNodeOnNewerSchema(t *testing.T) {
	storetest.RunOlderNode(t, upgradeEngine(t))
}

// TestMediaBlobs: the database media store's conformance test, with a second connection to the
// same file reading what the first wrote.
func TestMediaBlobs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.RunMediaBlobs(t, db, func(t *testing.T) switchboard.MediaBlobs {
		peer, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { peer.Close() })
		return peer
	})
}
