package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// The layout of BenchListByMetadata's rows, which each engine's fill writes in SQL: row i (1 to
// n) of messages, and of calls, has the ID msg_bench%012d (call_bench%012d), belongs to tenant
// MetaBenchTenantSQL and has the metadata
// {"job_id": MetaBenchJobSQL, "customer": MetaBenchCustomerSQL}. The moduli are prime to 20, so
// every job and customer has rows in each tenant: a lookup that ignored the tenant would answer
// other tenants' rows. Both engines read these expressions (i an integer).
const (
	// MetaBenchTenantSQL gives 16 rows in 20 to acme, 3 to globex and 1 to initech.
	MetaBenchTenantSQL = `CASE WHEN i % 20 < 16 THEN 'acme' WHEN i % 20 < 19 THEN 'globex' ELSE 'initech' END`
	// MetaBenchJobSQL is the rare pair's value: about 12 rows of 1,000,000 per job, 10 of acme's.
	MetaBenchJobSQL = `CAST(i % 80001 AS TEXT)`
	// MetaBenchCustomerSQL is the common pair's: about 1,000 rows per customer, 800 of acme's.
	MetaBenchCustomerSQL = `'c' || CAST(i % 1001 AS TEXT)`

	metaBenchJobs, metaBenchCustomers = 80001, 1001
)

// metaBenchTenant is MetaBenchTenantSQL in Go.
func metaBenchTenant(i int) string {
	switch {
	case i%20 < 16:
		return "acme"
	case i%20 < 19:
		return "globex"
	}
	return "initech"
}

// metaBenchMessageID is the ID of message row i (the fills' printf('msg_bench%012d', i)),
// time-ordered as Switchboard's are.
func metaBenchMessageID(i int) string { return fmt.Sprintf("msg_bench%012d", i) }

// metaBenchCallID is the ID of call row i (printf('call_bench%012d', i)).
func metaBenchCallID(i int) string { return fmt.Sprintf("call_bench%012d", i) }

// metaBenchRows returns the rows 1..n of tenant whose value of a key taking i % mod is val,
// newest first, at most limit.
func metaBenchRows(n, mod, val int, tenant string, limit int) []int {
	var out []int
	for i := n - (n-val)%mod; i >= 1 && len(out) < limit; i -= mod {
		if metaBenchTenant(i) == tenant {
			out = append(out, i)
		}
	}
	return out
}

// metaBenchCase is one lookup: the k-th call asks tenant for its rows with key=value, the page
// after skip of them (the cursor is the ID of the skip-th), limit rows at most.
type metaBenchCase struct {
	name, tenant, key string
	mod               int
	value             func(k int) int
	skip, limit       int
}

