package node

import "testing"

// TestExplainCodeNoRetry: the dashboard refuses a retry for the codes of the catalog where
// sending again to the same number cannot help (opted out, invalid, unknown, landline, not
// SMS-capable, no WhatsApp account), and allows it where it can (an unreachable handset, an
// unknown error, a carrier's spam filter fixed by changing the text).
func TestExplainCodeNoRetry(t *testing.T) {
	t.Parallel()
	for _, code := range []int{21610, 21211, 21614, 30005, 30006, 63003} {
		if explainCode(code).NoRetry == "" {
			t.Errorf("code %d: a retry is offered", code)
		}
	}
	for _, code := range []int{30003, 30008, 30007, 63016, 21408, 20429, 99999} {
		if why := explainCode(code).NoRetry; why != "" {
			t.Errorf("code %d: no retry (%s)", code, why)
		}
	}
}
