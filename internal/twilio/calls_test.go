package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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

func callJSON(sid, status, created string) map[string]any {
	return map[string]any{"sid": sid, "account_sid": testAccount, "to": testTo, "from": testFrom, "status": status,
		"direction": "outbound-api", "date_created": created, "date_updated": created, "start_time": nil}
}

// TestFindCalls: calls are looked for by To and From only (no StartTime filter: a call Twilio has
// not dialed yet has no start_time and would be missed), the Since cutoff (less a minute) is
// applied to date_created here, a call whose date cannot be read is kept, and a list as long as
// MaxFind comes with a find_incomplete error.
func TestFindCalls(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC)
	long := false
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/Accounts/"+testAccount+"/Calls.json") {
			writeJSON(w, 404, twilioError(404, 20404, "The requested resource was not found"))
			return
		}
		calls := []any{
			callJSON("CA01", "queued", "Mon, 02 Mar 2026 09:05:00 +0000"),
			callJSON("CA02", "busy", "Mon, 02 Mar 2026 08:59:40 +0000"),      // within the slack
			callJSON("CA03", "completed", "Mon, 02 Mar 2026 08:58:00 +0000"), // before the cutoff
			callJSON("CA04", "ringing", "not a date"),                        // kept: unreadable
		}
		if long {
			calls = nil
			for i := range MaxFind {
				calls = append(calls, callJSON(fmt.Sprintf("CA%032d", i), "completed", "Mon, 02 Mar 2026 08:00:00 +0000"))
			}
		}
		writeJSON(w, 200, map[string]any{"calls": calls, "next_page_uri": nil, "page": 0, "page_size": MaxFind})
	})
	p, _ := newTestProvider(t, f.URL)

	got, err := p.FindCalls(context.Background(), switchboard.CallQuery{To: testTo, From: testFrom, Since: since})
	if err != nil {
		t.Fatalf("FindCalls: %v", err)
	}
	var sids []string
	for _, c := range got {
		sids = append(sids, c.SID)
	}
	if want := []string{"CA01", "CA02", "CA04"}; !slices.Equal(sids, want) {
		t.Errorf("FindCalls SIDs = %v, want %v", sids, want)
	}
	if c := got[1]; c.Status != switchboard.CallBusy || c.ProviderStatus != "busy" || c.To != testTo || c.From != testFrom || c.CreatedAt.IsZero() {
		t.Errorf("second call = %+v", c)
	}
	q := f.Requests()[0].Query
	if q.Get("To") != testTo || q.Get("From") != testFrom {
		t.Errorf("query %v, want To and From", q)
	}
	for k := range q {
		if strings.HasPrefix(k, "StartTime") || strings.HasPrefix(k, "EndTime") {
			t.Errorf("query %v filters on %s", q, k)
		}
	}

	long = true
	got, err = p.FindCalls(context.Background(), switchboard.CallQuery{To: testTo, From: testFrom, Since: since})
	if switchboard.ErrorCodeOf(err) != switchboard.CodeFindIncomplete || len(got) != 0 {
		t.Errorf("a list of MaxFind calls: %d found, err %v; want none after the cutoff and find_incomplete", len(got), err)
	}
	if _, err := p.FindCalls(context.Background(), switchboard.CallQuery{To: testTo}); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Errorf("FindCalls without From = %v, want EINVALID", err)
	}
}
