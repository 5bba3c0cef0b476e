package sqlite_test

import (
	"database/sql"
	"embed"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// upgradeFixtures are storetest's upgrade fixtures (see storetest.FixtureData) in SQLite's SQL of
// their schema versions, keyed by the migration file version after which a node of that version
// wrote them. Times are in microseconds: 1893553445000000 is storetest.UpgradeTime.
var upgradeFixtures = map[int]storetest.Fixture{
	1: {Data: storetest.FixtureMessages, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body, metadata,
		segments, encoding, provider_sid, next_attempt_at, created_at, updated_at)
	VALUES ('msg_upgrade_1', 'delivered', 'sms', 'transactional', '+14155550100', '+15005550006',
		'upgrade fixture', '{"job":"1042"}', 1, 'GSM-7', 'SMupgrade1', 1893553445000000, 1893553445000000, 1893553446000000);
	INSERT INTO message_events (message_id, type, status, actor, at)
	VALUES ('msg_upgrade_1', 'created', 'queued', 'api', 1893553445000000),
	       ('msg_upgrade_1', 'status', 'delivered', 'provider', 1893553446000000);
	INSERT INTO idempotency_keys (api_key_id, key, request_hash, message_id, created_at)
	VALUES ('key_upgrade', 'idem-upgrade', 'reqhash-upgrade', 'msg_upgrade_1', 1893553445000000);
	INSERT INTO api_keys (id, name, hash, created_at) VALUES ('key_upgrade', 'fixture', 'upgradehash', 1893553445000000);
	INSERT INTO inbound_messages (id, provider_sid, channel, from_number, to_number, body, received_at)
	VALUES ('in_upgrade_1', 'SMinupgrade1', 'sms', '+14155550100', '+15005550006', 'STOP', 1893553445000000);
	INSERT INTO senders (from_number, kind, rate, burst, pool, position) VALUES ('+15005550006', 'long_code', 1, 2, 'default', 0);
	INSERT INTO sticky_senders (pool, to_number, from_number) VALUES ('default', '+14155550100', '+15005550006');`},
	2: {Data: storetest.FixtureConsent, SQL: `INSERT INTO consent_records (phone, scope, state, source, evidence, actor, at)
	VALUES ('+14155550100', '*', 'opted_out', 'keyword', 'STOP', 'recipient', 1893553445000000);`},
	3: {Data: storetest.FixturePolicy, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
		segments, encoding, next_attempt_at, created_at, updated_at, timezone, template, template_version, body_sha256,
		body_length, redacted_at)
	VALUES ('msg_upgrade_policy', 'delivered', 'sms', 'transactional', '+14155550110', '+15005550006', '', 1, 'GSM-7',
		1893553445000000, 1893553445000000, 1893553445000000, 'America/Chicago', 'appointment', 3,
		'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 42, 1893557045000000);`},
	4: {Data: storetest.FixtureEventLog, SQL: `INSERT INTO app_events (id, type, version, at, data, fanned_out)
	VALUES ('evt_upgrade_1', 'message.delivered', 1, 1893553445000000, '{"id":"msg_upgrade_1"}', 1);
	INSERT INTO endpoints (id, url, description, event_types, secrets, source, created_at, updated_at)
	VALUES ('ep_upgrade_1', 'https://hooks.example.test/upgrade', 'fixture endpoint', '["message.*"]',
		'[{"secret":"whsec_upgrade"}]', 'api', 1893553445000000, 1893553445000000);
	INSERT INTO deliveries (id, event_id, endpoint_id, status, attempts, next_attempt_at, last_attempt_at,
		last_status_code, last_error, created_at, updated_at)
	VALUES ('dlv_upgrade_1', 'evt_upgrade_1', 'ep_upgrade_1', 'dead', 5, 1893553505000000, 1893553505000000,
		500, 'upgrade fixture error', 1893553445000000, 1893553505000000);`},
	5: {Data: storetest.FixtureEventRedaction, SQL: `INSERT INTO app_events (id, type, version, at, data, fanned_out, redacted_at)
	VALUES ('evt_upgrade_2', 'message.received', 1, 1893553445000000, '{"body":""}', 1, 1893557045000000);`},
	7: {Data: storetest.FixtureConversations, SQL: `INSERT INTO conversations (id, channel, our_number, their_number, last_message_at,
		last_inbound_at, inbound_count, outbound_count, created_at)
	VALUES ('conv_upgrade_wa', 'whatsapp', '+15005550007', '+14155550101', 1893553445000000, 1893553445000000, 1, 0, 1893553445000000);
	INSERT INTO endpoints (id, url, event_types, secrets, source, created_at, updated_at)
	VALUES ('ep_upgrade_2', 'https://hooks.example.test/other', '["*"]', '[]', 'api', 1893553445000000, 1893553445000000);
	INSERT INTO app_events (id, type, version, at, data, targets)
	VALUES ('evt_upgrade_3', 'message.received', 1, 1893553445000000, '{"id":"in_upgrade_1"}', '["ep_upgrade_1"]');`},
	8: {Data: storetest.FixtureDashboard, SQL: `INSERT INTO dashboard_sessions (hash, subject, api_key_hash, created_at, expires_at)
	VALUES ('sessionhash-upgrade', 'admin', 'upgradehash', 1893553445000000, 1893639845000000);`},
	9: {Data: storetest.FixtureAlerts, SQL: `INSERT INTO alert_states (key, state, changed_at) VALUES ('queue_depth', 'firing', 1893553445000000);`},
	10: {Data: storetest.FixtureVerifications, SQL: `INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends,
		checks, max_sends, max_checks, send_attempts, expires_at, code_hash, code_salt, code_sealed, version, created_at, updated_at)
	VALUES ('ver_upgrade_1', 'pending', '+14155550102', 'sms', 'builtin', 6, 1, 0, 5, 5,
		'[{"channel":"sms","message_id":"msg_upgrade_1","reason":"start","at":"2030-01-02T03:04:05Z"}]',
		1893554045000000, 'h', 's', 'x', 1, 1893553445000000, 1893553445000000);
	INSERT INTO verify_refusals (id, reason, phone, retry_after, at)
	VALUES ('ref_upgrade_1', 'rate_limited', '+14155550102', 60, 1893553445000000);
	INSERT INTO verify_blocks (prefix, reason, until, at) VALUES ('+88216', 'fraud', 1925089445000000, 1893553445000000);
	INSERT INTO verify_rate_hits (key, window_start, window_end, hits)
	VALUES ('phone:+14155550102', 1893553200000000, 1893556800000000, 3);`},
	11: {Data: storetest.FixtureCalls, SQL: `INSERT INTO calls (id, token, status, provider_sid, version, created_at, data)
	VALUES ('call_upgrade_1', 'tok_upgrade', 'completed', 'CAupgrade1', 1, 1893553445000000, '` + storetest.UpgradeCallJSON + `');`},
	13: {Data: storetest.FixtureWhatsApp, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
		segments, encoding, next_attempt_at, created_at, updated_at, whatsapp, fallback_pending, fallback_due_at)
	VALUES ('msg_upgrade_wa', 'undelivered', 'whatsapp', 'transactional', '+14155550101', '+15005550007', 'wa fixture',
		1, 'GSM-7', 1893553445000000, 1893553445000000, 1893553445000000,
		'{"content_sid":"HXupgrade","fallback":"sms","fallback_after_seconds":300}', 1, 1893553745000000);
	UPDATE conversations SET window_notified_for = last_inbound_at WHERE id = 'conv_upgrade_wa';`},
	20: {Data: storetest.FixtureReadiness, SQL: `INSERT INTO readiness (id, checked_at) VALUES (1, 1893553445000000);`},
	30: {Data: storetest.FixtureMediaDownloads, SQL: `INSERT INTO inbound_messages (id, provider_sid, channel, from_number, to_number, body,
		num_media, media_urls, received_at)
	VALUES ('in_upgrade_mms', 'SMinupgrademms', 'mms', '+14155550104', '+15005550006', '', 1,
		'["https://api.twilio.com/upgrade/Media/ME0"]', 1893553445000000);
	INSERT INTO media_downloads (provider_sid, idx, inbound_id, url, declared_type, next_attempt_at, created_at, updated_at)
	VALUES ('SMinupgrademms', 0, 'in_upgrade_mms', 'https://api.twilio.com/upgrade/Media/ME0', 'image/jpeg',
		1893553445000000, 1893553445000000, 1893553445000000);`},
	40: {Data: storetest.FixtureRetention, SQL: `INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends,
		checks, max_sends, max_checks, expires_at, version, created_at, updated_at, redacted_at)
	VALUES ('ver_upgrade_2', 'approved', '+14155550105', 'sms', 'builtin', 6, 1, 1, 5, 5, 1893554045000000, 2,
		1893553445000000, 1893553445000000, 1893557045000000);`},
	50: {Data: storetest.FixtureMediaBlobs, SQL: `INSERT INTO media_blobs (sha256, data, size, created_at)
	VALUES ('184db4c944959c1ef9d6b305bab6de1d212ff9331806e1e4976d3a38d7d783e8', X'75706772616465206d6564696120626c6f62', 18,
		1893553445000000);`},
	90: {Data: storetest.FixtureMessageMetadata, SQL: `INSERT INTO messages (id, status, channel, category, to_number, from_number, body,
		metadata, segments, encoding, next_attempt_at, created_at, updated_at)
	VALUES ('msg_upgrade_meta', 'sent', 'sms', 'transactional', '+14155550111', '+15005550006', 'meta fixture',
		'{"order":"A-9"}', 1, 'GSM-7', 1893553445000000, 1893553445000000, 1893553445000000);
	INSERT INTO message_metadata (key, value, message_id) VALUES ('order', 'A-9', 'msg_upgrade_meta');`},
	91: {Data: storetest.FixtureCallMetadata, SQL: `INSERT INTO calls (id, token, status, version, created_at, data)
	VALUES ('call_upgrade_meta', 'tok_upgrade_meta', 'completed', 1, 1893553445000000,
		'` + storetest.UpgradeCallMetaJSON + `');
	INSERT INTO call_metadata (key, value, call_id) VALUES ('visit', '88', 'call_upgrade_meta');`},
}

// repairAsLanded is what repairs a database made with a broken as-landed migration before it
// is upgraded, as docs/production.md tells operators (see storetest.Engine.RepairAsLanded).
var repairAsLanded = map[int]string{
	7: `ALTER TABLE app_events ADD COLUMN targets TEXT;`,
	8: `DROP INDEX messages_created;`,
	10: `DROP INDEX verifications_pending_phone;
	CREATE UNIQUE INDEX verifications_pending_phone ON verifications (phone) WHERE status = 'pending';`,
	30: `ALTER TABLE media_downloads DROP COLUMN channel;
	ALTER TABLE media_downloads DROP COLUMN from_number;
	ALTER TABLE media_downloads DROP COLUMN to_number;`,
}

// migrationsAsLanded are the original texts of the migrations edited after they landed (taken
// from git: the text of the commit that added each), for the databases the builds in between made.
//
//go:embed testdata/migrations_as_landed/*.sql
var migrationsAsLanded embed.FS

// brokenAsLanded: the as-landed migrations whose databases do not upgrade (see
// storetest.Engine.BrokenAsLanded), with what the failure says.
var brokenAsLanded = map[int]string{
	// 0007 as landed had no app_events.targets (added to the file 21 minutes later): the store
	// cannot prepare its event insert.
	7: "no column named targets",
	// 0008 as landed made an index messages_created (removed from the file later); 0080 creates
	// another index of that name.
	8: "index messages_created already exists",
	// 0010 as landed indexed pending verifications by phone without UNIQUE; 0150 replaces that
	// index with a unique one (per tenant), which upgrades such a database unless it holds two
	// pending verifications of one number (then 0150 fails until the repair ends one).
	// 0030 as landed had NOT NULL sender, recipient and channel columns in media_downloads,
	// which the store no longer writes.
	30: "NOT NULL constraint failed: media_downloads.channel",
}

func upgradeEngine(t *testing.T) storetest.Engine {
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Engine{
		Migrations: ms, Dialect: migrate.SQLite, Fixtures: upgradeFixtures,
		AsLanded: storetest.AsLanded(t, migrationsAsLanded), BrokenAsLanded: brokenAsLanded,
		RepairAsLanded: repairAsLanded,
		Empty: func(t *testing.T) (*sql.DB, func(t *testing.T) (switchboard.Store, error)) {
			path := filepath.Join(t.TempDir(), "switchboard.db")
			db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, func(t *testing.T) (switchboard.Store, error) {
				st, err := sqlite.Open(t.Context(), path)
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
