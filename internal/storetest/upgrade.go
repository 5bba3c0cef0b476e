package storetest

import (
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
)

// Engine describes one store engine to the upgrade tests (RunUpgrades, RunOlderNode).
type Engine struct {
	// Migrations are the engine's migrations, in order; Dialect is its migrate dialect.
	Migrations []migrate.Migration
	Dialect    migrate.Dialect
	// Fixtures holds, by migration version, the data a node of that schema version wrote: SQL
	// valid right after that migration, inserting the rows of one Fixture that CheckUpgradeFixtures
	// reads back. The versions are the engine's own (its migration file numbers); renumbering the
	// migrations only changes this map's keys.
	Fixtures map[int]Fixture
	// AsLanded holds, by version, the text a migration had when it landed, for the migrations
	// edited since (the git history says which): databases made by the builds between the two
	// carry the original. RunUpgrades builds one more database per entry with that text.
	AsLanded map[int]string
	// BrokenAsLanded names, by version, the as-landed migrations a database made with cannot
	// be upgraded, with a piece of the error the upgrade (or the check after it) fails with.
	// RunUpgrades expects that failure, so that a repair shows up as a test to update.
	BrokenAsLanded map[int]string
	// RepairAsLanded holds, by version, the SQL that repairs a database made with that broken
	// as-landed migration before it is upgraded (docs/production.md gives it to operators).
	// RunUpgrades checks that such a repaired database upgrades and reads back like the others.
	RepairAsLanded map[int]string
	// Empty returns a new, empty database (no table at all) and a function that opens the store
	// on it the way a node does, migrating it to the latest schema (closed when the test ends).
	Empty func(t *testing.T) (db *sql.DB, open func(t *testing.T) (switchboard.Store, error))
}

// Fixture is the SQL that writes one FixtureData at a schema version.
type Fixture struct {
	Data FixtureData
	SQL  string
}

// FixtureData names the rows a fixture writes (the same on every engine) and that
// CheckUpgradeFixtures checks. Every time is UpgradeTime or an offset of it; every ID is fixed.
type FixtureData string

