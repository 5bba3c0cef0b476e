package switchboard_test

import (
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestCheckVerification(t *testing.T) {
	t.Parallel()
	ok := func() *switchboard.Verification {
		return &switchboard.Verification{ID: "ver_1", To: "+15555550100", Status: switchboard.VerificationPending,
			CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0}
	}
	for name, tc := range map[string]struct {
		change func(*switchboard.Verification) *switchboard.Verification
		code   string
	}{
		"valid":          {func(v *switchboard.Verification) *switchboard.Verification { return v }, ""},
		"nil":            {func(*switchboard.Verification) *switchboard.Verification { return nil }, "invalid_verification"},
		"no ID":          {func(v *switchboard.Verification) *switchboard.Verification { v.ID = ""; return v }, "invalid_verification"},
		"no phone":       {func(v *switchboard.Verification) *switchboard.Verification { v.To = ""; return v }, "invalid_verification"},
		"unknown status": {func(v *switchboard.Verification) *switchboard.Verification { v.Status = "lost"; return v }, "invalid_verification"},
		"no expiry": {func(v *switchboard.Verification) *switchboard.Verification {
			v.ExpiresAt = time.Time{}
			return v
		}, "invalid_verification"},
	} {
		if got := codeOf(switchboard.CheckVerification(tc.change(ok()))); got != tc.code {
			t.Errorf("%s: %q, want %q", name, got, tc.code)
		}
	}
}
