package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
)

var verifyTests = []test{
	{"RoundTrip", testVerificationRoundTrip},
	{"OptimisticUpdate", testVerificationConflict},
	{"PendingAndDue", testVerificationPendingDue},
	{"PendingPerTenant", testVerificationPendingPerTenant},
	{"RateLimits", testRateHits},
	{"RateLimitsConcurrent", testRateHitsConcurrent},
	{"Refusals", testRefusals},
	{"RefusalsPerTenant", testRefusalsPerTenant},
	{"PrefixBlocks", testPrefixBlocks},
	{"List", testListVerifications},
	{"ListByMetadata", testListVerificationsByMetadata},
	{"MetadataPerTenant", testVerificationMetadataPerTenant},
}

func newVerification(to string, created time.Time) *switchboard.Verification {
	return &switchboard.Verification{
		ID: newID("ver"), Status: switchboard.VerificationPending, To: to, Channel: switchboard.VerifySMS, Locale: "en",
		Country: "US", UserRef: "u-1", ClientIP: "203.0.113.5", Backend: "builtin", CodeLength: 6, Sends: 1,
		MaxSends: 5, MaxChecks: 5, ExpiresAt: created.Add(10 * time.Minute), APIKeyID: "key_1",
		SendAttempts: []switchboard.VerificationSend{{Channel: switchboard.VerifySMS, MessageID: "msg_1", Reason: "start", At: created}},
		CodeHash:     "hash", CodeSalt: "salt", CodeSealed: "sealed", CreatedAt: created, UpdatedAt: created,
	}
}

func testVerificationRoundTrip(t *testing.T, s switchboard.Store) {
	v := newVerification("+14155550100", at(0))
	ev, err := switchboard.VerificationEvent(switchboard.AppVerificationStarted, v, at(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVerification(t.Context(), v, []*switchboard.AppEvent{ev}); err != nil {
		t.Fatalf("CreateVerification: %v", err)
	}
	if v.Version != 1 {
		t.Fatalf("version %d after create, want 1", v.Version)
	}
	got, err := s.GetVerification(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, got); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
	evs, err := s.ListAppEvents(t.Context(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppVerificationStarted}, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events: %v %v", evs, err)
	}
	if _, err := s.GetVerification(t.Context(), "ver_nope"); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		t.Fatalf("missing verification: %v", err)
	}
	if err := s.CreateVerification(t.Context(), v, nil); !switchboard.IsKind(err, switchboard.ECONFLICT) {
		t.Fatalf("second create: %v", err)
	}
	bad := newVerification("", at(0))
	if err := s.CreateVerification(t.Context(), bad, nil); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Fatalf("invalid verification: %v", err)
	}
}

func testVerificationConflict(t *testing.T, s switchboard.Store) {
	v := newVerification("+14155550101", at(0))
	if err := s.CreateVerification(t.Context(), v, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := s.GetVerification(t.Context(), v.ID)
	b, _ := s.GetVerification(t.Context(), v.ID)
	a.Checks, a.UpdatedAt = 1, at(time.Second)
	fb := at(time.Minute)
	a.FallbackAt = &fb
	a.SendAttempts = append(a.SendAttempts, switchboard.VerificationSend{Channel: switchboard.VerifyCall, CallID: "CA1", Reason: "fallback", At: at(time.Second)})
	if err := s.UpdateVerification(t.Context(), a, nil); err != nil {
		t.Fatalf("first update: %v", err)
	}
	if a.Version != 2 {
		t.Fatalf("version %d, want 2", a.Version)
	}
	b.Status, b.UpdatedAt = switchboard.VerificationCanceled, at(time.Second)
	if err := s.UpdateVerification(t.Context(), b, nil); !switchboard.IsKind(err, switchboard.ECONFLICT) {
		t.Fatalf("stale update: %v", err)
	}
	got, _ := s.GetVerification(t.Context(), v.ID)
	if diff := cmp.Diff(a, got); diff != "" {
		t.Fatalf("after update (-want +got):\n%s", diff)
	}
	missing := newVerification("+14155550101", at(0))
	if err := s.UpdateVerification(t.Context(), missing, nil); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		t.Fatalf("update of a missing verification: %v", err)
	}
}

