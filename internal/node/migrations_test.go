package node_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// legacyNumbering is the first migrations of each engine, numbered apart before the engines
// agreed on one numbering (from 0020 on). They are never renumbered: a database records the
// versions it applied, so a renumbered file would run again on it, and a node of the previous
// release would re-run its own numbers on a renumbered database during a rolling upgrade
// (docs/architecture.md, "Migrations").
var legacyNumbering = map[string][]string{
	"sqlite": {"0001_init.sql", "0002_consent.sql", "0003_message_policy.sql", "0004_app_events.sql",
		"0005_app_events_redaction.sql", "0006_app_events_lean.sql", "0007_conversations.sql", "0008_dashboard.sql",
		"0009_observe.sql", "0010_verifications.sql", "0011_calls.sql", "0013_whatsapp.sql"},
	"postgres": {"0001_init.sql", "0002_consent.sql", "0003_sender_buckets.sql", "0004_message_policy.sql",
		"0005_app_events.sql", "0006_app_events_redaction.sql", "0007_deliveries_event_seq.sql", "0008_conversations.sql",
		"0009_dashboard.sql", "0010_observe.sql", "0011_verifications.sql", "0012_calls.sql", "0014_whatsapp.sql"},
}

// engineOnly are the migrations from 0020 on that one engine needs and the other does not, each
// with its reason; every other number names the same change in both engines.
var engineOnly = map[string]string{
	"postgres/0071_conversations_pair_not_unique.sql": "SQLite's conversations never had the second unique index",
	"postgres/0170_usage_per_statement.sql": "SQLite updates a row in place: its per-row usage triggers are not quadratic " +
		"within a statement, and it has no statement triggers",
}

// TestMigrationsNumberedAlike: from 0020 on, a migration number names the same change (the same
// file name) in both engines, or the change is listed in engineOnly with its reason; below 0020
// the engines' legacy numbering is frozen (no migration may be added or renamed there).
func TestMigrationsNumberedAlike(t *testing.T) {
	t.Parallel()
	lite, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	byEngine := map[string][]migrate.Migration{"sqlite": lite, "postgres": pg}
	names := map[string]map[int]string{}
	for engine, ms := range byEngine {
		names[engine] = map[int]string{}
		var legacy []string
		for _, m := range ms {
			names[engine][m.Version] = m.Name
			if m.Version < 20 {
				legacy = append(legacy, m.Name)
			}
		}
		if !slices.Equal(legacy, legacyNumbering[engine]) {
			t.Errorf("%s: migrations below 0020 are %v; the legacy numbering is frozen at %v (number a new migration from 0020 on, alike in both engines)",
				engine, legacy, legacyNumbering[engine])
		}
	}
	versions := slices.Sorted(maps.Keys(names["sqlite"]))
	for v := range maps.Keys(names["postgres"]) {
		if !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	for _, v := range versions {
		if v < 20 {
			continue
		}
		l, p := names["sqlite"][v], names["postgres"][v]
		switch {
		case l != "" && p != "" && l != p:
			t.Errorf("version %d is %s on SQLite and %s on PostgreSQL: one number, one change", v, l, p)
		case l == "" && engineOnly["postgres/"+p] == "":
			t.Errorf("postgres/%s has no SQLite counterpart: add one with the same name, or list it in engineOnly with the reason", p)
		case p == "" && engineOnly["sqlite/"+l] == "":
			t.Errorf("sqlite/%s has no PostgreSQL counterpart: add one with the same name, or list it in engineOnly with the reason", l)
		}
	}
}
