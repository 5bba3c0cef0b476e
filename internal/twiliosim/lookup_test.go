package twiliosim_test

import (
	"testing"

	lookups "github.com/twilio/twilio-go/rest/lookups/v2"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// Lookup v2 through twilio-go: validity, national format, line type intelligence.
func TestLookupV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)
	if err := e.sim.ScriptCalls(twiliosim.CallScript{Number: "+14155550177", Outcome: twiliosim.OutcomeFail}); err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]string{"+14155550100": "mobile", "+18005550100": "tollFree", twiliosim.MagicFrom: "nonFixedVoip", "+14155550177": "landline"} {
		got, err := rc.LookupsV2.FetchPhoneNumber(number, (&lookups.FetchPhoneNumberParams{}).SetFields("line_type_intelligence"))
		if err != nil || !got.Valid || *got.CountryCode != "US" || *got.CallingCountryCode != "1" {
			t.Fatalf("%s: %+v %v", number, got, err)
		}
		if got.LineTypeIntelligence.Type != want {
			t.Errorf("%s: line type %v, want %s", number, got.LineTypeIntelligence.Type, want)
		}
	}
	got, err := rc.LookupsV2.FetchPhoneNumber("+1415", &lookups.FetchPhoneNumberParams{})
	if err != nil || got.Valid || len(got.ValidationErrors) != 1 || got.LineTypeIntelligence.Type != "" {
		t.Fatalf("short number: %+v %v", got, err)
	}
}
