package postgres_test

import (
	"database/sql"
	"embed"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for migrate

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// upgradeFixtures are storetest's upgrade fixtures (see storetest.FixtureData) in PostgreSQL's
// SQL of their schema versions, keyed by the migration file version after which a node of that
// version wrote them.
var upgradeFixtures = map[int]storetest.Fixture{
	1: {Data: storetest.FixtureMessages, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body, metadata,
		segments, encoding, provider_sid, next_attempt_at, created_at, updated_at)
	VALUES ('msg_upgrade_1', 'delivered', 'sms', 'transactional', '+14155550100', '+15005550006',
		'upgrade fixture', '{"job":"1042"}', 1, 'GSM-7', 'SMupgrade1',
		'2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T03:04:06Z');
	INSERT INTO message_events (message_id, type, status, actor, at)
	VALUES ('msg_upgrade_1', 'created', 'queued', 'api', '2030-01-02T03:04:05Z'),
	       ('msg_upgrade_1', 'status', 'delivered', 'provider', '2030-01-02T03:04:06Z');
	INSERT INTO idempotency_keys (api_key_id, key, request_hash, message_id, created_at)
	VALUES ('key_upgrade', 'idem-upgrade', 'reqhash-upgrade', 'msg_upgrade_1', '2030-01-02T03:04:05Z');
	INSERT INTO api_keys (id, name, hash, created_at) VALUES ('key_upgrade', 'fixture', 'upgradehash', '2030-01-02T03:04:05Z');
	INSERT INTO inbound_messages (id, provider_sid, channel, from_number, to_number, body, received_at)
	VALUES ('in_upgrade_1', 'SMinupgrade1', 'sms', '+14155550100', '+15005550006', 'STOP', '2030-01-02T03:04:05Z');
	INSERT INTO senders (from_number, kind, rate, burst, pool, position) VALUES ('+15005550006', 'long_code', 1, 2, 'default', 0);
	INSERT INTO sticky_senders (pool, to_number, from_number) VALUES ('default', '+14155550100', '+15005550006');`},
	2: {Data: storetest.FixtureConsent, SQL: `INSERT INTO consent_records (phone, scope, state, source, evidence, actor, at)
	VALUES ('+14155550100', '*', 'opted_out', 'keyword', 'STOP', 'recipient', '2030-01-02T03:04:05Z');`},
	3: {Data: storetest.FixtureSenderBuckets, SQL: `INSERT INTO sender_buckets (from_number, tat_ns, last_at_ns)
	VALUES ('+15005550006', 1893557045000000000, 1893553445000000000);`},
	4: {Data: storetest.FixturePolicy, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
		segments, encoding, next_attempt_at, created_at, updated_at, timezone, template, template_version, body_sha256,
		body_length, redacted_at)
	VALUES ('msg_upgrade_policy', 'delivered', 'sms', 'transactional', '+14155550110', '+15005550006', '', 1, 'GSM-7',
		'2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', 'America/Chicago', 'appointment', 3,
		'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 42, '2030-01-02T04:04:05Z');`},
	5: {Data: storetest.FixtureEventLog, SQL: `INSERT INTO app_events (id, type, version, at, data, fanned_out)
	VALUES ('evt_upgrade_1', 'message.delivered', 1, '2030-01-02T03:04:05Z', '{"id":"msg_upgrade_1"}', true);
	INSERT INTO endpoints (id, url, description, event_types, secrets, source, created_at, updated_at)
	VALUES ('ep_upgrade_1', 'https://hooks.example.test/upgrade', 'fixture endpoint', '["message.*"]',
		'[{"secret":"whsec_upgrade"}]', 'api', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z');
	INSERT INTO deliveries (id, event_id, endpoint_id, status, attempts, next_attempt_at, last_attempt_at,
		last_status_code, last_error, created_at, updated_at)
	VALUES ('dlv_upgrade_1', 'evt_upgrade_1', 'ep_upgrade_1', 'dead', 5, '2030-01-02T03:05:05Z', '2030-01-02T03:05:05Z',
		500, 'upgrade fixture error', '2030-01-02T03:04:05Z', '2030-01-02T03:05:05Z');`},
	6: {Data: storetest.FixtureEventRedaction, SQL: `INSERT INTO app_events (id, type, version, at, data, fanned_out, redacted_at)
	VALUES ('evt_upgrade_2', 'message.received', 1, '2030-01-02T03:04:05Z', '{"body":""}', true, '2030-01-02T04:04:05Z');`},
	8: {Data: storetest.FixtureConversations, SQL: `INSERT INTO conversations (id, channel, our_number, their_number, last_message_at,
		last_inbound_at, inbound_count, outbound_count, created_at)
	VALUES ('conv_upgrade_wa', 'whatsapp', '+15005550007', '+14155550101', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', 1, 0,
		'2030-01-02T03:04:05Z');
	INSERT INTO endpoints (id, url, event_types, secrets, source, created_at, updated_at)
	VALUES ('ep_upgrade_2', 'https://hooks.example.test/other', '["*"]', '[]', 'api', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z');
	INSERT INTO app_events (id, type, version, at, data, targets)
	VALUES ('evt_upgrade_3', 'message.received', 1, '2030-01-02T03:04:05Z', '{"id":"in_upgrade_1"}', '["ep_upgrade_1"]');`},
	9: {Data: storetest.FixtureDashboard, SQL: `INSERT INTO dashboard_sessions (hash, subject, api_key_hash, created_at, expires_at)
	VALUES ('sessionhash-upgrade', 'admin', 'upgradehash', '2030-01-02T03:04:05Z', '2030-01-03T03:04:05Z');`},
	10: {Data: storetest.FixtureAlerts, SQL: `INSERT INTO alert_states (key, state, changed_at) VALUES ('queue_depth', 'firing', '2030-01-02T03:04:05Z');`},
	11: {Data: storetest.FixtureVerifications, SQL: `INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends,
		checks, max_sends, max_checks, send_attempts, expires_at, code_hash, code_salt, code_sealed, version, created_at, updated_at)
	VALUES ('ver_upgrade_1', 'pending', '+14155550102', 'sms', 'builtin', 6, 1, 0, 5, 5,
		'[{"channel":"sms","message_id":"msg_upgrade_1","reason":"start","at":"2030-01-02T03:04:05Z"}]',
		'2030-01-02T03:14:05Z', 'h', 's', 'x', 1, '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z');
	INSERT INTO verify_refusals (id, reason, phone, retry_after, at)
	VALUES ('ref_upgrade_1', 'rate_limited', '+14155550102', 60, '2030-01-02T03:04:05Z');
	INSERT INTO verify_blocks (prefix, reason, until, at) VALUES ('+88216', 'fraud', '2031-01-02T03:04:05Z', '2030-01-02T03:04:05Z');
	INSERT INTO verify_rate_hits (key, window_start, window_end, hits)
	VALUES ('phone:+14155550102', '2030-01-02T03:00:00Z', '2030-01-02T04:00:00Z', 3);`},
	12: {Data: storetest.FixtureCalls, SQL: `INSERT INTO calls (id, token, status, provider_sid, version, created_at, data)
	VALUES ('call_upgrade_1', 'tok_upgrade', 'completed', 'CAupgrade1', 1, '2030-01-02T03:04:05Z', '` + storetest.UpgradeCallJSON + `');`},
	14: {Data: storetest.FixtureWhatsApp, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
		segments, encoding, next_attempt_at, created_at, updated_at, whatsapp, fallback_pending, fallback_due_at)
	VALUES ('msg_upgrade_wa', 'undelivered', 'whatsapp', 'transactional', '+14155550101', '+15005550007', 'wa fixture',
		1, 'GSM-7', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z',
		'{"content_sid":"HXupgrade","fallback":"sms","fallback_after_seconds":300}', true, '2030-01-02T03:09:05Z');
	UPDATE conversations SET window_notified_for = last_inbound_at WHERE id = 'conv_upgrade_wa';`},
	20: {Data: storetest.FixtureReadiness, SQL: `INSERT INTO readiness (id, checked_at) VALUES (1, '2030-01-02T03:04:05Z');`},
	30: {Data: storetest.FixtureMediaDownloads, SQL: `INSERT INTO inbound_messages (id, provider_sid, channel, from_number, to_number, body,
		num_media, media_urls, received_at)
	VALUES ('in_upgrade_mms', 'SMinupgrademms', 'mms', '+14155550104', '+15005550006', '', 1,
		'["https://api.twilio.com/upgrade/Media/ME0"]', '2030-01-02T03:04:05Z');
	INSERT INTO media_downloads (provider_sid, idx, inbound_id, url, declared_type, next_attempt_at, created_at, updated_at)
	VALUES ('SMinupgrademms', 0, 'in_upgrade_mms', 'https://api.twilio.com/upgrade/Media/ME0', 'image/jpeg',
		'2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z');`},
	40: {Data: storetest.FixtureRetention, SQL: `INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends,
		checks, max_sends, max_checks, expires_at, version, created_at, updated_at, redacted_at)
	VALUES ('ver_upgrade_2', 'approved', '+14155550105', 'sms', 'builtin', 6, 1, 1, 5, 5, '2030-01-02T03:14:05Z', 2,
		'2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T04:04:05Z');`},
	50: {Data: storetest.FixtureMediaBlobs, SQL: `INSERT INTO media_blobs (sha256, data, size, created_at)
	VALUES ('184db4c944959c1ef9d6b305bab6de1d212ff9331806e1e4976d3a38d7d783e8', decode('75706772616465206d6564696120626c6f62', 'hex'), 18,
		'2030-01-02T03:04:05Z');`},
	90: {Data: storetest.FixtureMessageMetadata, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
		metadata, segments, encoding, next_attempt_at, created_at, updated_at)
	VALUES ('msg_upgrade_meta', 'sent', 'sms', 'transactional', '+14155550111', '+15005550006', 'meta fixture',
		'{"order":"A-9"}', 1, 'GSM-7', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z');
	INSERT INTO message_metadata (key, value, message_id) VALUES ('order', 'A-9', 'msg_upgrade_meta');`},
	91: {Data: storetest.FixtureCallMetadata, SQL: `INSERT INTO calls (id, token, status, version, created_at, data)
	VALUES ('call_upgrade_meta', 'tok_upgrade_meta', 'completed', 1, '2030-01-02T03:04:05Z',
		'` + storetest.UpgradeCallMetaJSON + `');
	INSERT INTO call_metadata (key, value, call_id) VALUES ('visit', '88', 'call_upgrade_meta');`},
}

