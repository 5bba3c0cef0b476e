package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var usageTests = []test{
	{"CountsPerTenantAndDay", testUsageCounts},
	{"QuotaConcurrent", testQuotaConcurrent},
	{"QuotaSegments", testQuotaSegments},
	{"SpendCap", testSpendCap},
	{"QuotaReplay", testQuotaReplay},
	{"Prices", testPrices},
}

// limitedTenant stores a production tenant with the given daily limits.
func limitedTenant(t *testing.T, s switchboard.Store, id string, msgs, segs int, spendCents int64) {
	t.Helper()
	tn := &switchboard.Tenant{ID: id, Name: id, Environment: switchboard.EnvProduction, DailyMessages: msgs,
		DailySegments: segs, DailySpendCents: spendCents, CreatedAt: at(0), UpdatedAt: at(0)}
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant(%s): %v", id, err)
	}
}

// keyed is a message of tenant asked for by an application's key, created at created.
func keyed(tenant string, created time.Time) func(m *switchboard.Message) {
	return func(m *switchboard.Message) {
		m.Tenant, m.APIKeyID, m.CreatedAt, m.UpdatedAt, m.NextAttemptAt = tenant, "key_"+tenant, created, created, created
	}
}

func usageOf(t *testing.T, s switchboard.Store, f switchboard.UsageFilter) map[string]switchboard.Usage {
	t.Helper()
	rows, err := s.ListUsage(t.Context(), f)
	if err != nil {
		t.Fatalf("ListUsage(%+v): %v", f, err)
	}
	out := map[string]switchboard.Usage{}
	for i, u := range rows {
		if i > 0 && (rows[i-1].Day > u.Day || rows[i-1].Day == u.Day && rows[i-1].Tenant >= u.Tenant) {
			t.Errorf("ListUsage: row %d (%s %s) out of order", i, u.Day, u.Tenant)
		}
		out[u.Tenant+" "+u.Day] = *u
	}
	return out
}

func testUsageCounts(t *testing.T, s switchboard.Store) {
	limitedTenant(t, s, "acme", 0, 0, 0)
	day1 := time.Date(2031, 3, 4, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(2 * time.Second) // the next UTC day
	createAt(t, s, day1, keyed("acme", day1))
	createAt(t, s, day1, func(m *switchboard.Message) {
		keyed("acme", day1)(m)
		m.Segments = 3
	})
	createAt(t, s, day2, keyed("acme", day2))
	createAt(t, s, day1, keyed(switchboard.DefaultTenant, day1))
	createAt(t, s, day1, func(m *switchboard.Message) { m.CreatedAt, m.UpdatedAt = day1, day1 }) // no tenant: default

	c := newCall(newID("call"), day1)
	c.Tenant = "acme"
	if _, _, err := s.CreateCall(t.Context(), c, nil); err != nil {
		t.Fatal(err)
	}
	v := newVerification("+14155550177", day1)
	v.Tenant = "acme"
	if err := s.CreateVerification(t.Context(), v, nil); err != nil {
		t.Fatal(err)
	}

	got := usageOf(t, s, switchboard.UsageFilter{})
	want := map[string]switchboard.Usage{
		"acme 2031-03-04":    {Tenant: "acme", Day: "2031-03-04", Messages: 2, Segments: 4, Calls: 1, Verifications: 1},
		"acme 2031-03-05":    {Tenant: "acme", Day: "2031-03-05", Messages: 1, Segments: 1},
		"default 2031-03-04": {Tenant: "default", Day: "2031-03-04", Messages: 2, Segments: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("usage: %+v, want %+v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("usage %s: %+v, want %+v", k, got[k], w)
		}
	}
	if got := usageOf(t, s, switchboard.UsageFilter{Tenant: "acme", From: "2031-03-05", To: "2031-03-05"}); len(got) != 1 || got["acme 2031-03-05"].Messages != 1 {
		t.Errorf("usage of acme on 2031-03-05: %+v", got)
	}
	if got := usageOf(t, s, switchboard.UsageFilter{To: "2031-03-04"}); len(got) != 2 {
		t.Errorf("usage to 2031-03-04: %+v", got)
	}
	for _, f := range []switchboard.UsageFilter{{From: "2031-3-4"}, {To: "yesterday"}, {From: "2031-03-05", To: "2031-03-04"}} {
		if _, err := s.ListUsage(t.Context(), f); !switchboard.IsKind(err, switchboard.EINVALID) {
			t.Errorf("ListUsage(%+v): %v, want EINVALID", f, err)
		}
	}
}

// testQuotaConcurrent: 50 concurrent creates against a limit of 20 messages a day store exactly
// 20; the 30 others are refused with quota_exceeded and a Retry-After to the next UTC day, and
// Switchboard's own messages (no API key) still go.
func testQuotaConcurrent(t *testing.T, s switchboard.Store) {
	limitedTenant(t, s, "acme", 20, 0, 0)
	now := time.Date(2031, 3, 4, 18, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := newMessage(now)
			keyed("acme", now)(m)
			_, _, errs[i] = s.CreateMessage(t.Context(), m, nil)
		}()
	}
	wg.Wait()
	var ok, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case switchboard.ErrorCodeOf(err) == switchboard.CodeQuotaExceeded && switchboard.IsKind(err, switchboard.ERATELIMITED):
			refused++
			if rf := switchboard.RefusalOf(err); rf == nil || rf.RetryAfter != 6*time.Hour {
				t.Errorf("refusal %v: want a RetryAfter of 6h (to the next UTC midnight)", err)
			}
		default:
			t.Errorf("CreateMessage: %v", err)
		}
	}
	if ok != 20 || refused != 30 {
		t.Errorf("%d created and %d refused, want 20 and 30", ok, refused)
	}
	if got := usageOf(t, s, switchboard.UsageFilter{Tenant: "acme"}); got["acme 2031-03-04"].Messages != 20 {
		t.Errorf("usage: %+v, want 20 messages", got)
	}
	msgs, _, err := s.ListMessages(t.Context(), switchboard.MessageFilter{Tenant: "acme", Limit: 100})
	if err != nil || len(msgs) != 20 {
		t.Errorf("ListMessages: %d messages, %v; want 20", len(msgs), err)
	}
	// Switchboard's own replies count but are never refused.
	createAt(t, s, now, func(m *switchboard.Message) { keyed("acme", now)(m); m.APIKeyID = "system" })
	createAt(t, s, now, func(m *switchboard.Message) { keyed("acme", now)(m); m.APIKeyID = "" })
	// The next day starts over.
	createAt(t, s, now.Add(6*time.Hour), keyed("acme", now.Add(6*time.Hour)))
	// Another tenant is not limited by acme's quota.
	createAt(t, s, now, keyed(switchboard.DefaultTenant, now))
}

