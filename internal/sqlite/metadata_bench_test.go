package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// fillWithMetadata stores n messages as fillQueue does, and n calls, spread over three tenants,
// each with the metadata {"job_id", "customer"} of storetest.BenchListByMetadata's layout, and
// indexes that metadata with the statement of migration 0090's backfill (0091's for calls), each
// row under its tenant.
func fillWithMetadata(ctx context.Context, db *DB, n int, due time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		for _, q := range []string{
			`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1)
			INSERT INTO messages (id, tenant, status, channel, category, to_number, from_number, body, segments,
				encoding, metadata, next_attempt_at, created_at, updated_at)
			SELECT printf('msg_bench%012d', i), ` + storetest.MetaBenchTenantSQL + `, 'delivered', 'sms', 'transactional',
				printf('+1415555%04d', 100 + i % 100), '+15005550006',
				'Job #' || i || ' assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.', 1, 'GSM-7',
				json_object('job_id', ` + storetest.MetaBenchJobSQL + `, 'customer', ` + storetest.MetaBenchCustomerSQL + `),
				?2 + i, ?2 + i, ?2 + i
			FROM g`,
			`INSERT INTO message_metadata (tenant, key, value, message_id)
			SELECT m.tenant, j.key, j.value, m.id FROM messages m, json_each(m.metadata) j
			WHERE m.metadata IS NOT NULL AND json_valid(m.metadata) AND json_type(m.metadata) = 'object'
				AND j.type = 'text'`,
			// A finished call's document as CreateCall and UpdateCall leave it, without its timeline.
			`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1)
			INSERT INTO calls (id, token, tenant, status, provider_sid, version, created_at, data)
			SELECT printf('call_bench%012d', i), printf('tok%012d', i), ` + storetest.MetaBenchTenantSQL + `, 'completed',
				printf('CA%032d', i), 3, ?2 + i,
				json_object('id', printf('call_bench%012d', i), 'tenant', ` + storetest.MetaBenchTenantSQL + `,
					'status', 'completed', 'to', printf('+1415555%04d', 100 + i % 100), 'from', '+15005550006',
					'flow', 'appointment', 'flow_version', 1,
					'metadata', json_object('job_id', ` + storetest.MetaBenchJobSQL + `, 'customer', ` + storetest.MetaBenchCustomerSQL + `),
					'provider_sid', printf('CA%032d', i), 'outcome', 'confirmed', 'attempts', 1, 'max_attempts', 2,
					'created_at', '2030-01-01T00:00:00Z', 'updated_at', '2030-01-01T00:02:00Z', 'timeline', json_array())
			FROM g`,
			`INSERT INTO call_metadata (tenant, key, value, call_id)
			SELECT c.tenant, j.key, j.value, c.id FROM calls c, json_each(c.data, '$.metadata') j
			WHERE json_valid(c.data) AND json_type(c.data, '$.metadata') = 'object' AND j.type = 'text'`,
		} {
			if _, err := t.exec(q, n, micros(due)); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkListByMetadata measures a tenant's lookups of messages and calls by one metadata pair
// on 1,000,000 of each over three tenants (see storetest.BenchListByMetadata; the fill takes a
// couple of minutes). Run it with
//
//	go test ./internal/sqlite -run '^$' -bench ListByMetadata -benchtime 2000x
//
// The target is a p99 under 50 ms; the tenant-first index makes each a range read of its page,
// whatever the table's size and the other tenants' rows.
func BenchmarkListByMetadata(b *testing.B) {
	const n = 1_000_000
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	if err := fillWithMetadata(ctx, db, n, due); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d messages and %d calls with metadata in %v", n, n, time.Since(t0).Round(time.Millisecond))
	storetest.BenchListByMetadata(b, db, n, n)
}
