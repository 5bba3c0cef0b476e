package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var dashboardTests = []test{
	{"Sessions", testDashboardSessions},
	{"Search", testDashboardSearch},
	{"FailuresByCode", testDashboardFailures},
	{"DeliveryStats", testDashboardDeliveryStats},
	{"OptedOut", testDashboardOptedOut},
	{"SearchTenant", testDashboardSearchTenant},
}

// testDashboardSearchTenant: a search with a tenant finds that tenant's messages only, with and
// without a metadata pair, and a search without one finds every tenant's.
func testDashboardSearchTenant(t *testing.T, s switchboard.Store) {
	var acme, other []string
	for i := range 3 {
		m := newMessage(at(time.Duration(i) * time.Second))
		m.Metadata = map[string]string{"job": "7"}
		if i%2 == 0 {
			m.Tenant = "acme"
		}
		m = create(t, s, m)
		if i%2 == 0 {
			acme = append(acme, m.ID)
		} else {
			other = append(other, m.ID)
		}
	}
	ids := func(ms []*switchboard.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	for _, q := range []switchboard.MessageSearch{
		{MessageFilter: switchboard.MessageFilter{Tenant: "acme", Limit: 1}},
		{MessageFilter: switchboard.MessageFilter{Tenant: "acme", Limit: 1, Metadata: &switchboard.MetadataMatch{Key: "job", Value: "7"}}},
		{MessageFilter: switchboard.MessageFilter{Tenant: "acme", Statuses: []switchboard.Status{switchboard.StatusQueued}}},
	} {
		if got := ids(searchAll(t, s, q)); !slices.Equal(got, acme) {
			t.Errorf("search %+v: %v, want acme's %v", q.MessageFilter, got, acme)
		}
	}
	if got := ids(searchAll(t, s, switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Tenant: switchboard.DefaultTenant}})); !slices.Equal(got, other) {
		t.Errorf("search of tenant default: %v, want %v", got, other)
	}
	if got := searchAll(t, s, switchboard.MessageSearch{}); len(got) != 3 {
		t.Errorf("search of every tenant: %d messages, want 3", len(got))
	}
}

