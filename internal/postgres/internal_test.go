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
			provider_sid, lease_owner, lease_until, created_at, updated_at, tenant)
		SELECT 'msg_' || lpad(i::text, 12, '0'),
			CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 99 THEN 'queued' ELSE 'sending' END,
			'sms', 'transactional', '+1555' || (i % 5000), '+1500' || (i % 20), 'body',
			$1::timestamptz + i * interval '1 second',
			CASE WHEN i % 100 < 90 OR i % 100 = 99 THEN 'SM' || i END,
			CASE WHEN i % 1000 = 95 THEN 'node-a' END, CASE WHEN i % 1000 = 95 THEN $1::timestamptz END,
			$1::timestamptz, $1::timestamptz + i * interval '1 second',
			CASE WHEN i % 1000 = 7 THEN 'acme' ELSE 'default' END
		FROM generate_series(1, 30000) i`,
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

	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		// A sender with a twentieth of the queue: the planner must not walk the whole queue in
		// time order and filter by sender.
		{"claim", qClaim, []any{"o", later, "+150012", later, 10}, []string{"messages_due"}},
		{"due senders", qDueSenders, []any{later}, []string{"messages_due"}},
		{"next due", qNextDue, nil, []string{"messages_next", "messages_leased"}},
		{"release", qReleaseLeases, []any{"o"}, []string{"messages_leased"}},
		{"stale", qStaleSending, []any{now, 10}, []string{"messages_sending"}},
		{"by sid", qLockMessageBySID, []any{"SM12"}, []string{"messages_provider_sid"}},
		{"pending", qPendingCallbacks, []any{"SM12"}, []string{"webhook_events_pending"}},
		{"events", qEvents, []any{"msg_000000000012"}, []string{"message_events_message"}},
		{"list", "SELECT id FROM messages ORDER BY id DESC LIMIT 10", nil, []string{"messages_pkey"}},
		// A small tenant's listings read its own index entries (tenant first), not every tenant's.
		{"list tenant", "SELECT id FROM messages WHERE tenant = $1 AND id < $2 ORDER BY id DESC LIMIT 10", []any{"acme", "msg_000000020000"}, []string{"messages_tenant"}},
		// Verifications by metadata read a range of verification_metadata's primary key (tenant
		// first) and only the verifications listed; never a scan of verifications.
		{"verifications by metadata", verMetaQuery, verMetaArgs, []string{"verification_metadata_pkey", "verifications_pkey"}},
		{"verifications by metadata, to and status", verMetaToQuery, verMetaToArgs, []string{"verification_metadata_pkey", "verifications_pkey"}},
		{"list to", "SELECT id FROM messages WHERE tenant = $3 AND to_number = $1 AND id < $2 ORDER BY id DESC LIMIT 10", []any{"+15551", "msg_000000020000", "default"}, []string{"messages_to"}},
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