// repairAsLanded is what repairs a database made with a broken as-landed migration before it
// is upgraded, as docs/production.md tells operators (see storetest.Engine.RepairAsLanded).
var repairAsLanded = map[int]string{
	8: `ALTER TABLE app_events ADD COLUMN targets jsonb;`,
	9: `DROP INDEX messages_created;`,
	11: `DROP INDEX verifications_pending_phone;
	CREATE UNIQUE INDEX verifications_pending_phone ON verifications (phone) WHERE status = 'pending';`,
	30: `ALTER TABLE media_downloads DROP COLUMN channel, DROP COLUMN from_number, DROP COLUMN to_number;`,
}

// migrationsAsLanded are the original texts of the migrations edited after they landed (taken
// from git: the text of the commit that added each), for the databases the builds in between made.
//
//go:embed testdata/migrations_as_landed/*.sql
var migrationsAsLanded embed.FS

// brokenAsLanded: the as-landed migrations whose databases do not upgrade (see
// storetest.Engine.BrokenAsLanded), with what the failure says.
var brokenAsLanded = map[int]string{
	// 0008 as landed had no app_events.targets (added to the file 21 minutes later): routed
	// events cannot be written.
	8: `column "targets" of relation "app_events" does not exist`,
	// 0009 as landed made an index messages_created (removed from the file later); 0080 creates
	// another index of that name.
	9: `relation "messages_created" already exists`,
	// 0011 as landed indexed pending verifications by phone without UNIQUE; 0150 replaces that
	// index with a unique one (per tenant), which upgrades such a database unless it holds two
	// pending verifications of one number (then 0150 fails until the repair ends one).
	// 0030 as landed had NOT NULL sender, recipient and channel columns in media_downloads,
	// which the store no longer writes.
	30: `null value in column "channel" of relation "media_downloads"`,
}

func upgradeEngine(t *testing.T) storetest.Engine {
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Engine{
		Migrations: ms, Dialect: migrate.Postgres, Fixtures: upgradeFixtures,
		AsLanded: storetest.AsLanded(t, migrationsAsLanded), BrokenAsLanded: brokenAsLanded,
		RepairAsLanded: repairAsLanded,
		Empty: func(t *testing.T) (*sql.DB, func(t *testing.T) (switchboard.Store, error)) {
			u, _ := pgtest.URL(t) // a fresh schema, dropped when t ends
			db, err := sql.Open("pgx", u)
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(2)
			t.Cleanup(func() { db.Close() })
			return db, func(t *testing.T) (switchboard.Store, error) {
				st, err := postgres.Open(t.Context(), u, postgres.WithMaxConns(4))
				if err != nil {
					return nil, err
				}
				t.Cleanup(func() { st.Close() })
				return st, nil
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
