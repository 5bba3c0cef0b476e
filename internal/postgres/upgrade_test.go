package postgres_test

import (
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for migrate

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// upgradeFixtures are storetest's upgrade fixtures in PostgreSQL's SQL of their versions.
var upgradeFixtures = map[int]string{
	1: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body, metadata,
		segments, encoding, provider_sid, next_attempt_at, created_at, updated_at)
	VALUES ('msg_upgrade_1', 'delivered', 'sms', 'transactional', '+14155550100', '+15005550006',
		'upgrade fixture', '{"job":"1042"}', 1, 'GSM-7', 'SMupgrade1',
		'2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T03:04:06Z');
	INSERT INTO message_events (message_id, type, status, actor, at)
	VALUES ('msg_upgrade_1', 'created', 'queued', 'api', '2030-01-02T03:04:05Z'),
	       ('msg_upgrade_1', 'status', 'delivered', 'provider', '2030-01-02T03:04:06Z');
	INSERT INTO api_keys (id, name, hash, created_at) VALUES ('key_upgrade', 'fixture', 'upgradehash', '2030-01-02T03:04:05Z');
	INSERT INTO inbound_messages (id, provider_sid, channel, from_number, to_number, body, received_at)
	VALUES ('in_upgrade_1', 'SMinupgrade1', 'sms', '+14155550100', '+15005550006', 'STOP', '2030-01-02T03:04:05Z');`,
	2: `INSERT INTO consent_records (phone, scope, state, source, evidence, actor, at)
	VALUES ('+14155550100', '*', 'opted_out', 'keyword', 'STOP', 'recipient', '2030-01-02T03:04:05Z');`,
}

func upgradeEngine(t *testing.T) storetest.Engine {
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Engine{
		Migrations: ms, Dialect: migrate.Postgres, Fixtures: upgradeFixtures,
		Empty: func(t *testing.T) (*sql.DB, func(t *testing.T) switchboard.Store) {
			u, _ := pgtest.URL(t) // a fresh schema, dropped when t ends
			db, err := sql.Open("pgx", u)
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(2)
			t.Cleanup(func() { db.Close() })
			return db, func(t *testing.T) switchboard.Store {
				st, err := postgres.Open(t.Context(), u, postgres.WithMaxConns(4))
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

// TestMediaBlobs: the database media store's conformance test, with a second node on the same
// database reading what the first wrote.
func TestMediaBlobs(t *testing.T) {
	t.Parallel()
	u, _ := pgtest.URL(t)
	open := func(t *testing.T) *postgres.DB {
		db, err := postgres.Open(t.Context(), u, postgres.WithMaxConns(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	storetest.RunMediaBlobs(t, open(t), func(t *testing.T) switchboard.MediaBlobs { return open(t) })
}
