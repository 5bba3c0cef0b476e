package switchboard_test

import (
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestValidRecipientPattern(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{
		"+14155550100": true, "+1415555*": true, "+1*": true, "+447700900123": true,
		"+*": false, "*": false, "14155550100": false, "+141555": false, "+1415555": true, "+0155550100": false,
		"+1415 555": false, "+14155550100*1": false, "": false, "+1234567890123456": false, "+1**": false,
	} {
		if got := switchboard.ValidRecipientPattern(p); got != ok {
			t.Errorf("ValidRecipientPattern(%q) = %v, want %v", p, got, ok)
		}
	}
}

func TestCheckRecipient(t *testing.T) {
	t.Parallel()
	list := []string{"+14155550100", "+1212555*"}
	allow := &switchboard.Tenant{ID: "acme-staging", Environment: switchboard.EnvStaging, AllowedRecipients: list}
	sim := &switchboard.Tenant{ID: "acme-sim", Environment: switchboard.EnvStaging, StagingMode: switchboard.StagingSimulator}
	prod := &switchboard.Tenant{ID: "acme", Environment: switchboard.EnvProduction, AllowedRecipients: list}
	for _, c := range []struct {
		t         *switchboard.Tenant
		to        string
		simulated bool
		code      string
	}{
		{allow, "+14155550100", false, ""},
		{allow, "+12125550123", false, ""},
		{allow, "+14155550101", false, switchboard.CodeStagingRecipient},
		{allow, "+14155550101", true, switchboard.CodeStagingRecipient}, // the list holds on the simulator too
		{sim, "+14155550101", true, ""},
		{sim, "+14155550101", false, switchboard.CodeStagingSimulator},
		{prod, "+19995550100", false, ""},
		{nil, "+19995550100", false, ""},
		{&switchboard.Tenant{ID: "empty", Environment: switchboard.EnvStaging}, "+14155550100", false, switchboard.CodeStagingRecipient},
	} {
		err := c.t.CheckRecipient(c.to, c.simulated)
		if switchboard.ErrorCodeOf(err) != c.code && !(c.code == "" && err == nil) {
			t.Errorf("%v.CheckRecipient(%s, simulated %v): %v, want %q", c.t, c.to, c.simulated, err, c.code)
		}
		if err != nil && (!switchboard.IsKind(err, switchboard.EUNPROCESSABLE) || strings.Contains(err.Error(), c.to)) {
			t.Errorf("refusal %v: want 422 without the number", err)
		}
	}
}

func FuzzRecipientAllowed(f *testing.F) {
	f.Add("+1415555*", "+14155550100")
	f.Add("+14155550100", "+14155550100")
	f.Add("*", "+1")
	f.Fuzz(func(t *testing.T, pattern, to string) {
		valid := switchboard.ValidRecipientPattern(pattern)
		got := switchboard.RecipientAllowed([]string{pattern}, to)
		if !valid {
			return // the API refuses such a list entry; matching it is not defined
		}
		num, prefix := strings.CutSuffix(pattern, "*")
		want := to == pattern || prefix && strings.HasPrefix(to, num)
		if got != want {
			t.Fatalf("RecipientAllowed(%q, %q) = %v, want %v", pattern, to, got, want)
		}
	})
}
