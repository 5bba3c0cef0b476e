package twilio

import (
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestCodeTableCoversTwilioFacts: every code of shared/twilio-facts.md §3 is in the table with
// the outcome the fact sheet's "retry?" column implies.
func TestCodeTableCoversTwilioFacts(t *testing.T) {
	t.Parallel()
	var (
		retry     = switchboard.OutcomeRetry
		retrySlow = switchboard.OutcomeRetrySlow
		fail      = switchboard.OutcomeFail
		optedOut  = switchboard.OutcomeOptedOut
	)
	facts := map[int]switchboard.Outcome{
		20003: fail, 20404: fail, 20429: retry,
		21211: fail, 21212: fail, 21408: fail, 21606: fail, 21610: optedOut, 21611: retrySlow,
		21612: fail, 21614: fail, 21617: fail,
		30001: retrySlow, 30002: fail, 30003: retrySlow, 30004: fail, 30005: fail, 30006: fail,
		30007: fail, 30008: retrySlow, 30034: fail,
		63016: fail, 63017: retrySlow, 63018: retry,
		60200: fail, 60202: fail, 60203: fail, 60212: retry,
		35115: fail,
	}
	for code, want := range facts {
		info := LookupCode(code)
		if !info.Known {
			t.Errorf("code %d missing from the table", code)
			continue
		}
		if info.Outcome != want {
			t.Errorf("code %d: outcome %s, want %s", code, info.Outcome, want)
		}
	}
}

func TestCodeTableEntriesAreComplete(t *testing.T) {
	t.Parallel()
	codes := KnownCodes()
	if len(codes) < 29 {
		t.Fatalf("only %d codes", len(codes))
	}
	for i, code := range codes {
		if i > 0 && codes[i-1] >= code {
			t.Errorf("KnownCodes not sorted at %d", i)
		}
		info := LookupCode(code)
		if info.Code != code || info.Title == "" || len(info.Explanation) < 40 || !info.Known {
			t.Errorf("code %d: incomplete entry %+v", code, info)
		}
		if !strings.HasSuffix(info.Explanation, ".") {
			t.Errorf("code %d: explanation should be whole sentences: %q", code, info.Explanation)
		}
		if info.Outcome == switchboard.OutcomeAmbiguous && code/100 != 205 {
			t.Errorf("code %d: only server errors are ambiguous", code)
		}
	}
}

func TestLookupUnknownCode(t *testing.T) {
	t.Parallel()
	info := LookupCode(12345)
	if info.Known || info.Code != 12345 || info.Outcome != switchboard.OutcomeFail {
		t.Errorf("unknown code: %+v", info)
	}
	if !strings.Contains(info.Explanation, "https://www.twilio.com/docs/errors/12345") ||
		info.DocURL() != "https://www.twilio.com/docs/errors/12345" {
		t.Errorf("unknown code explanation %q does not link Twilio's docs", info.Explanation)
	}
	if d := LookupCode(21610).Describe(); !strings.HasPrefix(d, "Recipient has opted out") {
		t.Errorf("Describe = %q", d)
	}
}
