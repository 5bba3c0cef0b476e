package verify_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

// startIn starts a verification of to for tenant, failing the test on an error.
func (h *harness) startIn(tenant string, req verify.StartRequest) *switchboard.Verification {
	h.t.Helper()
	v, err := h.svc.StartIn(h.t.Context(), req, tenant, "key_"+tenant)
	if err != nil {
		h.t.Fatalf("tenant %s starts %+v: %v", tenant, req, err)
	}
	return v
}

// codeOfV reads the code of v's last send from its otp message, which must be v's tenant's.
func (h *harness) codeOfV(v *switchboard.Verification) string {
	h.t.Helper()
	id := v.SendAttempts[len(v.SendAttempts)-1].MessageID
	m, err := h.store.GetMessage(h.t.Context(), id)
	if err != nil {
		h.t.Fatalf("otp message %s: %v", id, err)
	}
	if m.Metadata["verification_id"] != v.ID || m.Tenant != v.Tenant {
		h.t.Fatalf("the otp message of %s (tenant %s) is tenant %s's, for %s", v.ID, v.Tenant, m.Tenant, m.Metadata["verification_id"])
	}
	return codeRe.FindStringSubmatch(m.Body)[1]
}

func (h *harness) verification(id string) *switchboard.Verification {
	h.t.Helper()
	v, err := h.store.GetVerification(h.t.Context(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// Two tenants verifying one person (builtin backend) each get their own verification and code:
// neither blocks nor sees the other's, and a resend, a check, a cancel, an expiry or a fallback
// of one leaves the other as it was. Each code goes in an otp message of its own tenant.
func TestTenantsVerifyOneNumberApart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	const to = "+14155550600"
	a := h.startIn("acme", verify.StartRequest{To: to})
	b := h.startIn("globex", verify.StartRequest{To: to})
	if b.ID == a.ID || b.Tenant != "globex" || b.Sends != 1 || a.Tenant != "acme" {
		t.Fatalf("globex's start for acme's number: %+v (acme's %s)", b, a.ID)
	}
	codeA, codeB := h.codeOfV(a), h.codeOfV(b)

	// acme's resend is acme's: the same code again, globex's untouched.
	again := h.startIn("acme", verify.StartRequest{To: to})
	if again.ID != a.ID || again.Sends != 2 || h.codeOfV(again) != codeA {
		t.Fatalf("acme's second start: %+v, want a resend of %s", again, a.ID)
	}
	if got := h.verification(b.ID); got.Sends != 1 || got.Version != b.Version {
		t.Fatalf("acme's resend changed globex's verification: %+v", got)
	}

	// The fallback of acme's text (undelivered) calls for acme's code alone.
	st, ec := switchboard.StatusUndelivered, 30003
	if _, err := h.store.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: again.SendAttempts[1].MessageID, Status: st,
		ErrorCode: &ec, At: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Second)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if calls := h.caller.all(); len(calls) != 1 || calls[0].twiml != verify.VoiceTwiML(codeA, "en") {
		t.Fatalf("calls after acme's text failed: %+v", calls)
	}
	if got := h.verification(b.ID); got.Channel != switchboard.VerifySMS || got.Sends != 1 {
		t.Fatalf("acme's fallback moved globex's verification: %+v", got)
	}

	// A check of one tenant's verification with the other's code fails (unless the codes
	// happen to be equal); each approves with its own.
	if codeA != codeB {
		res, err := h.svc.Check(t.Context(), b.ID, codeA)
		if err != nil || res.Valid {
			t.Fatalf("globex's verification checked with acme's code: %+v, %v", res, err)
		}
	}
	if res, err := h.svc.Check(t.Context(), a.ID, codeA); err != nil || !res.Valid {
		t.Fatalf("acme's check: %+v, %v", res, err)
	}
	if got := h.verification(b.ID); got.Status != switchboard.VerificationPending {
		t.Fatalf("acme's approval ended globex's verification: %s", got.Status)
	}
	// globex cancels; acme's approval stands.
	if _, err := h.svc.Cancel(t.Context(), b.ID); err != nil {
		t.Fatal(err)
	}
	if got := h.verification(a.ID); got.Status != switchboard.VerificationApproved {
		t.Fatalf("globex's cancel changed acme's verification: %s", got.Status)
	}

	// Expiry: acme's expires while globex's, started later, is still pending; globex's next
	// start is a resend of its own, acme's a new verification.
	a2 := h.startIn("acme", verify.StartRequest{To: to})
	h.clock.Add(6 * time.Minute)
	b2 := h.startIn("globex", verify.StartRequest{To: to})
	h.clock.Add(5 * time.Minute)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := h.verification(a2.ID); got.Status != switchboard.VerificationExpired {
		t.Fatalf("acme's verification past its lifetime: %s", got.Status)
	}
	if got := h.verification(b2.ID); got.Status != switchboard.VerificationPending {
		t.Fatalf("acme's expiry ended globex's verification: %s", got.Status)
	}
	if v := h.startIn("globex", verify.StartRequest{To: to}); v.ID != b2.ID {
		t.Fatalf("globex's start while its own is pending: %s, want a resend of %s", v.ID, b2.ID)
	}
	if v := h.startIn("acme", verify.StartRequest{To: to}); v.ID == a2.ID || v.ID == b2.ID {
		t.Fatalf("acme's start after its own expired: %s", v.ID)
	}
}

// The rate limits count each tenant apart: a user_ref, client_ip, number or country at its limit
// in one tenant is not limited in another (user 42 of acme is not user 42 of globex). The
// refusal records acme, and each tenant lists its own refusals only.
func TestRateLimitsPerTenant(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dim    string
		limits verify.Limits
		// first and second are acme's starts; the second is over the limit. globex then makes
		// the second.
		first, second verify.StartRequest
	}{
		{"user_ref", verify.Limits{UserRef: []verify.Window{{1, time.Hour}}},
			verify.StartRequest{To: "+14155550610", UserRef: "42"}, verify.StartRequest{To: "+14155550611", UserRef: "42"}},
		{"client_ip", verify.Limits{ClientIP: []verify.Window{{1, time.Hour}}},
			verify.StartRequest{To: "+14155550612", ClientIP: "198.51.100.9"}, verify.StartRequest{To: "+14155550613", ClientIP: "198.51.100.9"}},
		{"phone", verify.Limits{Phone: []verify.Window{{1, time.Hour}}},
			verify.StartRequest{To: "+14155550614"}, verify.StartRequest{To: "+14155550614"}},
		{"country", verify.Limits{Country: []verify.Window{{1, time.Hour}}},
			verify.StartRequest{To: "+14155550615"}, verify.StartRequest{To: "+12125550616"}},
	} {
		t.Run(c.dim, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(cfg *verify.Config) { cfg.Limits = c.limits })
			h.startIn("acme", c.first)
			_, err := h.svc.StartIn(t.Context(), c.second, "acme", "key_acme")
			ref := switchboard.RefusalOf(err)
			if ref == nil || switchboard.ErrorCodeOf(err) != "rate_limited" {
				t.Fatalf("acme's second start: %v, want rate_limited", err)
			}
			if v := h.startIn("globex", c.second); v.Tenant != "globex" {
				t.Fatalf("globex's start: %+v", v)
			}
			rs, _, err := h.svc.Refusals(t.Context(), switchboard.RefusalFilter{Tenant: "acme"})
			if err != nil || len(rs) != 1 || rs[0].ID != ref.SupportRef || rs[0].Tenant != "acme" || rs[0].Reason != "rate_limited_"+c.dim {
				t.Fatalf("acme's refusals: %+v, %v", rs, err)
			}
			if rs, _, err := h.svc.Refusals(t.Context(), switchboard.RefusalFilter{Tenant: "globex"}); err != nil || len(rs) != 0 {
				t.Fatalf("globex lists refusals: %+v, %v", rs, err)
			}
		})
	}
}

