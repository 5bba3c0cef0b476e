package consent_test

import (
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
)

// An opt-out binds every tenant on the number, but only the tenant that recorded it reads its
// evidence (the inbound message's ID and SID): another tenant is told that one was recorded.
func TestReasonHidesAnotherTenantsEvidence(t *testing.T) {
	c := &switchboard.ConsentRecord{Phone: "+14155550100", Scope: "default", State: switchboard.ConsentOptedOut,
		Source: switchboard.ConsentFromKeyword, Evidence: "inbound in_123 (SM456): STOP", Tenant: "acme",
		At: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	if got := consent.ReasonFor(c, "acme"); !strings.Contains(got, "in_123") {
		t.Errorf("acme's own reason lacks its evidence: %s", got)
	}
	got := consent.ReasonFor(c, "globex")
	if strings.Contains(got, "in_123") || strings.Contains(got, "SM456") || !strings.Contains(got, "another tenant") {
		t.Errorf("globex reads acme's evidence: %s", got)
	}
	if got := consent.ReasonFor(&switchboard.ConsentRecord{Evidence: "form", Scope: "*"}, ""); !strings.Contains(got, "form") {
		t.Errorf("the default tenant's own reason (empty tenants) lacks its evidence: %s", got)
	}
}