func testDashboardSessions(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	a := &switchboard.DashboardSession{Hash: newID("hash"), Subject: "user:admin", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	b := &switchboard.DashboardSession{Hash: newID("hash"), Subject: "key:key_1", APIKeyHash: "abc", CreatedAt: at(0), ExpiresAt: at(2 * time.Hour)}
	for _, sess := range []*switchboard.DashboardSession{a, b} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	wantErr(t, s.CreateSession(ctx, a), switchboard.ECONFLICT, "session_exists")
	wantErr(t, s.CreateSession(ctx, &switchboard.DashboardSession{Subject: "user:x"}), switchboard.EINVALID, "")

	got, err := s.GetSession(ctx, b.Hash, at(time.Minute))
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	wantEqual(t, "session", b, got)
	// A session ends at its expiry.
	_, err = s.GetSession(ctx, a.Hash, at(time.Hour))
	wantErr(t, err, switchboard.ENOTFOUND, "session_not_found")
	_, err = s.GetSession(ctx, "no-such-hash", at(0))
	wantErr(t, err, switchboard.ENOTFOUND, "session_not_found")

	n, err := s.DeleteExpiredSessions(ctx, at(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	if err := s.DeleteSession(ctx, b.Hash); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	_, err = s.GetSession(ctx, b.Hash, at(time.Minute))
	wantErr(t, err, switchboard.ENOTFOUND, "session_not_found")
	if err := s.DeleteSession(ctx, b.Hash); err != nil {
		t.Fatalf("DeleteSession of a deleted session: %v", err)
	}
}

func searchAll(t *testing.T, s switchboard.Store, q switchboard.MessageSearch) []*switchboard.Message {
	t.Helper()
	var all []*switchboard.Message
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("SearchMessages: more than 100 pages")
		}
		msgs, next, err := s.SearchMessages(t.Context(), q)
		if err != nil {
			t.Fatalf("SearchMessages(%+v): %v", q, err)
		}
		if q.Limit > 0 && len(msgs) > q.Limit {
			t.Fatalf("SearchMessages: %d messages over limit %d", len(msgs), q.Limit)
		}
		all = append(all, msgs...)
		if next == "" {
			return all
		}
		q.Cursor = next
	}
}

func fail(t *testing.T, s switchboard.Store, id string, status switchboard.Status, code int, when time.Time) {
	t.Helper()
	update(t, s, switchboard.MessageUpdate{ID: id, Status: status, ErrorCode: ptr(code), ErrorMessage: ptr("failed"), At: when,
		Events: []*switchboard.Event{{Type: switchboard.EventStatusChanged, Actor: "test", ErrorCode: code}}})
}

func testDashboardSearch(t *testing.T, s switchboard.Store) {
	mk := func(i int, edit func(m *switchboard.Message)) *switchboard.Message {
		return createAt(t, s, at(time.Duration(i)*time.Minute), edit)
	}
	m0 := mk(0, nil)
	m1 := mk(1, func(m *switchboard.Message) { m.To = toB })
	m2 := mk(2, func(m *switchboard.Message) { m.From = fromB })
	m3 := mk(3, func(m *switchboard.Message) { m.To = toB })
	fail(t, s, m1.ID, switchboard.StatusFailed, 30003, at(time.Hour))
	fail(t, s, m2.ID, switchboard.StatusUndelivered, 30003, at(time.Hour))
	fail(t, s, m3.ID, switchboard.StatusFailed, 21610, at(time.Hour))

	for _, tc := range []struct {
		name string
		q    switchboard.MessageSearch
		want []*switchboard.Message
	}{
		{"all", switchboard.MessageSearch{}, []*switchboard.Message{m0, m1, m2, m3}},
		{"error code", switchboard.MessageSearch{ErrorCode: 30003}, []*switchboard.Message{m1, m2}},
		{"error code and status", switchboard.MessageSearch{ErrorCode: 30003, MessageFilter: switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusFailed}}}, []*switchboard.Message{m1}},
		{"to suffix", switchboard.MessageSearch{ToSuffix: toB[len(toB)-4:]}, []*switchboard.Message{m1, m3}},
		{"to suffix of both", switchboard.MessageSearch{ToSuffix: "123000"}, nil},
		{"to suffix and code", switchboard.MessageSearch{ToSuffix: "0002", ErrorCode: 21610}, []*switchboard.Message{m3}},
		{"from", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{From: fromB}}, []*switchboard.Message{m2}},
		{"to", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{To: toA}}, []*switchboard.Message{m0, m2}},
		{"range, paged", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{CreatedAfter: ptr(at(time.Minute)), CreatedBefore: ptr(at(3 * time.Minute)), Limit: 1}}, []*switchboard.Message{m1, m2}},
		{"paged", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Limit: 3}}, []*switchboard.Message{m0, m1, m2, m3}},
		{"status", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusFailed}}}, []*switchboard.Message{m1, m3}},
		{"status, paged", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusFailed}, Limit: 1}}, []*switchboard.Message{m1, m3}},
		{"statuses, paged", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusFailed, switchboard.StatusUndelivered, switchboard.StatusQueued}, Limit: 1}}, []*switchboard.Message{m0, m1, m2, m3}},
		{"statuses and to", switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{To: toB, Statuses: []switchboard.Status{switchboard.StatusUndelivered, switchboard.StatusFailed}, Limit: 1}}, []*switchboard.Message{m1, m3}},
		{"statuses and code", switchboard.MessageSearch{ErrorCode: 30003, MessageFilter: switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusUndelivered, switchboard.StatusFailed}}}, []*switchboard.Message{m1, m2}},
	} {
		wantEqual(t, tc.name, reversed(tc.want...), ids(searchAll(t, s, tc.q)), cmpEmpty)
	}
	got := searchAll(t, s, switchboard.MessageSearch{ErrorCode: 21610})
	if len(got) != 1 || got[0].Status != switchboard.StatusFailed || got[0].ErrorCode != 21610 || got[0].Body == "" {
		t.Fatalf("searched message = %+v, want m3 with its fields", got)
	}
}

