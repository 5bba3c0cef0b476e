package storetest

import (
	"database/sql"
	"fmt"
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
	// Fixtures holds, by migration version, SQL that inserts representative data right after that
	// migration is applied: SQL valid at that schema version, as a node of that version wrote it.
	// The data it inserts is the one CheckUpgradeFixtures reads back (see the fixture comments).
	Fixtures map[int]string
	// Empty returns a new, empty database (no table at all) and a function that opens the store
	// on it the way a node does, migrating it to the latest schema.
	Empty func(t *testing.T) (db *sql.DB, open func(t *testing.T) switchboard.Store)
}

// UpgradeTime is the time of every fixture row: 2030-01-02T03:04:05Z, 1893553445000000 µs.
var UpgradeTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// RunUpgrades upgrades a database created by each earlier schema version to the latest: for each
// k, a fresh database gets migrations 1..k one by one (each followed by its fixture, if any),
// then the store opens it — migrating it to the latest — and the fixtures' data is read back
// through the store API.
//
// The fixtures every engine provides (IDs and values fixed, so that one checker serves both):
//   - version 1: message msg_upgrade_1 (+15005550006 → +14155550100, body "upgrade fixture",
//     status delivered, provider SID SMupgrade1, metadata {"job":"1042"}) with two events
//     (created/queued by api, then status/delivered by provider); API key key_upgrade ("fixture",
//     hash "upgradehash"); inbound message in_upgrade_1 (SID SMinupgrade1, +14155550100 →
//     +15005550006, body "STOP").
//     The upgrade must also thread them into one SMS conversation (1 inbound, 1 outbound).
//   - version 2: a consent record: +14155550100, scope "*", opted_out, source keyword.
func RunUpgrades(t *testing.T, e Engine) {
	if len(e.Migrations) < 2 {
		t.Fatalf("%d migrations: nothing to upgrade from", len(e.Migrations))
	}
	for k := 1; k < len(e.Migrations); k++ {
		from := e.Migrations[k-1]
		t.Run(fmt.Sprintf("from_%04d", from.Version), func(t *testing.T) {
			t.Parallel()
			db, open := e.Empty(t)
			applied := map[int]bool{}
			for _, m := range e.Migrations[:k] {
				if _, err := migrate.Up(t.Context(), db, e.Dialect, []migrate.Migration{m}); err != nil {
					t.Fatalf("applying %s: %v", m.Name, err)
				}
				if sql, ok := e.Fixtures[m.Version]; ok {
					if _, err := db.ExecContext(t.Context(), sql); err != nil {
						t.Fatalf("fixture of version %d: %v", m.Version, err)
					}
					applied[m.Version] = true
				}
			}
			st := open(t)
			CheckUpgradeFixtures(t, st, applied)
		})
	}
}

// CheckUpgradeFixtures reads the fixture data of the given versions through the store API (see
// RunUpgrades), then checks that the upgraded store still works: it accepts a message and claims
// nothing twice.
func CheckUpgradeFixtures(t *testing.T, st switchboard.Store, versions map[int]bool) {
	t.Helper()
	ctx := t.Context()
	if versions[1] {
		m, err := st.GetMessage(ctx, "msg_upgrade_1")
		if err != nil {
			t.Fatalf("message written at version 1: %v", err)
		}
		if m.Body != "upgrade fixture" || m.To != "+14155550100" || m.From != "+15005550006" ||
			m.Status != switchboard.StatusDelivered || m.ProviderSID != "SMupgrade1" || m.Metadata["job"] != "1042" ||
			!m.CreatedAt.Equal(UpgradeTime) {
			t.Errorf("message written at version 1 reads back as %+v", m)
		}
		if len(m.Events) != 2 || m.Events[0].Status != switchboard.StatusQueued || m.Events[1].Status != switchboard.StatusDelivered ||
			m.Events[1].Actor != "provider" || !m.Events[1].At.Equal(UpgradeTime.Add(time.Second)) {
			t.Errorf("timeline written at version 1 reads back as %d events: %+v", len(m.Events), m.Events)
		}
		k, err := st.GetAPIKeyByHash(ctx, "upgradehash")
		if err != nil || k.ID != "key_upgrade" || k.Name != "fixture" {
			t.Errorf("API key written at version 1: %+v, %v", k, err)
		}
		in, _, err := st.ListInbound(ctx, switchboard.InboundFilter{From: "+14155550100", Limit: 10})
		if err != nil || len(in) != 1 || in[0].ID != "in_upgrade_1" || in[0].Body != "STOP" || in[0].ProviderSID != "SMinupgrade1" {
			t.Errorf("inbound message written at version 1: %+v, %v", in, err)
		}
		// Conversations came later: the migration that added them threads the old messages.
		convs, _, err := st.ListConversations(ctx, switchboard.ConversationFilter{TheirNumber: "+14155550100", Limit: 10})
		if err != nil || len(convs) != 1 || convs[0].OurNumber != "+15005550006" || convs[0].Channel != switchboard.ChannelSMS ||
			convs[0].InboundCount != 1 || convs[0].OutboundCount != 1 {
			t.Errorf("conversation of the version-1 messages after the upgrade: %v", err)
			for _, c := range convs {
				t.Logf("  %+v", c)
			}
		}
	}
	if versions[2] {
		c, err := st.LatestConsent(ctx, "+14155550100", []string{switchboard.ScopeAll})
		if err != nil || c == nil || c.State != switchboard.ConsentOptedOut || c.Source != switchboard.ConsentFromKeyword || !c.At.Equal(UpgradeTime) {
			t.Errorf("consent written at version 2: %+v, %v", c, err)
		}
	}
	// The upgraded store takes new work.
	m := newMessage(UpgradeTime.Add(time.Minute))
	if _, _, err := st.CreateMessage(ctx, m, nil); err != nil {
		t.Fatalf("CreateMessage on the upgraded store: %v", err)
	}
	got, err := st.GetMessage(ctx, m.ID)
	if err != nil || got.Body != m.Body {
		t.Errorf("message created after the upgrade: %+v, %v", got, err)
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
	applied := map[int]bool{}
	for _, m := range append(append([]migrate.Migration(nil), e.Migrations...), FutureMigration) {
		if _, err := migrate.Up(t.Context(), db, e.Dialect, []migrate.Migration{m}); err != nil {
			t.Fatalf("applying %s: %v", m.Name, err)
		}
		if sql, ok := e.Fixtures[m.Version]; ok {
			if _, err := db.ExecContext(t.Context(), sql); err != nil {
				t.Fatalf("fixture of version %d: %v", m.Version, err)
			}
			applied[m.Version] = true
		}
	}
	st := open(t)
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
