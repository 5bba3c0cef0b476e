package storetest

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var outboxTests = []test{
	{"ClaimDueOnly", testClaimDueOnly},
	{"ClaimLimit", testClaimLimit},
	{"ClaimRespectsLiveLeases", testClaimRespectsLiveLeases},
	{"ClaimConcurrent", testClaimConcurrent},
	{"ReleaseLeases", testReleaseLeases},
	{"LeaseExtension", testLeaseExtension},
	{"DueSenders", testDueSenders},
	{"NextDueAt", testNextDueAt},
	{"StaleSending", testStaleSending},
}

func testClaimDueOnly(t *testing.T, s switchboard.Store) {
	now := at(time.Hour)
	mk := func(due time.Duration, edit func(m *switchboard.Message)) *switchboard.Message {
		return createAt(t, s, at(0), func(m *switchboard.Message) {
			m.NextAttemptAt = now.Add(due)
			if edit != nil {
				edit(m)
			}
		})
	}
	later := mk(-time.Minute, nil)
	scheduled := mk(-2*time.Minute, func(m *switchboard.Message) { m.Status = switchboard.StatusScheduled })
	exactlyNow := mk(0, nil)
	oldest := mk(-3*time.Minute, nil)
	mk(time.Second, nil)                                                               // not due yet
	mk(-time.Hour, func(m *switchboard.Message) { m.From = fromB })                    // another sender
	mk(-time.Hour, func(m *switchboard.Message) { m.Status = switchboard.StatusSent }) // not claimable
	sending := mk(-time.Hour, nil)
	update(t, s, switchboard.MessageUpdate{ID: sending.ID, Status: switchboard.StatusSending, At: at(time.Second)})
	canceled := mk(-time.Hour, nil)
	update(t, s, switchboard.MessageUpdate{ID: canceled.ID, Status: switchboard.StatusCanceled, At: at(time.Second)})

	got := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100})
	wantEqual(t, "claimed, oldest due first", []string{oldest.ID, scheduled.ID, later.ID, exactlyNow.ID}, ids(got))
	for _, m := range got {
		if m.LeaseOwner != "node-a" || m.LeaseUntil == nil || !m.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("claimed %s: lease %q until %v, want node-a until %s", m.ID, m.LeaseOwner, m.LeaseUntil, now.Add(time.Minute))
		}
		if m.Body == "" || m.To == "" || m.CreatedAt.IsZero() {
			t.Fatalf("claimed %s without its fields: %+v", m.ID, m)
		}
		stored := get(t, s, m.ID)
		if stored.LeaseOwner != "node-a" || stored.LeaseUntil == nil || !stored.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("stored %s: lease %q until %v", m.ID, stored.LeaseOwner, stored.LeaseUntil)
		}
		if stored.Status != m.Status {
			t.Fatalf("claiming %s changed its status to %s", m.ID, stored.Status)
		}
	}
	if got := claim(t, s, switchboard.ClaimParams{From: fromC, Owner: "node-a", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100}); len(got) != 0 {
		t.Fatalf("claimed %d messages of a sender with none", len(got))
	}
}

func testClaimLimit(t *testing.T, s switchboard.Store) {
	var msgs []*switchboard.Message
	for i := range 5 {
		msgs = append(msgs, createAt(t, s, at(time.Duration(i)*time.Second), nil))
	}
	now := at(time.Minute)
	a := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 3})
	wantEqual(t, "first claim", ids(msgs[:3]), ids(a))
	b := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-b", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 3})
	wantEqual(t, "second claim", ids(msgs[3:]), ids(b))
	c := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-c", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 3})
	if len(c) != 0 {
		t.Fatalf("third claim got %v, want nothing", ids(c))
	}
}

