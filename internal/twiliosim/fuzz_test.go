package twiliosim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// offline refuses every outgoing request, so that fuzzed StatusCallback or SmsUrl values can
// never reach the network.
type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
}

func fuzzSim(f *testing.F) *twiliosim.Simulator {
	sim := twiliosim.New(twiliosim.Config{
		HTTPClient:      &http.Client{Transport: offline{}},
		MaxMessages:     1000,
		CallbackRetries: -1,
	})
	f.Cleanup(sim.Close)
	return sim
}

// checkAnswer asserts the simulator never fails with a 5xx on input and always answers JSON
// (Twilio's error JSON for errors).
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("HTTP %d, body is not JSON: %q", rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		if _, ok := v["code"].(float64); !ok {
			t.Fatalf("HTTP %d without an error code: %s", rec.Code, rec.Body)
		}
	}
}

func FuzzCreateMessageForm(f *testing.F) {
	sim := fuzzSim(f)
	h := sim.Handler()
	path := "/2010-04-01/Accounts/" + sim.AccountSID() + "/Messages.json"
	for _, seed := range []string{
		"To=%2B14155550100&From=%2B15005550006&Body=hi",
		"To=%2B14155550100&MessagingServiceSid=MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&Body=hi&ScheduleType=fixed&SendAt=2099-01-01T00:00:00Z",
		"To=%2B14155550100&From=%2B15005550006&MediaUrl=https%3A%2F%2Fexample.com%2Fa.png&MediaUrl=x",
		"To=%2B15005550004&From=%2B15005550006&Body=magic&ValidityPeriod=-5",
		"To=whatsapp%3A%2B14155550100&From=whatsapp%3A%2B15005550006&ContentSid=HXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"To=%2B14155550100&From=%2B15005550006&Body=%F0%9F%91%8D%FF%FE&StatusCallback=http%3A%2F%2F127.0.0.1%3A1%2Fs%23rc%3D9",
		"%zz&=&&==",
		"To=" + strings.Repeat("9", 5000),
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sim.AccountSID(), sim.AuthToken())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec)
		if rec.Code == http.StatusCreated && !bytes.Contains(rec.Body.Bytes(), []byte(`"sid":"`)) {
			t.Fatalf("201 without a sid: %s", rec.Body)
		}
	})
}

func FuzzListMessagesQuery(f *testing.F) {
	sim := fuzzSim(f)
	h := sim.Handler()
	path := "/2010-04-01/Accounts/" + sim.AccountSID() + "/Messages.json"
	for _, seed := range []string{
		"To=%2B14155550100&PageSize=2&Page=1",
		"DateSent%3E=2024-01-01&DateSent%3C=2024-01-02T00:00:00Z",
		"DateSent=Wed, 19 Jun 2019 22:04:00 -0000",
		"PageToken=PBSMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&Page=-1",
		"PageSize=100000000000000000000",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.URL.RawQuery = query
		req.SetBasicAuth(sim.AccountSID(), sim.AuthToken())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec)
	})
}
