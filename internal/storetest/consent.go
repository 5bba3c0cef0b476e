package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var consentTests = []test{
	{"LatestAmongScopes", testConsentLatest},
	{"HistoryAppendOnly", testConsentHistory},
	{"Invalid", testConsentInvalid},
	{"ListRange", testConsentListRange},
	{"ImportAllOrNone", testConsentImport},
}

func consent(phone, scope string, state switchboard.ConsentState, when time.Time) *switchboard.ConsentRecord {
	return &switchboard.ConsentRecord{Phone: phone, Scope: scope, State: state, Source: switchboard.ConsentFromKeyword,
		Evidence: "inbound in_1: STOP", Actor: "webhook", At: when}
}

func record(t *testing.T, s switchboard.Store, c *switchboard.ConsentRecord) *switchboard.ConsentRecord {
	t.Helper()
	if err := s.RecordConsent(t.Context(), c); err != nil {
		t.Fatalf("RecordConsent: %v", err)
	}
	if c.ID == 0 {
		t.Fatal("RecordConsent did not set the ID")
	}
	return c
}

func latest(t *testing.T, s switchboard.Store, phone string, scopes ...string) *switchboard.ConsentRecord {
	t.Helper()
	c, err := s.LatestConsent(t.Context(), phone, scopes)
	if err != nil {
		t.Fatalf("LatestConsent: %v", err)
	}
	return c
}

func testConsentLatest(t *testing.T, s switchboard.Store) {
	const phone = "+14155550100"
	if c := latest(t, s, phone, "default", switchboard.ScopeAll); c != nil {
		t.Fatalf("no history yet, got %+v", c)
	}
	out := record(t, s, consent(phone, "default", switchboard.ConsentOptedOut, at(0)))
	wantEqual(t, "latest after STOP", out, latest(t, s, phone, "default", switchboard.ScopeAll))
	// Another pool's scope does not apply.
	if c := latest(t, s, phone, "alerts", switchboard.ScopeAll); c != nil {
		t.Fatalf("an opt-out in pool default applied to pool alerts: %+v", c)
	}
	// A later record in ScopeAll wins over the pool's; a later pool record wins over ScopeAll.
	all := record(t, s, consent(phone, switchboard.ScopeAll, switchboard.ConsentOptedIn, at(time.Minute)))
	wantEqual(t, "ScopeAll later", all, latest(t, s, phone, "default", switchboard.ScopeAll))
	again := record(t, s, consent(phone, "default", switchboard.ConsentOptedOut, at(2*time.Minute)))
	wantEqual(t, "pool later", again, latest(t, s, phone, "default", switchboard.ScopeAll))
	// Records at the same instant: the one appended last wins.
	same := record(t, s, consent(phone, "default", switchboard.ConsentOptedIn, at(2*time.Minute)))
	wantEqual(t, "same instant", same, latest(t, s, phone, "default", switchboard.ScopeAll))
	// Other numbers are untouched.
	if c := latest(t, s, "+14155550101", "default", switchboard.ScopeAll); c != nil {
		t.Fatalf("another number has consent %+v", c)
	}
	if c := latest(t, s, phone); c != nil {
		t.Fatalf("no scopes must find nothing, got %+v", c)
	}
}

func testConsentHistory(t *testing.T, s switchboard.Store) {
	const phone = "+14155550100"
	a := record(t, s, consent(phone, "default", switchboard.ConsentOptedOut, at(time.Minute)))
	b := record(t, s, consent(phone, "default", switchboard.ConsentOptedIn, at(2*time.Minute)))
	c := record(t, s, consent(phone, switchboard.ScopeAll, switchboard.ConsentOptedOut, at(3*time.Minute)))
	record(t, s, consent("+14155550101", "default", switchboard.ConsentOptedOut, at(0)))
	got, err := s.ConsentHistory(t.Context(), phone)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "history", []*switchboard.ConsentRecord{a, b, c}, got)
}

func testConsentInvalid(t *testing.T, s switchboard.Store) {
	for _, c := range []*switchboard.ConsentRecord{
		{Phone: "", Scope: "default", State: switchboard.ConsentOptedOut, At: at(0)},
		{Phone: "+14155550100", Scope: "", State: switchboard.ConsentOptedOut, At: at(0)},
		{Phone: "+14155550100", Scope: "default", State: "maybe", At: at(0)},
		{Phone: "+14155550100", Scope: "default", State: switchboard.ConsentOptedOut},
	} {
		wantErr(t, s.RecordConsent(t.Context(), c), switchboard.EINVALID, "invalid_consent")
	}
	h, err := s.ConsentHistory(t.Context(), "+14155550100")
	if err != nil || len(h) != 0 {
		t.Fatalf("refused records were stored: %v %v", h, err)
	}
}

func testConsentListRange(t *testing.T, s switchboard.Store) {
	var all []*switchboard.ConsentRecord
	for i := range 5 {
		all = append(all, record(t, s, consent("+1415555010"+string(rune('0'+i)), "default", switchboard.ConsentOptedOut, at(time.Duration(i)*time.Hour))))
	}
	list := func(since, until time.Time, after int64, limit int) []*switchboard.ConsentRecord {
		t.Helper()
		got, err := s.ListConsent(t.Context(), since, until, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	wantEqual(t, "all", all, list(time.Time{}, time.Time{}, 0, 100))
	wantEqual(t, "range [1h, 3h)", all[1:3], list(at(time.Hour), at(3*time.Hour), 0, 100))
	wantEqual(t, "paged", all[2:4], list(time.Time{}, time.Time{}, all[1].ID, 2))
}

// testConsentImport: RecordConsents records a batch whole, with its events, or nothing at all.
func testConsentImport(t *testing.T, s switchboard.Store) {
	batch := []*switchboard.ConsentRecord{
		consent(toA, "*", switchboard.ConsentOptedOut, at(0)),
		consent(toB, "*", switchboard.ConsentOptedIn, at(time.Second)),
	}
	bad := append(batch[:2:2], &switchboard.ConsentRecord{Phone: toA, Scope: "*", State: "maybe", At: at(2 * time.Second)})
	wantErr(t, s.RecordConsents(t.Context(), bad), switchboard.EINVALID, "invalid_consent")
	for _, phone := range []string{toA, toB} {
		if h, err := s.ConsentHistory(t.Context(), phone); err != nil || len(h) != 0 {
			t.Fatalf("after a refused import %s has history %+v (%v)", phone, h, err)
		}
	}
	if evs := events(t, s, switchboard.AppConsentChanged); len(evs) != 0 {
		t.Fatalf("a refused import wrote %d events", len(evs))
	}
	if err := s.RecordConsents(t.Context(), batch); err != nil {
		t.Fatalf("RecordConsents: %v", err)
	}
	for i, c := range batch {
		if c.ID == 0 {
			t.Fatalf("record %d has no ID", i)
		}
		if got := latest(t, s, c.Phone, "*"); got == nil || got.ID != c.ID || got.State != c.State {
			t.Fatalf("latest for %s = %+v, want record %d", c.Phone, got, c.ID)
		}
	}
	if evs := events(t, s, switchboard.AppConsentChanged); len(evs) != 2 {
		t.Fatalf("the import wrote %d consent events, want 2", len(evs))
	}
}