const (
	// FixtureMessages (schema 1): message msg_upgrade_1 (+15005550006 → +14155550100, body "upgrade
	// fixture", status delivered, provider SID SMupgrade1, metadata {"job":"1042"}) with two events
	// (created/queued by api, then status/delivered by provider at +1 s); idempotency key
	// key_upgrade/idem-upgrade (request hash reqhash-upgrade) naming it; API key key_upgrade
	// ("fixture", hash "upgradehash"); inbound message in_upgrade_1 (SID SMinupgrade1,
	// +14155550100 → +15005550006, body "STOP"); sender +15005550006 (long_code, rate 1, burst 2,
	// pool "default", position 0) and the sticky pair (default, +14155550100) → +15005550006.
	// The upgrade must thread the messages into one SMS conversation (1 inbound, 1 outbound) and
	// index the metadata (job=1042 finds the message).
	FixtureMessages FixtureData = "messages"
	// FixtureConsent (schema 2): +14155550100, scope "*", opted_out, source keyword, at UpgradeTime.
	FixtureConsent FixtureData = "consent"
	// FixtureSenderBuckets (PostgreSQL's cluster-wide rate limiter): the bucket of +15005550006,
	// full until an hour after UpgradeTime, so no segment of it may go before 2030.
	FixtureSenderBuckets FixtureData = "sender_buckets"
	// FixturePolicy (message policy columns): message msg_upgrade_policy (+15005550006 →
	// +14155550110, status delivered, body "" after redaction at +1 h) with timezone
	// America/Chicago, template appointment v3, body SHA-256 "aa…" (64 a), length 42.
	FixturePolicy FixtureData = "policy"
	// FixtureEventLog (app events, endpoints, deliveries): event evt_upgrade_1 (message.delivered,
	// version 1, data {"id":"msg_upgrade_1"}, fanned out); endpoint ep_upgrade_1
	// (https://hooks.example.test/upgrade, "fixture endpoint", event types ["message.*"], one
	// secret whsec_upgrade, source api); a dead delivery dlv_upgrade_1 of that event to that
	// endpoint (5 attempts, last 500 "upgrade fixture error").
	FixtureEventLog FixtureData = "event_log"
	// FixtureEventRedaction (app_events.redacted_at): event evt_upgrade_2 (message.received,
	// data {"body":""}, redacted at +1 h, fanned out).
	FixtureEventRedaction FixtureData = "event_redaction"
	// FixtureConversations: WhatsApp conversation conv_upgrade_wa (+15005550007 ↔ +14155550101,
	// 1 inbound at UpgradeTime, created then); event evt_upgrade_3 (message.received, not fanned
	// out) targeted at ep_upgrade_1 alone.
	FixtureConversations FixtureData = "conversations"
	// FixtureDashboard: dashboard session hash "sessionhash-upgrade" of "admin" (API key hash
	// "upgradehash"), expiring at +24 h.
	FixtureDashboard FixtureData = "dashboard"
	// FixtureAlerts: alert state "queue_depth" firing since UpgradeTime.
	FixtureAlerts FixtureData = "alerts"
	// FixtureVerifications: pending verification ver_upgrade_1 (+14155550102, sms, builtin,
	// 6 digits, 1 send of 5 by message msg_upgrade_1, expires at +10 min, code hash/salt/sealed
	// "h"/"s"/"x"); refusal ref_upgrade_1 (rate_limited, +14155550102, retry after 60 s); block
	// of prefix +88216 (fraud, until +1 year); 3 hits on rate counter "phone:+14155550102" in the
	// hour from 03:00.
	FixtureVerifications FixtureData = "verifications"
	// FixtureCalls: completed call call_upgrade_1 (token tok_upgrade, SID CAupgrade1,
	// +15005550006 → +14155550103, flow reminder v2, variables {"name":"Ada"}, metadata
	// {"visit":"77"}, one timeline event).
	FixtureCalls FixtureData = "calls"
	// FixtureWhatsApp: WhatsApp message msg_upgrade_wa (status undelivered, content HXupgrade,
	// SMS fallback after 300 s, fallback pending and due at +5 min); conv_upgrade_wa's window
	// announced for its last inbound.
	FixtureWhatsApp FixtureData = "whatsapp"
	// FixtureReadiness: the readiness row, checked at UpgradeTime.
	FixtureReadiness FixtureData = "readiness"
	// FixtureMediaDownloads: inbound MMS in_upgrade_mms (SMinupgrademms, +14155550104 →
	// +15005550006, 1 medium) and its queued download (index 0, image/jpeg, due at UpgradeTime).
	FixtureMediaDownloads FixtureData = "media_downloads"
	// FixtureRetention (calls/verifications redacted_at): approved verification ver_upgrade_2
	// (+14155550105) redacted at +1 h.
	FixtureRetention FixtureData = "retention"
	// FixtureMediaBlobs: the blob "upgrade media blob" under its SHA-256.
	FixtureMediaBlobs FixtureData = "media_blobs"
	// FixtureMessageMetadata: message msg_upgrade_meta (metadata {"order":"A-9"}) and its index row.
	FixtureMessageMetadata FixtureData = "message_metadata"
	// FixtureCallMetadata: call call_upgrade_meta (metadata {"visit":"88"}) and its index row.
	FixtureCallMetadata FixtureData = "call_metadata"
)

// UpgradeTime is the time of every fixture row: 2030-01-02T03:04:05Z, 1893553445000000 µs.
var UpgradeTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// UpgradeCallJSON is FixtureCalls' call as the node that added calls stored it (calls.data).
const UpgradeCallJSON = `{"id":"call_upgrade_1","status":"completed","to":"+14155550103","from":"+15005550006",` +
	`"flow":"reminder","flow_version":2,"metadata":{"visit":"77"},"machine_detection":false,"ring_timeout":30,` +
	`"provider_sid":"CAupgrade1","step":0,"attempts":1,"max_attempts":3,"retry_delay":60,` +
	`"created_at":"2030-01-02T03:04:05Z","updated_at":"2030-01-02T03:04:05Z",` +
	`"timeline":[{"seq":1,"at":"2030-01-02T03:04:05Z","type":"status","status":"completed"}],` +
	`"variables":{"name":"Ada"},"token":"tok_upgrade"}`