func testDashboardFailures(t *testing.T, s switchboard.Store) {
	var ms []*switchboard.Message
	for i := range 7 {
		ms = append(ms, createAt(t, s, at(time.Duration(i)*time.Second), nil))
	}
	fail(t, s, ms[0].ID, switchboard.StatusFailed, 30003, at(time.Minute))
	fail(t, s, ms[1].ID, switchboard.StatusUndelivered, 30003, at(2*time.Minute))
	fail(t, s, ms[2].ID, switchboard.StatusFailed, 30007, at(3*time.Minute))
	fail(t, s, ms[3].ID, switchboard.StatusFailed, 0, at(3*time.Minute))
	fail(t, s, ms[4].ID, switchboard.StatusFailed, 21610, at(2*time.Hour)) // outside the range
	update(t, s, switchboard.MessageUpdate{ID: ms[5].ID, Status: switchboard.StatusCanceled, At: at(time.Minute)})
	fail(t, s, ms[6].ID, switchboard.StatusBlocked, 21610, at(4*time.Minute)) // an opt-out counts

	got, err := s.FailuresByCode(t.Context(), at(0), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "failures", []switchboard.FailureCount{
		{ErrorCode: 30003, Count: 2, Last: at(2 * time.Minute)},
		{ErrorCode: 0, Count: 1, Last: at(3 * time.Minute)},
		{ErrorCode: 21610, Count: 1, Last: at(4 * time.Minute)},
		{ErrorCode: 30007, Count: 1, Last: at(3 * time.Minute)},
	}, got)
	got, err = s.FailuresByCode(t.Context(), at(2*time.Hour), at(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "failures later", []switchboard.FailureCount{{ErrorCode: 21610, Count: 1, Last: at(2 * time.Hour)}}, got)
	got, err = s.FailuresByCode(t.Context(), at(5*time.Hour), at(6*time.Hour))
	if err != nil || len(got) != 0 {
		t.Fatalf("empty range = %+v, %v", got, err)
	}
}

func deliver(t *testing.T, s switchboard.Store, id string, when time.Time) {
	t.Helper()
	setSending(t, s, id, "SM"+id, when.Add(-time.Microsecond))
	update(t, s, switchboard.MessageUpdate{ID: id, Status: switchboard.StatusDelivered, At: when,
		Events: []*switchboard.Event{{Type: switchboard.EventCallback, Actor: "test"}}})
}

func testDashboardDeliveryStats(t *testing.T, s switchboard.Store) {
	// Buckets of an hour aligned to the epoch; base is 05:06:07.89 so the first bucket is 05:00.
	b0 := base.Truncate(time.Hour)
	b1 := b0.Add(time.Hour)
	mk := func(created time.Time, edit func(m *switchboard.Message)) *switchboard.Message {
		return createAt(t, s, created.Truncate(time.Microsecond), edit)
	}
	// Bucket 0, fromA transactional: 3 delivered (0.5 s, 3 s, 20 min), 1 failed, 1 queued.
	a1 := mk(b0.Add(10*time.Minute), nil)
	a2 := mk(b0.Add(11*time.Minute), nil)
	a3 := mk(b0.Add(12*time.Minute), nil)
	a4 := mk(b0.Add(13*time.Minute), nil)
	mk(b0.Add(14*time.Minute), nil)
	deliver(t, s, a1.ID, a1.CreatedAt.Add(500*time.Millisecond))
	deliver(t, s, a2.ID, a2.CreatedAt.Add(3*time.Second))
	deliver(t, s, a3.ID, a3.CreatedAt.Add(20*time.Minute))
	// A later read receipt does not change the latency: the first delivery counts.
	update(t, s, switchboard.MessageUpdate{ID: a3.ID, Status: switchboard.StatusRead, At: a3.CreatedAt.Add(time.Hour),
		Events: []*switchboard.Event{{Type: switchboard.EventCallback, Actor: "test"}}})
	fail(t, s, a4.ID, switchboard.StatusUndelivered, 30003, a4.CreatedAt.Add(time.Minute))
	// Bucket 0, fromA marketing: 1 delivered in exactly 1 s (the second bucket: bounds are exclusive).
	m1 := mk(b0.Add(20*time.Minute), func(m *switchboard.Message) { m.Category = switchboard.CategoryMarketing })
	deliver(t, s, m1.ID, m1.CreatedAt.Add(time.Second))
	// Bucket 1, fromB transactional: 1 delivered in 1 min.
	c1 := mk(b1.Add(time.Minute), func(m *switchboard.Message) { m.From = fromB })
	deliver(t, s, c1.ID, c1.CreatedAt.Add(time.Minute))
	// Outside the range.
	mk(b1.Add(2*time.Hour), nil)

	got, err := s.DeliveryStats(t.Context(), b0, b1.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "stats", []switchboard.DeliveryStat{
		{Bucket: b0, From: fromA, Category: switchboard.CategoryMarketing, Total: 1, Delivered: 1,
			Latency: [6]int{0, 1, 0, 0, 0, 0}, LatencySum: time.Second},
		{Bucket: b0, From: fromA, Category: switchboard.CategoryTransactional, Total: 5, Delivered: 3, Failed: 1,
			Latency: [6]int{1, 1, 0, 0, 0, 1}, LatencySum: 500*time.Millisecond + 3*time.Second + 20*time.Minute},
		{Bucket: b1, From: fromB, Category: switchboard.CategoryTransactional, Total: 1, Delivered: 1,
			Latency: [6]int{0, 0, 0, 1, 0, 0}, LatencySum: time.Minute},
	}, got)
	_, err = s.DeliveryStats(t.Context(), b0, b1, 0)
	wantErr(t, err, switchboard.EINVALID, "invalid_bucket")
}

func testDashboardOptedOut(t *testing.T, s switchboard.Store) {
	const a, b, c = "+14155550100", "+14155550101", "+14155550102"
	record(t, s, consent(a, "default", switchboard.ConsentOptedOut, at(0)))
	record(t, s, consent(a, "default", switchboard.ConsentOptedIn, at(time.Minute))) // a opted back in
	bOut := record(t, s, consent(b, "default", switchboard.ConsentOptedOut, at(2*time.Minute)))
	cAll := record(t, s, consent(c, switchboard.ScopeAll, switchboard.ConsentOptedOut, at(3*time.Minute)))
	record(t, s, consent(c, "alerts", switchboard.ConsentOptedIn, at(4*time.Minute))) // another scope
	got, err := s.OptedOut(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "opted out", []*switchboard.ConsentRecord{cAll, bOut}, got)
	got, err = s.OptedOut(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "opted out, limit 1", []*switchboard.ConsentRecord{cAll}, got)
}
