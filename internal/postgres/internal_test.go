package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

// TestQueryPlans pins the indexes that keep the dispatcher's and the webhook's queries
// independent of the number of messages, on a table shaped like production's: mostly finished
// messages of many senders, some queued, few leased or at the provider.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO messages (id, status, channel, category, to_number, from_number, body, next_attempt_at,
			provider_sid, lease_owner, lease_until, created_at, updated_at, tenant, metadata)
		SELECT 'msg_' || lpad(i::text, 12, '0'),
			CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 99 THEN 'queued' ELSE 'sending' END,
			'sms', 'transactional', '+1555' || (i % 5000), '+1500' || (i % 20), 'body',
			$1::timestamptz + i * interval '1 second',
			CASE WHEN i % 100 < 90 OR i % 100 = 99 THEN 'SM' || i END,
			CASE WHEN i % 1000 = 95 THEN 'node-a' END, CASE WHEN i % 1000 = 95 THEN $1::timestamptz END,
			$1::timestamptz, $1::timestamptz + i * interval '1 second',
			CASE WHEN i % 1000 = 7 THEN 'acme' ELSE 'default' END,
			jsonb_build_object('job_id', (i % 3001)::text, 'customer', 'c' || i % 101)
		FROM generate_series(1, 30000) i`,
		// Metadata as the stores index it (0090's backfill, under each row's tenant): both tenants
		// have rows of each customer, and acme's job_id=7 shares its value with default's rows.
		`INSERT INTO message_metadata (tenant, key, value, message_id)
			SELECT m.tenant, j.key, j.value #>> '{}', m.id FROM messages m, jsonb_each(m.metadata) j`,
		`INSERT INTO calls (id, token, status, version, created_at, tenant, data)
		SELECT 'call_' || lpad(i::text, 12, '0'), 'tok' || i, 'completed', 1, $1::timestamptz,
			CASE WHEN i % 1000 = 7 THEN 'acme' ELSE 'default' END,
			jsonb_build_object('metadata', jsonb_build_object('job_id', (i % 3001)::text, 'customer', 'c' || i % 101))
		FROM generate_series(1, 30000) i`,
		`INSERT INTO call_metadata (tenant, key, value, call_id)
			SELECT c.tenant, j.key, j.value #>> '{}', c.id FROM calls c, jsonb_each(c.data -> 'metadata') j`,
		`INSERT INTO message_events (message_id, type, at) SELECT id, 'created', created_at FROM messages`,
		`INSERT INTO message_events (message_id, type, at) SELECT id, 'callback', created_at FROM messages`,
		`INSERT INTO webhook_events (dedupe_key, provider_sid, provider_status, status, applied, received_at)
			SELECT provider_sid || '/delivered', provider_sid, 'delivered', 'delivered', true, $1::timestamptz
			FROM messages WHERE provider_sid IS NOT NULL`,
		// Verifications of two tenants, each with a job_id of its own: one pair is a few rows of
		// one tenant among many.
		`INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends, checks, max_sends, max_checks,
			expires_at, version, created_at, updated_at, tenant, metadata)
		SELECT 'ver_' || lpad(i::text, 12, '0'), 'approved', '+1555' || (i % 5000), 'sms', 'builtin', 6, 1, 0, 5, 5,
			$1::timestamptz, 1, $1::timestamptz, $1::timestamptz, CASE WHEN i % 10 = 7 THEN 'acme' ELSE 'default' END,
			jsonb_build_object('job_id', (i % 1000)::text)
		FROM generate_series(1, 30000) i`,
		`INSERT INTO verification_metadata (tenant, key, value, verification_id)
			SELECT v.tenant, j.key, j.value, v.id FROM verifications v, jsonb_each_text(v.metadata) j`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{now}
		}
		if _, err := db.pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	later := now.Add(24 * time.Hour) // every queued message is due
	verMeta := &switchboard.MetadataMatch{Key: "job_id", Value: "7"}
	verMetaQuery, verMetaArgs := sqlstore.VerificationsQuery(&sqlstore.Where{Numbered: true}, switchboard.VerificationFilter{Tenant: "acme",
		Metadata: verMeta, Cursor: "ver_000000020000"}, 50)
	verMetaToQuery, verMetaToArgs := sqlstore.VerificationsQuery(&sqlstore.Where{Numbered: true}, switchboard.VerificationFilter{Tenant: "acme",
		To: "+15557", Status: switchboard.VerificationApproved, Metadata: verMeta}, 50)
	// A tenant's lookups by metadata as ListMessages and ListCalls make them: a small tenant's
	// rare pair, a large tenant's common pair (1 row in 101), its first page and a deep one.
	job := &switchboard.MetadataMatch{Key: "job_id", Value: "7"}
	customer := &switchboard.MetadataMatch{Key: "customer", Value: "c3"}
	metaQuery := func(tenant string, m *switchboard.MetadataMatch, cursor string) (string, []any) {
		return sqlstore.MessagesQuery(&sqlstore.Where{Numbered: true}, sqlstore.MessageCols, tenant, m, cursor, 50)
	}
	metaRare, metaRareArgs := metaQuery("acme", job, "")
	metaFirst, metaFirstArgs := metaQuery("default", customer, "")
	metaDeep, metaDeepArgs := metaQuery("default", customer, "msg_000000020000")
	callsRare, callsRareArgs := callsQuery(switchboard.CallFilter{Tenant: "acme", Metadata: job, Limit: 50})
	callsFirst, callsFirstArgs := callsQuery(switchboard.CallFilter{Tenant: "default", Metadata: customer, Limit: 50})
	callsDeep, callsDeepArgs := callsQuery(switchboard.CallFilter{Tenant: "default", Metadata: customer, Before: "call_000000020000", Limit: 50})
	// The metadata index is read in page order from the tenant's own entries (the tenant in its
	// Index Cond, not a Filter over every tenant's): no sort, and each listed row is read by its
	// ID, not by walking the table's primary key beside the index (a merge join would walk it from
	// the newest row down to a deep page's cursor). These are the plans on 1,000,000 rows too
	// (docs/performance.md).
	metaPlan := []string{"Scan Backward using message_metadata_pkey", "Index Cond: ((tenant = ", "Index Scan using messages_pkey", "Index Cond: (id = mm.message_id)"}
	callPlan := []string{"Scan Backward using call_metadata_pkey", "Index Cond: ((tenant = ", "Index Scan using calls_pkey", "Index Cond: (id = cm.call_id)"}
	metaNot := []string{"Sort", "Filter:", "Merge Join", "Hash Join"}
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
		notWant     []string
	}{
		// A sender with a twentieth of the queue: the planner must not walk the whole queue in
		// time order and filter by sender.
		{"claim", qClaim, []any{"o", later, "+150012", later, 10}, []string{"messages_due"}, nil},
		{"due senders", qDueSenders, []any{later}, []string{"messages_due"}, nil},
		{"next due", qNextDue, nil, []string{"messages_next", "messages_leased"}, nil},
		{"release", qReleaseLeases, []any{"o"}, []string{"messages_leased"}, nil},
		{"stale", qStaleSending, []any{now, 10}, []string{"messages_sending"}, nil},
		{"by sid", qLockMessageBySID, []any{"SM12"}, []string{"messages_provider_sid"}, nil},
		{"pending", qPendingCallbacks, []any{"SM12"}, []string{"webhook_events_pending"}, nil},
		{"events", qEvents, []any{"msg_000000000012"}, []string{"message_events_message"}, nil},
		{"list", "SELECT id FROM messages ORDER BY id DESC LIMIT 10", nil, []string{"messages_pkey"}, nil},
		// A small tenant's listings read its own index entries (tenant first), not every tenant's.
		{"list tenant", "SELECT id FROM messages WHERE tenant = $1 AND id < $2 ORDER BY id DESC LIMIT 10", []any{"acme", "msg_000000020000"}, []string{"messages_tenant"}, nil},
		{"list to", "SELECT id FROM messages WHERE tenant = $3 AND to_number = $1 AND id < $2 ORDER BY id DESC LIMIT 10", []any{"+15551", "msg_000000020000", "default"}, []string{"messages_to"}, nil},
		{"list by metadata, rare pair", metaRare, metaRareArgs, metaPlan, metaNot},
		{"list by metadata, first page", metaFirst, metaFirstArgs, metaPlan, metaNot},
		{"list by metadata, deep page", metaDeep, metaDeepArgs, metaPlan, metaNot},
		{"calls by metadata, rare pair", callsRare, callsRareArgs, callPlan, metaNot},
		{"calls by metadata, first page", callsFirst, callsFirstArgs, callPlan, metaNot},
		{"calls by metadata, deep page", callsDeep, callsDeepArgs, callPlan, metaNot},
		// Verifications by metadata read a range of verification_metadata's primary key (tenant
		// first) and only the verifications listed; never a scan of verifications.
		{"verifications by metadata", verMetaQuery, verMetaArgs, []string{"verification_metadata_pkey", "verifications_pkey"}, nil},
		{"verifications by metadata, to and status", verMetaToQuery, verMetaToArgs, []string{"verification_metadata_pkey", "verifications_pkey"}, nil},
	} {
		rows, err := db.pool.Query(ctx, "EXPLAIN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := strings.Join(plan, "\n")
		for _, w := range tc.want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: plan does not use %s:\n%s", tc.name, w, p)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(p, w) {
				t.Errorf("%s: plan has %s:\n%s", tc.name, w, p)
			}
		}
		if strings.Contains(p, "Seq Scan") {
			t.Errorf("%s: plan scans a table:\n%s", tc.name, p)
		}
	}
}

func TestWithSearchPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ base, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?options=-c%20search_path%3Dsbtest_1&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?options=-c%20search_path%3Dsbtest_1"},
		{"postgres://u@h/db?options=-c%20work_mem%3D1MB", "postgres://u@h/db?options=-c%20search_path%3Dsbtest_1"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db options='-c search_path=sbtest_1'"},
	} {
		if got := withSearchPath(tc.base, "sbtest_1"); got != tc.want {
			t.Errorf("withSearchPath(%q) = %q, want %q", tc.base, got, tc.want)
		}
	}
}

func TestSIDLockKey(t *testing.T) {
	t.Parallel()
	a, again, other := sidLockKey("SM1"), sidLockKey("SM1"), sidLockKey("SM2")
	if a != again || a == other {
		t.Fatal("SID lock keys are not a function of the SID")
	}
}