func testClaimRespectsLiveLeases(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	p := func(owner string, now time.Duration) switchboard.ClaimParams {
		return switchboard.ClaimParams{From: fromA, Owner: owner, Now: at(now), LeaseUntil: at(now + time.Minute), Limit: 10}
	}
	if got := claim(t, s, p("node-a", time.Second)); len(got) != 1 {
		t.Fatalf("node-a claimed %d", len(got))
	}
	if got := claim(t, s, p("node-b", 30*time.Second)); len(got) != 0 {
		t.Fatalf("node-b claimed %v under node-a's live lease", ids(got))
	}
	if got := claim(t, s, p("node-a", 30*time.Second)); len(got) != 0 {
		t.Fatalf("node-a claimed %v again under its own live lease", ids(got))
	}
	// The lease ended at +61s: node-b takes over.
	got := claim(t, s, p("node-b", 2*time.Minute))
	if len(got) != 1 || got[0].ID != m.ID || got[0].LeaseOwner != "node-b" || !got[0].LeaseUntil.Equal(at(3*time.Minute)) {
		t.Fatalf("take-over claimed %+v, want %s leased to node-b until +3m", got, m.ID)
	}
	if stored := get(t, s, m.ID); stored.LeaseOwner != "node-b" {
		t.Fatalf("stored lease owner %q, want node-b", stored.LeaseOwner)
	}
}

func testClaimConcurrent(t *testing.T, s switchboard.Store) {
	const n = 120
	want := map[string]bool{}
	for i := range n {
		want[createAt(t, s, at(time.Duration(i)*time.Millisecond), nil).ID] = true
	}
	now := at(time.Minute)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		got    = map[string]string{}
		errors []string
	)
	start := make(chan struct{})
	for w := range 6 {
		owner := "node-" + string(rune('a'+w))
		wg.Go(func() {
			<-start
			for range n { // each claim takes at least one message; more rounds mean a bug
				msgs, err := s.ClaimMessages(t.Context(), switchboard.ClaimParams{From: fromA, Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 7})
				mu.Lock()
				if err != nil {
					errors = append(errors, err.Error())
					mu.Unlock()
					return
				}
				dup := false
				for _, m := range msgs {
					if prev, seen := got[m.ID]; seen {
						errors = append(errors, m.ID+" claimed by "+prev+" and "+owner)
						dup = true
					}
					got[m.ID] = owner
				}
				mu.Unlock()
				if len(msgs) == 0 || dup {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errors) > 0 {
		t.Fatalf("concurrent claims: %v", errors)
	}
	if len(got) != n {
		t.Fatalf("claimed %d distinct messages, want %d", len(got), n)
	}
	for id, owner := range got {
		if !want[id] {
			t.Fatalf("claimed unknown message %s", id)
		}
		if stored := get(t, s, id); stored.LeaseOwner != owner {
			t.Fatalf("%s returned to %s but leased to %s", id, owner, stored.LeaseOwner)
		}
	}
}

func testReleaseLeases(t *testing.T, s switchboard.Store) {
	for i := range 3 {
		createAt(t, s, at(time.Duration(i)*time.Second), nil)
	}
	for i := range 2 {
		createAt(t, s, at(time.Duration(i)*time.Second), func(m *switchboard.Message) { m.From = fromB })
	}
	now := at(time.Minute)
	lease := now.Add(time.Hour)
	if got := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: now, LeaseUntil: lease, Limit: 10}); len(got) != 3 {
		t.Fatalf("node-a claimed %d", len(got))
	}
	if got := claim(t, s, switchboard.ClaimParams{From: fromB, Owner: "node-b", Now: now, LeaseUntil: lease, Limit: 10}); len(got) != 2 {
		t.Fatalf("node-b claimed %d", len(got))
	}
	n, err := s.ReleaseLeases(t.Context(), "node-a")
	if err != nil || n != 3 {
		t.Fatalf("ReleaseLeases(node-a) = %d, %v; want 3", n, err)
	}
	if got := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-c", Now: now, LeaseUntil: lease, Limit: 10}); len(got) != 3 {
		t.Fatalf("after release node-c claimed %d of node-a's, want 3", len(got))
	}
	if got := claim(t, s, switchboard.ClaimParams{From: fromB, Owner: "node-c", Now: now, LeaseUntil: lease, Limit: 10}); len(got) != 0 {
		t.Fatalf("node-c claimed %d of node-b's leased messages", len(got))
	}
	if n, err := s.ReleaseLeases(t.Context(), "node-a"); err != nil || n != 0 {
		t.Fatalf("second ReleaseLeases(node-a) = %d, %v; want 0", n, err)
	}
	if n, err := s.ReleaseLeases(t.Context(), "node-unknown"); err != nil || n != 0 {
		t.Fatalf("ReleaseLeases(unknown) = %d, %v; want 0", n, err)
	}
}