// BenchListByMetadata measures the lookups of a tenant's messages and calls by one metadata pair,
// as the API makes them (ListMessages and ListCalls with the tenant set), on a store the caller
// filled with n messages and calls (calls 0: messages only) in the layout of MetaBenchTenantSQL.
// For messages, then calls, it reports the p50 and p99 of one lookup (p50-ms, p99-ms) of: a rare
// pair of the large tenant (job_id, about 10 rows: the whole answer), the first page (50) of one
// of its common pairs (customer, about 800 rows), a page deep inside it (after its 500 newest,
// through the cursor), and the first page of a common pair of the small tenant (initech, about
// 50 of the pair's 1,000 rows). Every answer must be exactly the tenant's rows expected, each
// checked to be of the tenant asked and to have the pair.
func BenchListByMetadata(b *testing.B, db switchboard.Store, n, calls int) {
	cases := []metaBenchCase{
		{"rare pair", "acme", "job_id", metaBenchJobs, func(k int) int { return k * 7919 % metaBenchJobs }, 0, 50},
		{"common pair, first page", "acme", "customer", metaBenchCustomers, func(k int) int { return k % metaBenchCustomers }, 0, 50},
		{"common pair, deep page", "acme", "customer", metaBenchCustomers, func(k int) int { return k % metaBenchCustomers }, 500, 50},
		{"small tenant, common pair", "initech", "customer", metaBenchCustomers, func(k int) int { return k % metaBenchCustomers }, 0, 50},
	}
	// lookup makes the k-th lookup of c on a store of n rows, timed; it checks the answer and
	// returns the lookup's time.
	type lookup func(b *testing.B, c metaBenchCase, n, k int) time.Duration
	run := func(b *testing.B, n int, look lookup) {
		for _, c := range cases {
			b.Run(c.name, func(b *testing.B) {
				var took []time.Duration
				k := 0
				for b.Loop() {
					took = append(took, look(b, c, n, k))
					k++
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
	// expect returns the k-th lookup's pair, its cursor row (0: none), the rows it must answer
	// and whether more follow them.
	expect := func(b *testing.B, c metaBenchCase, n, k int) (match *switchboard.MetadataMatch, cursor int, want []int, more bool) {
		v := c.value(k)
		match = &switchboard.MetadataMatch{Key: c.key, Value: strconv.Itoa(v)}
		if c.key == "customer" {
			match.Value = "c" + match.Value
		}
		rows := metaBenchRows(n, c.mod, v, c.tenant, c.skip+c.limit+1)
		if c.skip > 0 {
			if len(rows) <= c.skip {
				b.Fatalf("%s %v: the tenant has %d rows, not more than %d", c.tenant, match, len(rows), c.skip)
			}
			cursor = rows[c.skip-1]
		}
		want = rows[c.skip:]
		if more = len(want) > c.limit; more {
			want = want[:c.limit]
		}
		return match, cursor, want, more
	}
	b.Run("messages", func(b *testing.B) {
		run(b, n, func(b *testing.B, c metaBenchCase, n, k int) time.Duration {
			match, cursor, want, more := expect(b, c, n, k)
			f := switchboard.MessageFilter{Tenant: c.tenant, Metadata: match, Limit: c.limit}
			if cursor > 0 {
				f.Cursor = metaBenchMessageID(cursor)
			}
			t0 := time.Now()
			msgs, next, err := db.ListMessages(b.Context(), f)
			took := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			got := make([]string, len(msgs))
			for i, m := range msgs {
				got[i] = m.ID
				if m.Tenant != c.tenant || m.Metadata[match.Key] != match.Value {
					b.Fatalf("%+v: message %s of tenant %q with metadata %v", f, m.ID, m.Tenant, m.Metadata)
				}
			}
			checkMetaBenchPage(b, c, got, want, metaBenchMessageID)
			if wantNext := ""; more {
				if wantNext = metaBenchMessageID(want[len(want)-1]); next != wantNext {
					b.Fatalf("%+v: next %q, want %q", f, next, wantNext)
				}
			} else if next != "" {
				b.Fatalf("%+v: next %q, want none", f, next)
			}
			return took
		})
	})
	if calls == 0 {
		return
	}
	b.Run("calls", func(b *testing.B) {
		run(b, calls, func(b *testing.B, c metaBenchCase, n, k int) time.Duration {
			match, cursor, want, _ := expect(b, c, n, k)
			f := switchboard.CallFilter{Tenant: c.tenant, Metadata: match, Limit: c.limit}
			if cursor > 0 {
				f.Before = metaBenchCallID(cursor)
			}
			t0 := time.Now()
			cs, err := db.ListCalls(b.Context(), f)
			took := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			got := make([]string, len(cs))
			for i, x := range cs {
				got[i] = x.ID
				if x.Tenant != c.tenant || x.Metadata[match.Key] != match.Value {
					b.Fatalf("%+v: call %s of tenant %q with metadata %v", f, x.ID, x.Tenant, x.Metadata)
				}
			}
			checkMetaBenchPage(b, c, got, want, metaBenchCallID)
			return took
		})
	})
}

// checkMetaBenchPage fails b unless the IDs got are those of the rows want, in order.
func checkMetaBenchPage(b *testing.B, c metaBenchCase, got []string, want []int, id func(int) string) {
	b.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i] == id(want[i])
	}
	if !ok {
		ids := make([]string, len(want))
		for i, w := range want {
			ids[i] = id(w)
		}
		b.Fatalf("%s: got %v, want %v", c.name, got, ids)
	}
}
