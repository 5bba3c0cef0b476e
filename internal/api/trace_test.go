package api

import (
	"regexp"
	"testing"
)

var sidPattern = regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`)

// FuzzValidSID holds the provider-SID check of GET /v1/provider-messages/{sid} (untrusted path
// input) to Twilio's pattern.
func FuzzValidSID(f *testing.F) {
	for _, s := range []string{"SM0123456789abcdef0123456789abcdef", "MM0123456789abcdef0123456789abcdef",
		"SM0123456789ABCDEF0123456789ABCDEF", "SM0123456789abcdef0123456789abcde", "msg_1", "", "SMé123456789abcdef0123456789abcde",
		"XX0123456789abcdef0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validSID(s), sidPattern.MatchString(s); got != want {
			t.Fatalf("validSID(%q) = %v, pattern says %v", s, got, want)
		}
	})
}