// The default tenant's counters keep their keys from before tenants: counts written then go on
// after the upgrade, and another tenant's do not add to them.
func TestDefaultTenantRateCountersKeepTheirKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Limits = verify.Limits{UserRef: []verify.Window{{3, time.Hour}}} })
	if _, err := h.store.HitRates(t.Context(), []switchboard.RateHit{{Key: "user:42/1h0m0s", Window: time.Hour}, {Key: "user:42/1h0m0s", Window: time.Hour}},
		h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.startIn("globex", verify.StartRequest{To: "+14155550620", UserRef: "42"})
	h.startIn(switchboard.DefaultTenant, verify.StartRequest{To: "+14155550621", UserRef: "42"})
	if _, err := h.svc.StartIn(t.Context(), verify.StartRequest{To: "+14155550622", UserRef: "42"}, switchboard.DefaultTenant, "k"); switchboard.ErrorCodeOf(err) != "rate_limited" {
		t.Fatalf("the default tenant's fourth start of user 42 (two counted before): %v, want rate_limited", err)
	}
}

// A prefix blocked for SMS pumping is blocked for every tenant, and the pumping rule counts the
// starts of every tenant together: a pumper spreading its starts over tenants trips it as one.
// The refusals record the tenant whose start was refused.
func TestPumpingAndPrefixBlocksAcrossTenants(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) {
		c.Pumping = verify.Pumping{Window: time.Hour, Threshold: 3, RiskyThreshold: 3, BlockFor: time.Hour, DropDigits: 2}
	})
	h.startIn("acme", verify.StartRequest{To: "+14155550631"})
	h.startIn("acme", verify.StartRequest{To: "+14155550632"})
	h.startIn("globex", verify.StartRequest{To: "+14155550633"})
	_, err := h.svc.StartIn(t.Context(), verify.StartRequest{To: "+14155550634"}, "globex", "key_globex")
	if switchboard.ErrorCodeOf(err) != "prefix_blocked" {
		t.Fatalf("the fourth unverified start to +141555506xx, over two tenants: %v, want prefix_blocked", err)
	}
	_, err = h.svc.StartIn(t.Context(), verify.StartRequest{To: "+14155550635"}, "acme", "key_acme")
	if switchboard.ErrorCodeOf(err) != "prefix_blocked" {
		t.Fatalf("acme's start to the prefix globex tripped: %v, want prefix_blocked", err)
	}
	for tenant, reason := range map[string]string{"globex": "pumping_suspected", "acme": "prefix_blocked"} {
		rs, _, err := h.svc.Refusals(t.Context(), switchboard.RefusalFilter{Tenant: tenant})
		if err != nil || len(rs) != 1 || rs[0].Reason != reason || rs[0].Tenant != tenant {
			t.Errorf("%s's refusals: %+v, %v; want one %s", tenant, rs, err, reason)
		}
	}
}

