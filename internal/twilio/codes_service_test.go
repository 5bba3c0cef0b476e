package twilio

import (
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestMessagingServiceCodes: the codes Twilio answers for a wrong Messaging Service (as the
// simulator now does) are explained and fail the message rather than falling to the unknown
// default.
func TestMessagingServiceCodes(t *testing.T) {
	t.Parallel()
	for _, code := range []int{21701, 21704, 21705, 21710} {
		info := LookupCode(code)
		if !info.Known || info.Title == "" || info.Outcome != switchboard.OutcomeFail {
			t.Errorf("code %d: %+v", code, info)
		}
	}
}