// UpgradeCallMetaJSON is FixtureCallMetadata's call (calls.data).
const UpgradeCallMetaJSON = `{"id":"call_upgrade_meta","status":"completed","to":"+14155550106","from":"+15005550006","flow":"reminder","flow_version":2,"metadata":{"visit":"88"},"token":"tok_upgrade_meta","machine_detection":false,"ring_timeout":30,"step":0,"attempts":1,"max_attempts":1,"retry_delay":0,"created_at":"2030-01-02T03:04:05Z","updated_at":"2030-01-02T03:04:05Z","timeline":[]}`

// UpgradeBlob is FixtureMediaBlobs' content; its SHA-256 is the blob's key.
const UpgradeBlob = "upgrade media blob"

// RunUpgrades upgrades a database created by each earlier schema version to the latest: for each
// k, a fresh database gets migrations 1..k one by one (each followed by its fixture, if any),
// then the store opens it — migrating it to the latest — and the fixtures' data is read back
// through the store API (CheckUpgradeFixtures). Then, for each migration edited after it landed
// (Engine.AsLanded), a database with the migrations and fixtures before it and that one in its
// original text is upgraded and checked the same way.
func RunUpgrades(t *testing.T, e Engine) {
	if len(e.Migrations) < 2 {
		t.Fatalf("%d migrations: nothing to upgrade from", len(e.Migrations))
	}
	known := map[int]bool{}
	for _, m := range e.Migrations {
		known[m.Version] = true
	}
	for v := range e.Fixtures {
		if !known[v] {
			t.Errorf("a fixture for version %d, which no migration has", v)
		}
	}
	for v := range e.AsLanded {
		if !known[v] {
			t.Errorf("an as-landed text for version %d, which no migration has", v)
		}
	}
	for k := 1; k < len(e.Migrations); k++ {
		from := e.Migrations[k-1]
		t.Run(fmt.Sprintf("from_%04d", from.Version), func(t *testing.T) {
			t.Parallel()
			db, open := e.Empty(t)
			applied := buildOld(t, db, e, e.Migrations[:k])
			CheckUpgradeFixtures(t, mustOpen(t, open), applied)
		})
	}
	for k, m := range e.Migrations {
		orig, ok := e.AsLanded[m.Version]
		if !ok {
			continue
		}
		// asLanded builds a database with the migrations before m and their fixtures, then m in
		// its original text.
		asLanded := func(t *testing.T) (*sql.DB, func(t *testing.T) (switchboard.Store, error), map[FixtureData]bool) {
			db, open := e.Empty(t)
			applied := buildOld(t, db, e, e.Migrations[:k])
			if _, err := migrate.Up(t.Context(), db, e.Dialect, []migrate.Migration{{Version: m.Version, Name: m.Name, SQL: orig}}); err != nil {
				t.Fatalf("applying %s as it landed: %v", m.Name, err)
			}
			return db, open, applied
		}
		if repair, ok := e.RepairAsLanded[m.Version]; ok {
			t.Run(fmt.Sprintf("as_landed_%04d_repaired", m.Version), func(t *testing.T) {
				t.Parallel()
				db, open, applied := asLanded(t)
				if _, err := db.ExecContext(t.Context(), repair); err != nil {
					t.Fatalf("repairing a database made with %s as it landed: %v", m.Name, err)
				}
				CheckUpgradeFixtures(t, mustOpen(t, open), applied)
			})
		}
		t.Run(fmt.Sprintf("as_landed_%04d", m.Version), func(t *testing.T) {
			t.Parallel()
			_, open, applied := asLanded(t)
			broken, isBroken := e.BrokenAsLanded[m.Version]
			if !isBroken {
				CheckUpgradeFixtures(t, mustOpen(t, open), applied)
				return
			}
			// A known break: the upgrade or the store on the upgraded database fails as described.
			err := tryUpgrade(t, open)
			if err == nil || !strings.Contains(err.Error(), broken) {
				t.Errorf("a database made with %s as it landed: want a failure with %q, got %v (repaired? update BrokenAsLanded)", m.Name, broken, err)
			}
		})
	}
}