func testDueSenders(t *testing.T, s switchboard.Store) {
	now := at(time.Hour)
	due := func(from string, d time.Duration, status switchboard.Status) *switchboard.Message {
		return createAt(t, s, at(0), func(m *switchboard.Message) {
			m.From, m.NextAttemptAt, m.Status = from, now.Add(d), status
		})
	}
	dueSenders := func(now time.Time) []string {
		t.Helper()
		got, err := s.DueSenders(t.Context(), now)
		if err != nil {
			t.Fatalf("DueSenders: %v", err)
		}
		sort.Strings(got)
		return got
	}
	if got := dueSenders(now); len(got) != 0 {
		t.Fatalf("DueSenders of an empty store = %v", got)
	}
	for range 3 {
		due(fromA, -time.Minute, switchboard.StatusQueued)
	}
	due(fromB, time.Minute, switchboard.StatusScheduled)
	due(fromC, -time.Minute, switchboard.StatusSent)
	leased := due("+15005550009", -time.Minute, switchboard.StatusQueued)
	claim(t, s, switchboard.ClaimParams{From: leased.From, Owner: "node-a", Now: now, LeaseUntil: now.Add(30 * time.Second), Limit: 1})

	wantEqual(t, "due senders now", []string{fromA}, dueSenders(now))
	wantEqual(t, "due senders in 1m", []string{fromA, fromB, leased.From}, dueSenders(now.Add(time.Minute)))
}

func testNextDueAt(t *testing.T, s switchboard.Store) {
	next := func() *time.Time {
		t.Helper()
		got, err := s.NextDueAt(t.Context())
		if err != nil {
			t.Fatalf("NextDueAt: %v", err)
		}
		return got
	}
	wantNext := func(want time.Time) {
		t.Helper()
		got := next()
		if got == nil || !got.Equal(want) {
			t.Fatalf("NextDueAt = %v, want %s", got, want)
		}
	}
	if got := next(); got != nil {
		t.Fatalf("NextDueAt of an empty store = %s, want nil", got)
	}
	a := createAt(t, s, at(0), func(m *switchboard.Message) { m.NextAttemptAt = at(5 * time.Minute) })
	createAt(t, s, at(0), func(m *switchboard.Message) { m.NextAttemptAt = at(time.Minute); m.Status = switchboard.StatusSent })
	c := createAt(t, s, at(0), func(m *switchboard.Message) {
		m.From, m.NextAttemptAt, m.Status = fromB, at(4*time.Minute), switchboard.StatusScheduled
	})
	wantNext(at(4 * time.Minute))

	// A leased message becomes claimable again only when its lease ends.
	claim(t, s, switchboard.ClaimParams{From: fromB, Owner: "node-a", Now: at(4 * time.Minute), LeaseUntil: at(10 * time.Minute), Limit: 1})
	wantNext(at(5 * time.Minute))
	update(t, s, switchboard.MessageUpdate{ID: a.ID, Status: switchboard.StatusSending, At: at(5 * time.Minute)})
	wantNext(at(10 * time.Minute))
	update(t, s, switchboard.MessageUpdate{ID: c.ID, LeaseOwner: "node-a", ReleaseLease: true, NextAttemptAt: ptr(at(7 * time.Minute)), At: at(5 * time.Minute)})
	wantNext(at(7 * time.Minute))
	update(t, s, switchboard.MessageUpdate{ID: c.ID, Status: switchboard.StatusExpired, At: at(8 * time.Minute)})
	if got := next(); got != nil {
		t.Fatalf("NextDueAt with nothing claimable = %s, want nil", got)
	}
}

