package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// BenchmarkListVerificationsByMetadata measures ListVerifications by one metadata pair of a
// tenant on 1,000,000 verifications of two tenants (the fill takes about a minute; run it with
// -bench ListVerificationsByMetadata -benchtime 2000x) and reports the p50 and p99 of one
// lookup: a rare pair (job_id, 10 verifications: the whole answer), the first page of a common
// one (customer, 1,000 verifications per value, all of one tenant), the same pair's first page
// of a status one in seven of them has (expired: the index is read past the others), and a page
// deep inside the common pair (a cursor).
func BenchmarkListVerificationsByMetadata(b *testing.B) {
	const n, jobs = 1_000_000, 100_000
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "vmeta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	// Tenant acme holds one verification in ten, default the rest; each has a job_id (10
	// verifications per value) and a customer (1,000 per value); one in seven is expired.
	err = db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1)
			INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends, checks, max_sends, max_checks,
				send_attempts, expires_at, version, created_at, updated_at, tenant, metadata)
			SELECT printf('ver_bench%012d', i), CASE WHEN i % 7 = 3 THEN 'expired' ELSE 'approved' END, printf('+1415555%04d', i % 10000),
				'sms', 'builtin', 6, 1, 1, 5, 5, '[]', ?3 + i, 2, ?3 + i, ?3 + i, CASE WHEN i % 10 = 7 THEN 'acme' ELSE 'default' END,
				json_object('job_id', CAST(i % ?2 AS TEXT), 'customer', 'c' || (i % 1000))
			FROM g`, n, jobs, micros(at)); err != nil {
			return err
		}
		_, err := t.exec(`INSERT INTO verification_metadata (tenant, key, value, verification_id)
			SELECT v.tenant, j.key, j.value, v.id FROM verifications v, json_each(v.metadata) j`)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d verifications with metadata in %v", n, time.Since(t0).Round(time.Millisecond))
	meta := func(k, v string) *switchboard.MetadataMatch { return &switchboard.MetadataMatch{Key: k, Value: v} }
	for _, tc := range []struct {
		name string
		f    func(i int) (switchboard.VerificationFilter, int)
	}{
		{"rare pair", func(i int) (switchboard.VerificationFilter, int) {
			job := i*7919%(jobs/10)*10 + 7 // a job of acme's
			return switchboard.VerificationFilter{Tenant: "acme", Metadata: meta("job_id", fmt.Sprint(job)), Limit: 50}, n / jobs
		}},
		{"common pair, first page", func(i int) (switchboard.VerificationFilter, int) {
			c := i%100*10 + 7
			return switchboard.VerificationFilter{Tenant: "acme", Metadata: meta("customer", fmt.Sprintf("c%d", c)), Limit: 50}, 50
		}},
		{"common pair and a status, first page", func(i int) (switchboard.VerificationFilter, int) {
			c := i%100*10 + 7
			return switchboard.VerificationFilter{Tenant: "default", Metadata: meta("customer", fmt.Sprintf("c%d", c-4)),
				Status: switchboard.VerificationExpired, Limit: 50}, 50
		}},
		{"common pair, deep page", func(i int) (switchboard.VerificationFilter, int) {
			c := i%100*10 + 7
			// The customer's verifications are i = c + 1000k; the cursor is the 500th newest.
			return switchboard.VerificationFilter{Tenant: "default", Metadata: meta("customer", fmt.Sprintf("c%d", c-1)),
				Cursor: fmt.Sprintf("ver_bench%012d", n-1000+c-1-499*1000), Limit: 50}, 50
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var took []time.Duration
			i := 0
			for b.Loop() {
				f, want := tc.f(i)
				i++
				t0 := time.Now()
				vs, _, err := db.ListVerifications(ctx, f)
				took = append(took, time.Since(t0))
				if err != nil || len(vs) != want {
					b.Fatalf("%+v: %d verifications, %v; want %d", f, len(vs), err, want)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