func testQuotaSegments(t *testing.T, s switchboard.Store) {
	limitedTenant(t, s, "acme", 0, 3, 0)
	now := at(0)
	two := func(m *switchboard.Message) { keyed("acme", now)(m); m.Segments = 2 }
	createAt(t, s, now, two)
	m := newMessage(now)
	two(m)
	if _, _, err := s.CreateMessage(t.Context(), m, nil); switchboard.ErrorCodeOf(err) != switchboard.CodeQuotaExceeded {
		t.Fatalf("a 2-segment message over a limit of 3 segments: %v, want quota_exceeded", err)
	}
	if _, err := s.GetMessage(t.Context(), m.ID); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		t.Errorf("the refused message was stored: %v", err)
	}
	createAt(t, s, now, keyed("acme", now)) // one more segment fits
}

func testSpendCap(t *testing.T, s switchboard.Store) {
	limitedTenant(t, s, "acme", 0, 0, 1) // one cent: 10000 millionths
	now := at(0)
	price := &switchboard.Price{Text: "-0.00790", Unit: "USD", Micros: 7900}
	first := createAt(t, s, now, keyed("acme", now))
	if err := s.RecordPrice(t.Context(), first.ID, price, now); err != nil {
		t.Fatal(err)
	}
	second := createAt(t, s, now, keyed("acme", now)) // 7900 < 10000: under the cap
	if err := s.RecordPrice(t.Context(), second.ID, price, now); err != nil {
		t.Fatal(err)
	}
	m := newMessage(now)
	keyed("acme", now)(m)
	_, _, err := s.CreateMessage(t.Context(), m, nil)
	if switchboard.ErrorCodeOf(err) != switchboard.CodeSpendCapReached || switchboard.RefusalOf(err) == nil {
		t.Fatalf("over the spend cap: %v, want spend_cap_reached", err)
	}
	if u := usageOf(t, s, switchboard.UsageFilter{Tenant: "acme"})["acme "+switchboard.UTCDay(now)]; u.SpendMicros != 15800 || u.PriceUnit != "USD" || u.Spend() != "0.0158" {
		t.Errorf("usage: %+v (spend %s), want 15800 USD", u, u.Spend())
	}
}

// testQuotaReplay: a request retried with its idempotency key after the quota is used up gets
// the message it made, not a refusal.
func testQuotaReplay(t *testing.T, s switchboard.Store) {
	limitedTenant(t, s, "acme", 1, 0, 0)
	now := at(0)
	idem := &switchboard.Idempotency{APIKeyID: "key_acme", Key: "job-1", RequestHash: "h1"}
	m := newMessage(now)
	keyed("acme", now)(m)
	first, _, err := s.CreateMessage(t.Context(), m, idem)
	if err != nil {
		t.Fatal(err)
	}
	again := newMessage(now)
	keyed("acme", now)(again)
	got, replayed, err := s.CreateMessage(t.Context(), again, idem)
	if err != nil || !replayed || got.ID != first.ID {
		t.Fatalf("replay over quota: %v, %v, %v; want the first message", got, replayed, err)
	}
	other := newMessage(now)
	keyed("acme", now)(other)
	if _, _, err := s.CreateMessage(t.Context(), other, &switchboard.Idempotency{APIKeyID: "key_acme", Key: "job-2", RequestHash: "h2"}); switchboard.ErrorCodeOf(err) != switchboard.CodeQuotaExceeded {
		t.Fatalf("a new key over quota: %v, want quota_exceeded", err)
	}
}