func testVerificationPendingDue(t *testing.T, s switchboard.Store) {
	old := newVerification("+14155550106", at(0))
	newer := newVerification("+14155550102", at(time.Minute))
	fb := at(2 * time.Minute)
	newer.FallbackAt = &fb
	other := newVerification("+14155550103", at(0))
	other.Status = switchboard.VerificationApproved
	for _, v := range []*switchboard.Verification{old, newer, other} {
		if err := s.CreateVerification(t.Context(), v, nil); err != nil {
			t.Fatal(err)
		}
	}
	const def = switchboard.DefaultTenant
	p, err := s.PendingVerification(t.Context(), def, "+14155550102", at(5*time.Minute))
	if err != nil || p == nil || p.ID != newer.ID {
		t.Fatalf("pending: %v %v", p, err)
	}
	if p, err := s.PendingVerification(t.Context(), def, "+14155550103", at(0)); err != nil || p != nil {
		t.Fatalf("an approved verification is not pending: %v %v", p, err)
	}
	if p, err := s.PendingVerification(t.Context(), def, "+14155550102", at(11*time.Minute)); err != nil || p != nil {
		t.Fatalf("an expired verification is not pending: %v %v", p, err)
	}
	if p, err := s.PendingVerification(t.Context(), def, "+14155550102", time.Time{}); err != nil || p == nil || p.ID != newer.ID {
		t.Fatalf("with a zero time, the expired pending one: %v %v", p, err)
	}
	// One pending verification per number and tenant, even an expired one whose status still
	// says pending.
	second := newVerification("+14155550102", at(12*time.Minute))
	if err := s.CreateVerification(t.Context(), second, nil); !switchboard.IsKind(err, switchboard.ECONFLICT) || switchboard.ErrorCodeOf(err) != "verification_pending" {
		t.Fatalf("a second pending verification: %v", err)
	}
	ids := func(vs []*switchboard.Verification) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	due, err := s.DueVerifications(t.Context(), at(time.Minute), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("nothing is due yet: %v %v", ids(due), err)
	}
	due, _ = s.DueVerifications(t.Context(), at(2*time.Minute), 10)
	if diff := cmp.Diff([]string{newer.ID}, ids(due)); diff != "" {
		t.Fatalf("due for fallback: %s", diff)
	}
	due, _ = s.DueVerifications(t.Context(), at(10*time.Minute), 10)
	if diff := cmp.Diff([]string{old.ID, newer.ID}, ids(due)); diff != "" {
		t.Fatalf("due for expiry, oldest first: %s", diff)
	}
	due, _ = s.DueVerifications(t.Context(), at(10*time.Minute), 1)
	if len(due) != 1 {
		t.Fatalf("limit: %d", len(due))
	}
	// Once it is no longer pending, the number may have a new one.
	newer.Status, newer.UpdatedAt = switchboard.VerificationExpired, at(12*time.Minute)
	if err := s.UpdateVerification(t.Context(), newer, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVerification(t.Context(), second, nil); err != nil {
		t.Fatalf("a new verification after expiry: %v", err)
	}
}

// testVerificationPendingPerTenant: a number has one pending verification per tenant. Two
// tenants verifying one person each have their own, and each tenant's lookup finds its own
// (every tenant's: the newest); a second pending one in the same tenant conflicts, and ending
// one tenant's leaves the other's pending. A Twilio Verify mirror is one per SID whatever the
// tenant: Twilio has one verification per number for the whole Verify service.
func testVerificationPendingPerTenant(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	const to = "+14155550120"
	a := newVerification(to, at(0))
	a.Tenant = "acme"
	b := newVerification(to, at(time.Second))
	b.Tenant = "globex"
	for _, v := range []*switchboard.Verification{a, b} {
		if err := s.CreateVerification(ctx, v, nil); err != nil {
			t.Fatalf("tenant %s's pending verification of %s: %v", v.Tenant, to, err)
		}
	}
	pending := func(tenant string) string {
		t.Helper()
		p, err := s.PendingVerification(ctx, tenant, to, at(time.Minute))
		if err != nil {
			t.Fatalf("PendingVerification(%q): %v", tenant, err)
		}
		if p == nil {
			return ""
		}
		if tenant != "" && p.Tenant != tenant {
			t.Errorf("PendingVerification(%q) answers tenant %s's", tenant, p.Tenant)
		}
		return p.ID
	}
	if got := pending("acme"); got != a.ID {
		t.Errorf("acme's pending verification: %q, want %s", got, a.ID)
	}
	if got := pending("globex"); got != b.ID {
		t.Errorf("globex's pending verification: %q, want %s", got, b.ID)
	}
	if got := pending(""); got != b.ID {
		t.Errorf("every tenant's newest pending verification: %q, want %s", got, b.ID)
	}
	if got := pending("initech"); got != "" {
		t.Errorf("a tenant with none finds %s", got)
	}
	a2 := newVerification(to, at(2*time.Second))
	a2.Tenant = "acme"
	if err := s.CreateVerification(ctx, a2, nil); !switchboard.IsKind(err, switchboard.ECONFLICT) || switchboard.ErrorCodeOf(err) != "verification_pending" {
		t.Fatalf("a second pending verification in one tenant: %v, want verification_pending", err)
	}
	a.Status, a.UpdatedAt = switchboard.VerificationCanceled, at(3*time.Second)
	if err := s.UpdateVerification(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if got := pending("globex"); got != b.ID {
		t.Errorf("globex's pending verification after acme's was canceled: %q, want %s", got, b.ID)
	}
	if got := pending("acme"); got != "" {
		t.Errorf("acme's canceled verification is still pending: %s", got)
	}
	if err := s.CreateVerification(ctx, a2, nil); err != nil {
		t.Fatalf("acme's new verification while globex's is pending: %v", err)
	}

	// Mirrors of Twilio Verify: one pending per verification SID, across tenants.
	const other = "+14155550121"
	mirror := func(tenant, sid string, created time.Time) *switchboard.Verification {
		v := newVerification(other, created)
		v.Tenant, v.Backend, v.ProviderSID, v.CodeHash, v.CodeSalt, v.CodeSealed = tenant, "twilio", sid, "", "", ""
		return v
	}
	ta := mirror("acme", "VE"+strings.Repeat("a", 32), at(0))
	if err := s.CreateVerification(ctx, ta, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVerification(ctx, mirror("globex", ta.ProviderSID, at(time.Second)), nil); !switchboard.IsKind(err, switchboard.ECONFLICT) ||
		switchboard.ErrorCodeOf(err) != "verification_pending" {
		t.Fatalf("a second pending mirror of one Verify SID: %v, want verification_pending", err)
	}
	if err := s.CreateVerification(ctx, mirror("globex", "VE"+strings.Repeat("b", 32), at(time.Second)), nil); err != nil {
		t.Fatalf("another tenant's mirror of another SID: %v", err)
	}
	ta.Status, ta.UpdatedAt = switchboard.VerificationApproved, at(2*time.Second)
	if err := s.UpdateVerification(ctx, ta, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVerification(ctx, mirror("initech", ta.ProviderSID, at(3*time.Second)), nil); err != nil {
		t.Fatalf("a pending mirror of a SID whose mirror ended: %v", err)
	}
}

func testRateHits(t *testing.T, s switchboard.Store) {
	now := time.Date(2031, 3, 4, 5, 0, 10, 0, time.UTC)
	hits := []switchboard.RateHit{{Key: "phone:+1", Window: time.Minute, Limit: 2}, {Key: "ip:a", Window: time.Hour, Limit: 3}, {Key: "pump:+1", Window: time.Hour}}
	for i := 1; i <= 2; i++ {
		r, err := s.HitRates(t.Context(), hits, now)
		if err != nil || r.Refused != -1 || r.Counts[0] != i || r.Counts[1] != i || r.Counts[2] != i {
			t.Fatalf("hit %d: %+v %v", i, r, err)
		}
	}
	r, err := s.HitRates(t.Context(), hits, now)
	if err != nil || r.Refused != 0 || r.RetryAfter != 50*time.Second {
		t.Fatalf("third hit within the minute: %+v %v", r, err)
	}
	// Nothing was counted by the refused request: the next minute allows two more, then the
	// hourly limit of 3 refuses.
	next := now.Add(time.Minute)
	if r, _ := s.HitRates(t.Context(), hits, next); r.Refused != -1 || r.Counts[1] != 3 || r.Counts[2] != 3 {
		t.Fatalf("next minute: %+v", r)
	}
	r, _ = s.HitRates(t.Context(), hits, next)
	if r.Refused != 1 || r.RetryAfter != time.Hour-(time.Minute+10*time.Second) {
		t.Fatalf("hourly limit: %+v", r)
	}
	// A peek reads without counting.
	peek := []switchboard.RateHit{{Key: "pump:+1", Window: time.Hour, Peek: true}}
	for range 2 {
		if r, err := s.HitRates(t.Context(), peek, next); err != nil || r.Refused != -1 || r.Counts[0] != 3 {
			t.Fatalf("peek: %+v %v", r, err)
		}
	}
	if _, err := s.HitRates(t.Context(), []switchboard.RateHit{{Key: "x"}}, now); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Fatalf("a hit without a window: %v", err)
	}
}

func testRateHitsConcurrent(t *testing.T, s switchboard.Store) {
	now := at(0)
	hits := []switchboard.RateHit{{Key: "phone:+2", Window: time.Hour, Limit: 5}, {Key: "country:US", Window: time.Hour, Limit: 100}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.HitRates(t.Context(), hits, now)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Refused < 0 {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d of 12 concurrent hits allowed, want exactly the limit 5", allowed)
	}
}

func testRefusals(t *testing.T, s switchboard.Store) {
	var made []*switchboard.Refusal
	for i, reason := range []string{"rate_limited_phone", "country_not_allowed", "rate_limited_phone"} {
		r := &switchboard.Refusal{ID: newID("ref"), Reason: reason, Detail: "d", To: "+14155550104", Country: "US", UserRef: "u",
			ClientIP: "203.0.113.9", VerificationID: "ver_1", RetryAfterSeconds: i, At: at(time.Duration(i) * time.Second)}
		if err := s.RecordRefusal(t.Context(), r, nil); err != nil {
			t.Fatal(err)
		}
		made = append(made, r)
	}
	other := &switchboard.Refusal{ID: newID("ref"), Reason: "prefix_blocked", To: "+14155550105", At: at(0)}
	if err := s.RecordRefusal(t.Context(), other, nil); err != nil {
		t.Fatal(err)
	}
	got, next, err := s.ListRefusals(t.Context(), switchboard.RefusalFilter{To: "+14155550104", Limit: 2})
	if err != nil || len(got) != 2 || next == "" {
		t.Fatalf("page 1: %d %q %v", len(got), next, err)
	}
	if diff := cmp.Diff([]*switchboard.Refusal{made[2], made[1]}, got); diff != "" {
		t.Fatalf("page 1 (-want +got):\n%s", diff)
	}
	got, next, _ = s.ListRefusals(t.Context(), switchboard.RefusalFilter{To: "+14155550104", Limit: 2, Cursor: next})
	if len(got) != 1 || next != "" || got[0].ID != made[0].ID {
		t.Fatalf("page 2: %v %q", got, next)
	}
	got, _, _ = s.ListRefusals(t.Context(), switchboard.RefusalFilter{Reason: "prefix_blocked"})
	if len(got) != 1 || got[0].ID != other.ID {
		t.Fatalf("by reason: %v", got)
	}
	if err := s.RecordRefusal(t.Context(), &switchboard.Refusal{ID: "ref_x"}, nil); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Fatalf("invalid refusal: %v", err)
	}
}

// testRefusalsPerTenant: a refusal records its tenant (an empty one is the default tenant's);
// a tenant's listing holds its own only, by number too; every tenant's lists them all.
func testRefusalsPerTenant(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	const to = "+14155550122"
	var ids []string // newest first
	for i, tenant := range []string{"acme", "globex", "", "acme"} {
		r := &switchboard.Refusal{ID: newID("ref"), Tenant: tenant, Reason: "rate_limited_user_ref", Detail: "d", To: to,
			UserRef: "42", At: at(time.Duration(i) * time.Second)}
		if err := s.RecordRefusal(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{r.ID}, ids...)
	}
	list := func(f switchboard.RefusalFilter) (out []string) {
		t.Helper()
		rs, _, err := s.ListRefusals(ctx, f)
		if err != nil {
			t.Fatalf("ListRefusals(%+v): %v", f, err)
		}
		for _, r := range rs {
			if f.Tenant != "" && r.Tenant != f.Tenant {
				t.Errorf("tenant %s's listing holds %s of tenant %q", f.Tenant, r.ID, r.Tenant)
			}
			out = append(out, r.ID)
		}
		return out
	}
	if got := list(switchboard.RefusalFilter{Tenant: "acme"}); !cmp.Equal(got, []string{ids[0], ids[3]}) {
		t.Errorf("acme's refusals: %v, want %v", got, []string{ids[0], ids[3]})
	}
	if got := list(switchboard.RefusalFilter{Tenant: "globex", To: to}); !cmp.Equal(got, []string{ids[2]}) {
		t.Errorf("globex's refusals to %s: %v, want %v", to, got, ids[2:3])
	}
	if got := list(switchboard.RefusalFilter{Tenant: switchboard.DefaultTenant, To: to}); !cmp.Equal(got, []string{ids[1]}) {
		t.Errorf("the default tenant's refusals (recorded with no tenant): %v, want %v", got, ids[1:2])
	}
	if got := list(switchboard.RefusalFilter{Tenant: "initech"}); len(got) != 0 {
		t.Errorf("a tenant without refusals lists %v", got)
	}
	if got := list(switchboard.RefusalFilter{To: to}); !cmp.Equal(got, ids) {
		t.Errorf("every tenant's refusals to %s: %v, want %v", to, got, ids)
	}
	if got := list(switchboard.RefusalFilter{Tenant: "acme", Limit: 1}); !cmp.Equal(got, ids[:1]) {
		t.Errorf("acme's first page: %v", got)
	}
	if err := s.RecordRefusal(ctx, &switchboard.Refusal{ID: newID("ref"), Tenant: "Not A Tenant", Reason: "x", At: at(0)}, nil); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Errorf("a refusal of an invalid tenant ID: %v", err)
	}
}

func testPrefixBlocks(t *testing.T, s switchboard.Store) {
	b := switchboard.PrefixBlock{Prefix: "+4477009", Reason: "pumping", Until: at(time.Hour), At: at(0)}
	ev, _ := switchboard.NewAppEvent(switchboard.AppVerificationFraudAlert, at(0), switchboard.FraudAlertData{Prefix: b.Prefix, Reason: b.Reason, Until: b.Until})
	if err := s.BlockPrefix(t.Context(), b, []*switchboard.AppEvent{ev}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PrefixBlocked(t.Context(), "+4477009", at(time.Minute))
	if err != nil || got == nil || !got.Until.Equal(b.Until) || got.Reason != "pumping" {
		t.Fatalf("blocked: %+v %v", got, err)
	}
	if got, _ := s.PrefixBlocked(t.Context(), "+4477008", at(time.Minute)); got != nil {
		t.Fatalf("another prefix: %+v", got)
	}
	if got, _ := s.PrefixBlocked(t.Context(), "+4477009", at(time.Hour)); got != nil {
		t.Fatalf("after the block: %+v", got)
	}
	// A shorter block never shortens a longer one.
	if err := s.BlockPrefix(t.Context(), switchboard.PrefixBlock{Prefix: b.Prefix, Reason: "again", Until: at(time.Minute), At: at(time.Second)}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.PrefixBlocked(t.Context(), "+4477009", at(30*time.Minute)); got == nil {
		t.Fatal("the block was shortened")
	}
	evs, _ := s.ListAppEvents(t.Context(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppVerificationFraudAlert}})
	if len(evs) != 1 {
		t.Fatalf("fraud alert events: %d", len(evs))
	}
}

func testListVerifications(t *testing.T, s switchboard.Store) {
	const a, b = "+14155550100", "+14155550101"
	var want []string // newest first
	for i, c := range []struct {
		to     string
		status switchboard.VerificationStatus
	}{{a, switchboard.VerificationApproved}, {b, switchboard.VerificationExpired}, {a, switchboard.VerificationCanceled}, {b, switchboard.VerificationPending}, {a, switchboard.VerificationPending}} {
		v := newVerification(c.to, at(time.Duration(i)*time.Second))
		v.Status = c.status
		if err := s.CreateVerification(t.Context(), v, nil); err != nil {
			t.Fatal(err)
		}
		want = append([]string{v.ID}, want...)
	}
	ids := func(f switchboard.VerificationFilter) []string {
		t.Helper()
		var out []string
		for pages := 0; ; pages++ {
			vs, next, err := s.ListVerifications(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				out = append(out, v.ID)
			}
			if next == "" || pages > 10 {
				return out
			}
			f.Cursor = next
		}
	}
	if got := ids(switchboard.VerificationFilter{Limit: 2}); !cmp.Equal(got, want) {
		t.Errorf("all, two a page: %v, want %v", got, want)
	}
	if got := ids(switchboard.VerificationFilter{To: a}); !cmp.Equal(got, []string{want[0], want[2], want[4]}) {
		t.Errorf("to %s: %v", a, got)
	}
	if got := ids(switchboard.VerificationFilter{Status: switchboard.VerificationPending, Limit: 1}); !cmp.Equal(got, want[:2]) {
		t.Errorf("pending: %v, want %v", got, want[:2])
	}
	if got := ids(switchboard.VerificationFilter{To: b, Status: switchboard.VerificationApproved}); len(got) != 0 {
		t.Errorf("approved to %s: %v, want none", b, got)
	}
	vs, _, err := s.ListVerifications(t.Context(), switchboard.VerificationFilter{To: a, Limit: 1})
	if err != nil || len(vs) != 1 || vs[0].CodeHash != "hash" || vs[0].To != a {
		t.Errorf("a listed verification is read whole: %+v %v", vs, err)
	}
}