// With the twilio backend the node's one Verify service has one verification per number:
// another tenant's start while one is pending is refused (409 verification_pending) and makes
// Twilio send nothing; once it ends, the other tenant may start.
func TestTwilioBackendOneVerificationPerNumber(t *testing.T) {
	t.Parallel()
	sim := twiliosim.New(twiliosim.Config{})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	prov, err := twilio.New(twilio.Config{AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(), BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	sid, err := prov.CreateVerifyService(t.Context(), "test", 6)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *verify.Config) { c.Backend, c.Twilio = verify.BackendTwilio, prov.Verify(sid) })
	const to = "+14155550640"
	a := h.startIn("acme", verify.StartRequest{To: to})
	_, err = h.svc.StartIn(t.Context(), verify.StartRequest{To: to}, "globex", "key_globex")
	if !switchboard.IsKind(err, switchboard.ECONFLICT) || switchboard.ErrorCodeOf(err) != "verification_pending" || strings.Contains(err.Error(), a.ID) {
		t.Fatalf("globex's start while acme's is pending: %v, want verification_pending naming nothing of acme's", err)
	}
	if got := h.verification(a.ID); got.Sends != 1 {
		t.Fatalf("globex's refused start resent acme's code: %+v", got)
	}
	if _, err := h.svc.Cancel(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	if b := h.startIn("globex", verify.StartRequest{To: to}); b.Tenant != "globex" || b.ProviderSID == "" {
		t.Fatalf("globex's start after acme's ended: %+v", b)
	}
}