func testPrices(t *testing.T, s switchboard.Store) {
	now := at(0)
	due := func(at time.Time) []string {
		t.Helper()
		msgs, err := s.DuePrices(t.Context(), at, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
		return ids
	}
	m := createAt(t, s, now, nil)
	createAt(t, s, now, nil) // never handed over: never due
	setSending(t, s, m.ID, "SM"+m.ID, now)
	if got := due(now.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("due before finishing: %v", got)
	}
	update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusDelivered, At: now.Add(time.Minute)})
	if got := due(now); len(got) != 0 {
		t.Errorf("due before it finished: %v", got)
	}
	if got := due(now.Add(time.Minute)); len(got) != 1 || got[0] != m.ID {
		t.Fatalf("due once delivered: %v, want %s", got, m.ID)
	}
	// No price yet: due again later, MaxPriceFetches tries in all.
	next := now.Add(time.Minute)
	for i := range switchboard.MaxPriceFetches - 1 {
		next = next.Add(time.Minute)
		if err := s.RecordPrice(t.Context(), m.ID, nil, next); err != nil {
			t.Fatal(err)
		}
		if got := due(next.Add(-time.Second)); len(got) != 0 {
			t.Fatalf("try %d: due before its next try: %v", i+1, got)
		}
		if got := due(next); len(got) != 1 {
			t.Fatalf("try %d: not due at its next try: %v", i+1, got)
		}
	}
	p := &switchboard.Price{Text: "-0.01580", Unit: "USD", Micros: 15800}
	if err := s.RecordPrice(t.Context(), m.ID, p, next); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPrice(t.Context(), m.ID, &switchboard.Price{Text: "-1.00", Unit: "USD", Micros: 1000000}, next); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, m.ID)
	if got.Price != "-0.01580" || got.PriceUnit != "USD" {
		t.Errorf("price %q %q, want the first one recorded", got.Price, got.PriceUnit)
	}
	if ids := due(next.Add(time.Hour)); len(ids) != 0 {
		t.Errorf("due once priced: %v", ids)
	}
	if u := usageOf(t, s, switchboard.UsageFilter{})[switchboard.DefaultTenant+" "+switchboard.UTCDay(now)]; u.SpendMicros != 15800 {
		t.Errorf("spend %d, want 15800 (counted once)", u.SpendMicros)
	}

	// A message that never gets a price stops being fetched after MaxPriceFetches tries.
	n := createAt(t, s, now, nil)
	setSending(t, s, n.ID, "SM"+n.ID, now)
	update(t, s, switchboard.MessageUpdate{ID: n.ID, Status: switchboard.StatusFailed, At: now})
	for range switchboard.MaxPriceFetches {
		if err := s.RecordPrice(t.Context(), n.ID, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	if ids := due(now.Add(24 * time.Hour)); len(ids) != 0 {
		t.Errorf("still due after %d tries: %v", switchboard.MaxPriceFetches, ids)
	}

	// A status callback that finishes a message makes it due at the callback's time, as an
	// update does: applied to a message known by its SID, and to one that learns its SID from
	// the callback (adopted). A later callback does not move the time.
	later := now.Add(48 * time.Hour)
	known := createAt(t, s, now, nil)
	setSending(t, s, known.ID, "SM"+known.ID, now)
	ingest(t, s, callback("SM"+known.ID, switchboard.StatusSent, later))
	adopted := createAt(t, s, now, nil)
	update(t, s, switchboard.MessageUpdate{ID: adopted.ID, Status: switchboard.StatusSending, At: now})
	if ids := due(later.Add(time.Hour)); len(ids) != 0 {
		t.Fatalf("due before a callback finished them: %v", ids)
	}
	ingest(t, s, callback("SM"+known.ID, switchboard.StatusDelivered, later.Add(time.Minute)))
	cb := callback("SM"+adopted.ID, switchboard.StatusUndelivered, later.Add(2*time.Minute))
	cb.MessageID = adopted.ID
	if r := ingest(t, s, cb); !r.Applied {
		t.Fatalf("adopting callback not applied: %+v", r)
	}
	ingest(t, s, callback("SM"+known.ID, switchboard.StatusRead, later.Add(3*time.Minute)))
	if ids := due(later.Add(time.Minute - time.Microsecond)); len(ids) != 0 {
		t.Errorf("due before the delivered callback's time: %v", ids)
	}
	if ids := due(later.Add(time.Minute)); len(ids) != 1 || ids[0] != known.ID {
		t.Errorf("due at the delivered callback's time: %v, want [%s]", ids, known.ID)
	}
	if ids := due(later.Add(2 * time.Minute)); len(ids) != 2 {
		t.Errorf("due once both callbacks finished them: %v, want %s and %s", ids, known.ID, adopted.ID)
	}
}
