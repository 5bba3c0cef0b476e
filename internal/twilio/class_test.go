package twilio

import (
	"net/http"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestErrorClasses: Twilio's codes become Switchboard's classes at this edge — the codes the
// consumers used to test themselves (verify's 60200/60202/60203/60212/20404, the WhatsApp
// window's 63016, the opt-out's 21610, media's 30019, verify fallback's 30003/30005/30006) each
// land in the class the consumer now tests, a failed call's ProviderError carries its class,
// and every class Switchboard stops a message for itself maps back to the code it records.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]switchboard.ErrorClass{
		0: switchboard.ClassNone, 21610: switchboard.ClassOptedOut, 30004: switchboard.ClassOptedOut,
		21211: switchboard.ClassInvalidRecipient, 30005: switchboard.ClassInvalidRecipient, 30006: switchboard.ClassInvalidRecipient,
		30003: switchboard.ClassUnreachable, 30007: switchboard.ClassCarrierFiltered, 21611: switchboard.ClassThroughput,
		63016: switchboard.ClassWhatsAppWindow, 30019: switchboard.ClassMediaTooLarge, 30034: switchboard.ClassCarrierOther,
		60200: switchboard.ClassInvalidParameter, 60202: switchboard.ClassMaxAttempts, 60203: switchboard.ClassMaxSends,
		60212: switchboard.ClassBusy, 20404: switchboard.ClassNotFound, 99999: switchboard.ClassOther,
	} {
		if got := Class(code); got != want {
			t.Errorf("Class(%d) = %s, want %s", code, got, want)
		}
	}
	for _, class := range []switchboard.ErrorClass{switchboard.ClassOptedOut, switchboard.ClassWhatsAppWindow, switchboard.ClassMediaTooLarge} {
		code := Code(class)
		if code == 0 || Class(code) != class {
			t.Errorf("Code(%s) = %d, whose class is %s", class, code, Class(code))
		}
	}
	if Code(switchboard.ClassOther) != 0 {
		t.Error("a class with no code of its own should map to 0")
	}
	pe := httpError(http.StatusBadRequest, 60202, "Max check attempts reached", nil, nil)
	if pe.Class != switchboard.ClassMaxAttempts || pe.Code != 60202 {
		t.Errorf("httpError: class %s code %d, want max_attempts with 60202 kept as detail", pe.Class, pe.Code)
	}
	var p switchboard.Provider = &Provider{}
	if p.ErrorClass(21610) != switchboard.ClassOptedOut || p.ErrorCode(switchboard.ClassOptedOut) != 21610 {
		t.Error("Provider does not implement ErrorCodes with Class and Code")
	}
}