func testStaleSending(t *testing.T, s switchboard.Store) {
	mk := func(sid string, status switchboard.Status, updated time.Duration) *switchboard.Message {
		m := create(t, s, newMessage(at(-time.Hour)))
		u := switchboard.MessageUpdate{ID: m.ID, Status: status, At: at(updated)}
		if sid != "" {
			u.ProviderSID = ptr(sid)
		}
		return update(t, s, u)
	}
	stale := mk("SMstale", switchboard.StatusSending, 0)
	older := mk("SMolder", switchboard.StatusSending, -time.Minute)
	mk("", switchboard.StatusSending, -time.Minute)                // never reached the provider: reconciled otherwise
	sent := mk("SMsent", switchboard.StatusSent, -2*time.Minute)   // carrier accepted, no receipt yet
	mk("SMdone", switchboard.StatusDelivered, -time.Minute)        // done
	mk("SMfresh", switchboard.StatusSending, 10*time.Minute)       // moved recently
	edge := mk("SMedge", switchboard.StatusSending, 5*time.Minute) // exactly at before: not stale yet

	list := func(before time.Time, limit int) []string {
		t.Helper()
		got, err := s.StaleSending(t.Context(), before, limit)
		if err != nil {
			t.Fatalf("StaleSending: %v", err)
		}
		return ids(got)
	}
	wantEqual(t, "stale", []string{sent.ID, older.ID, stale.ID}, list(at(5*time.Minute), 10))
	wantEqual(t, "stale, limit 1", []string{sent.ID}, list(at(5*time.Minute), 1))
	wantEqual(t, "stale later", []string{sent.ID, older.ID, stale.ID, edge.ID}, list(at(6*time.Minute), 10))
	// A status change takes it off the list (until it is stale again).
	ingest(t, s, callback("SMolder", switchboard.StatusDelivered, at(7*time.Minute)))
	wantEqual(t, "after a callback", []string{sent.ID, stale.ID, edge.ID}, list(at(6*time.Minute), 10))
}

// testLeaseExtension: the lease holder extends its lease (for the length of a provider call);
// nobody else can claim the message until the extended lease ends.
func testLeaseExtension(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	got := claim(t, s, switchboard.ClaimParams{From: m.From, Owner: "node-a", Now: at(time.Second), LeaseUntil: at(time.Minute), Limit: 1})
	if len(got) != 1 {
		t.Fatalf("claimed %d", len(got))
	}
	u := update(t, s, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", LeaseUntil: ptr(at(5 * time.Minute)), At: at(2 * time.Second)})
	if u.LeaseOwner != "node-a" || u.LeaseUntil == nil || !u.LeaseUntil.Equal(at(5*time.Minute)) {
		t.Fatalf("extended lease: owner %q until %v", u.LeaseOwner, u.LeaseUntil)
	}
	if got := claim(t, s, switchboard.ClaimParams{From: m.From, Owner: "node-b", Now: at(2 * time.Minute), LeaseUntil: at(3 * time.Minute), Limit: 1}); len(got) != 0 {
		t.Fatalf("node-b claimed %v under node-a's extended lease", ids(got))
	}
	if got := claim(t, s, switchboard.ClaimParams{From: m.From, Owner: "node-b", Now: at(6 * time.Minute), LeaseUntil: at(7 * time.Minute), Limit: 1}); len(got) != 1 {
		t.Fatal("node-b could not take over after the extended lease ended")
	}
	// An update without the fence does not move the lease.
	u = update(t, s, switchboard.MessageUpdate{ID: m.ID, LeaseUntil: ptr(at(time.Hour)), At: at(6 * time.Minute)})
	if u.LeaseUntil == nil || !u.LeaseUntil.Equal(at(7*time.Minute)) {
		t.Fatalf("an unfenced update moved the lease to %v", u.LeaseUntil)
	}
}
