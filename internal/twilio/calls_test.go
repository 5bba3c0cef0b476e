package twilio

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestFetchCall: a call's status is read with GET .../Calls/{Sid}.json, and a call Twilio does
// not know fails with HTTP 404 (what the voice service's status poll ends the call on).
func TestFetchCall(t *testing.T) {
	t.Parallel()
	const sid = "CA0123456789abcdef0123456789abcdef"
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/Accounts/"+testAccount+"/Calls/"+sid+".json") {
			writeJSON(w, 404, twilioError(404, 20404, "The requested resource was not found"))
			return
		}
		writeJSON(w, 200, map[string]any{"sid": sid, "account_sid": testAccount, "status": "no-answer", "answered_by": "machine_start"})
	})
	p, _ := newTestProvider(t, f.URL)

	pc, err := p.FetchCall(context.Background(), sid)
	if err != nil {
		t.Fatalf("FetchCall: %v", err)
	}
	if pc.SID != sid || pc.Status != switchboard.CallNoAnswer || pc.ProviderStatus != "no-answer" || pc.AnsweredBy != "machine_start" {
		t.Errorf("got %+v", pc)
	}
	_, err = p.FetchCall(context.Background(), "CAffffffffffffffffffffffffffffffff")
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) || pe.HTTPStatus != 404 {
		t.Errorf("unknown call: err = %v, want a ProviderError with HTTP 404", err)
	}
}