// buildOld applies ms one by one to db, each followed by its fixture, and returns the fixtures
// written.
func buildOld(t *testing.T, db *sql.DB, e Engine, ms []migrate.Migration) map[FixtureData]bool {
	t.Helper()
	applied := map[FixtureData]bool{}
	for _, m := range ms {
		if _, err := migrate.Up(t.Context(), db, e.Dialect, []migrate.Migration{m}); err != nil {
			t.Fatalf("applying %s: %v", m.Name, err)
		}
		if f, ok := e.Fixtures[m.Version]; ok {
			if _, err := db.ExecContext(t.Context(), f.SQL); err != nil {
				t.Fatalf("fixture %s of version %d: %v", f.Data, m.Version, err)
			}
			applied[f.Data] = true
		}
	}
	return applied
}

// tryUpgrade migrates db to the latest schema and runs the post-upgrade smoke checks, returning
// the first error instead of failing the test.
func tryUpgrade(t *testing.T, open func(t *testing.T) (switchboard.Store, error)) error {
	t.Helper()
	st, err := open(t)
	if err != nil {
		return err
	}
	return upgradedStoreWorks(t.Context(), st)
}

// mustOpen opens the store on an old database, failing the test if that fails.
func mustOpen(t *testing.T, open func(t *testing.T) (switchboard.Store, error)) switchboard.Store {
	t.Helper()
	st, err := open(t)
	if err != nil {
		t.Fatalf("opening (and upgrading) the old database: %v", err)
	}
	return st
}

// CheckUpgradeFixtures reads the data of the given fixtures through the store API (see the
// FixtureData constants), then checks that the upgraded store takes new work of every kind.
func CheckUpgradeFixtures(t *testing.T, st switchboard.Store, data map[FixtureData]bool) {
	t.Helper()
	// First, before the checks below write rows of other tenants.
	checkUpgradedIntoDefaultTenant(t, st, data)
	for _, c := range fixtureChecks {
		if data[c.data] {
			c.check(t, st, data)
		}
	}
	if err := upgradedStoreWorks(t.Context(), st); err != nil {
		t.Errorf("the upgraded store: %v", err)
	}
}

// FutureMigration is an additive migration of a release newer than this code: a column with a
// default on messages and a new table. RunOlderNode applies it, then this code's store — an
// N-1 node in a rolling upgrade — must keep working on that schema.
var FutureMigration = migrate.Migration{
	Version: 999999,
	Name:    "999999_future_additive.sql",
	SQL: `ALTER TABLE messages ADD COLUMN future_priority INTEGER NOT NULL DEFAULT 0;
CREATE TABLE future_notes (id TEXT PRIMARY KEY, note TEXT NOT NULL);
INSERT INTO future_notes (id, note) VALUES ('n1', 'written by release N+1');`,
}

// RunOlderNode checks the rule that makes rolling upgrades safe: migrations within a release
// series are additive, so a node of the previous version works on the newer schema. The
// database gets every migration of this code plus FutureMigration (as a newer node would apply
// it); this code's store then opens it — leaving the unknown version alone, not failing on it —
// reads what is there, accepts and reads new messages, and the newer node's data survives.
func RunOlderNode(t *testing.T, e Engine) {
	t.Parallel()
	db, open := e.Empty(t)
	applied := buildOld(t, db, e, append(append([]migrate.Migration(nil), e.Migrations...), FutureMigration))
	st := mustOpen(t, open)
	CheckUpgradeFixtures(t, st, applied)
	done, err := migrate.Applied(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !done[FutureMigration.Version] {
		t.Error("the older node dropped the newer migration's record")
	}
	var note string
	if err := db.QueryRowContext(t.Context(), "SELECT note FROM future_notes WHERE id = 'n1'").Scan(&note); err != nil || note != "written by release N+1" {
		t.Errorf("the newer release's data: %q, %v", note, err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM messages WHERE future_priority = 0").Scan(&n); err != nil || n < 2 {
		t.Errorf("messages the older node wrote on the newer schema: %d with the new column's default, %v", n, err)
	}
}

// AsLanded reads the as-landed migration texts in fsys's testdata/migrations_as_landed (files
// named as the migrations they were) for Engine.AsLanded.
func AsLanded(t *testing.T, fsys fs.FS) map[int]string {
	t.Helper()
	ms, err := migrate.Load(fsys, "testdata/migrations_as_landed")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, m := range ms {
		out[m.Version] = m.SQL
	}
	return out
}
