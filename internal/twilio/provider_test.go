package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

const (
	testTo   = "+14155550123"
	testFrom = "+15005550006"
	testMG   = "MG0123456789abcdef0123456789abcdef"
	testSID  = "SM0123456789abcdef0123456789abcdef"
	testBody = "Your technician Ann is on the way"
)

func TestSendReachesTwilioWithFormAndAuth(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, messageJSON(testSID, testTo, testFrom, testBody, "queued",
			"Thu, 30 Jul 2015 20:12:31 +0000"))
	})
	p, logs := newTestProvider(t, f.URL)

	pm, err := p.Send(context.Background(), &switchboard.SendRequest{
		MessageID:      "msg_1",
		To:             testTo,
		From:           testFrom,
		Body:           testBody,
		MediaURLs:      []string{"https://example.com/a.png", "https://example.com/b.png"},
		StatusCallback: "https://sb.example.com/webhooks/twilio/status?message_id=msg_1",
		ValidityPeriod: 90 * time.Second,
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if pm.SID != testSID || pm.Status != switchboard.StatusSending || pm.ProviderStatus != "queued" {
		t.Errorf("got SID %q status %q (%q), want %q sending (queued)", pm.SID, pm.Status, pm.ProviderStatus, testSID)
	}
	if want := time.Date(2015, 7, 30, 20, 12, 31, 0, time.UTC); !pm.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v", pm.CreatedAt, want)
	}
	var raw map[string]any
	if err := json.Unmarshal(pm.Raw, &raw); err != nil || raw["sid"] != testSID || raw["status"] != "queued" {
		t.Errorf("Raw = %s (%v), want the message JSON", pm.Raw, err)
	}

	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1 (no retries)", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/2010-04-01/Accounts/"+testAccount+"/Messages.json" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	if !r.HasAuth || r.User != testAccount || r.Password != testToken {
		t.Errorf("basic auth = %v %q, want the account SID and auth token", r.HasAuth, r.User)
	}
	for key, want := range map[string]string{
		"To": testTo, "From": testFrom, "Body": testBody, "ValidityPeriod": "90",
		"StatusCallback": "https://sb.example.com/webhooks/twilio/status?message_id=msg_1",
	} {
		if got := r.Form.Get(key); got != want {
			t.Errorf("form %s = %q, want %q", key, got, want)
		}
	}
	if got := r.Form["MediaUrl"]; !slices.Equal(got, []string{"https://example.com/a.png", "https://example.com/b.png"}) {
		t.Errorf("MediaUrl = %q", got)
	}
	if r.Form.Has("MessagingServiceSid") {
		t.Errorf("MessagingServiceSid sent with a number sender")
	}

	// Never bodies, tokens or full phone numbers in logs.
	out := logs.String()
	for _, secret := range []string{testBody, testToken, testTo, testFrom} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, testSID) {
		t.Errorf("logs do not name the message SID:\n%s", out)
	}
}

func TestSendMessagingServiceAndOptionalFields(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, messageJSON(testSID, testTo, "", "", "accepted", ""))
	})
	p, _ := newTestProvider(t, f.URL, func(c *Config) {
		c.APIKey, c.APISecret = "SK0123456789abcdef0123456789abcdef", "apisecret123"
	})

	pm, err := p.Send(context.Background(), &switchboard.SendRequest{To: testTo, From: testMG, Body: "hi"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if pm.Status != switchboard.StatusSending {
		t.Errorf("accepted mapped to %q, want sending", pm.Status)
	}
	r := f.Requests()[0]
	if r.Form.Get("MessagingServiceSid") != testMG || r.Form.Has("From") {
		t.Errorf("form = %v, want MessagingServiceSid and no From", r.Form)
	}
	for _, key := range []string{"MediaUrl", "StatusCallback", "ValidityPeriod"} {
		if r.Form.Has(key) {
			t.Errorf("form has %s = %q, want it absent when not asked for", key, r.Form[key])
		}
	}
	if r.User != "SK0123456789abcdef0123456789abcdef" || r.Password != "apisecret123" {
		t.Errorf("basic auth user %q, want the API key", r.User)
	}
}

func TestValiditySeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Duration
		want int
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Millisecond, 1},
		{1500 * time.Millisecond, 2},
		{time.Minute, 60},
		{10 * time.Hour, 36000},
		{48 * time.Hour, 36000},
	} {
		if got := validitySeconds(tc.in); got != tc.want {
			t.Errorf("validitySeconds(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestIsMessagingServiceSID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		testMG:                                true,
		"MGMResorts":                          false, // an alphanumeric sender ID
		"+15005550006":                        false,
		"MG0123456789abcdef0123456789abcde!":  false,
		"MG0123456789abcdef0123456789abcdef0": false,
	} {
		if got := isMessagingServiceSID(s); got != want {
			t.Errorf("isMessagingServiceSID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestSendHTTPErrorClassification: every class of error answer from Twilio gets the right outcome.
func TestSendHTTPErrorClassification(t *testing.T) {
	t.Parallel()
	jsonAnswer := func(status, code int) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) { writeJSON(w, status, twilioError(status, code, "error text")) }
	}
	htmlAnswer := func(status int) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}
	}
	for _, tc := range []struct {
		name    string
		answer  func(w http.ResponseWriter)
		status  int
		code    int
		outcome switchboard.Outcome
	}{
		{"invalid To", jsonAnswer(400, 21211), 400, 21211, switchboard.OutcomeFail},
		{"invalid From", jsonAnswer(400, 21212), 400, 21212, switchboard.OutcomeFail},
		{"From not owned", jsonAnswer(400, 21606), 400, 21606, switchboard.OutcomeFail},
		{"opted out", jsonAnswer(400, 21610), 400, 21610, switchboard.OutcomeOptedOut},
		{"queue full", jsonAnswer(400, 21611), 400, 21611, switchboard.OutcomeRetrySlow},
		{"unknown 4xx code", jsonAnswer(400, 99999), 400, 99999, switchboard.OutcomeFail},
		{"not found", jsonAnswer(404, 20404), 404, 20404, switchboard.OutcomeFail},
		{"auth failed", jsonAnswer(401, 20003), 401, 20003, switchboard.OutcomeFail},
		{"401 overrides a retryable code", jsonAnswer(401, 20429), 401, 20429, switchboard.OutcomeFail},
		{"too many requests", jsonAnswer(429, 20429), 429, 20429, switchboard.OutcomeRetry},
		{"429 unknown code", jsonAnswer(429, 99998), 429, 99998, switchboard.OutcomeRetry},
		{"429 without JSON", htmlAnswer(429), 429, 0, switchboard.OutcomeRetry},
		{"429 Verify max attempts", jsonAnswer(429, 60203), 429, 60203, switchboard.OutcomeFail},
		{"500", jsonAnswer(500, 20500), 500, 20500, switchboard.OutcomeAmbiguous},
		{"5xx overrides a failing code", jsonAnswer(503, 21211), 503, 21211, switchboard.OutcomeAmbiguous},
		{"502 without JSON", htmlAnswer(502), 502, 0, switchboard.OutcomeAmbiguous},
		{"403 without JSON", htmlAnswer(403), 403, 0, switchboard.OutcomeFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) { tc.answer(w) })
			p, logs := newTestProvider(t, f.URL)
			pm, err := p.Send(context.Background(), &switchboard.SendRequest{To: testTo, From: testFrom, Body: testBody})
			if err == nil {
				t.Fatalf("Send = %+v, want an error", pm)
			}
			var pe *switchboard.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *switchboard.ProviderError", err, err)
			}
			if pe.Outcome != tc.outcome || pe.HTTPStatus != tc.status || pe.Code != tc.code {
				t.Errorf("got outcome %s http %d code %d, want %s http %d code %d",
					pe.Outcome, pe.HTTPStatus, pe.Code, tc.outcome, tc.status, tc.code)
			}
			if pe.Explanation == "" {
				t.Errorf("no explanation")
			}
			if tc.code != 0 && !validJSON(pe.Raw) {
				t.Errorf("Raw = %q, want Twilio's error JSON", pe.Raw)
			}
			if n := len(f.Requests()); n != 1 {
				t.Errorf("%d requests, want 1: the provider never retries", n)
			}
			if strings.Contains(logs.String(), "error text") {
				t.Errorf("Twilio's error text (which can quote a number) was logged")
			}
		})
	}
}

func validJSON(b []byte) bool { return len(b) > 0 && json.Valid(b) }

func TestSendSuccessWithoutSIDIsAmbiguous(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"no sid":       `{"status":"queued"}`,
		"cut-off JSON": `{"sid":"SM0123`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(body))
			})
			p, _ := newTestProvider(t, f.URL)
			_, err := p.Send(context.Background(), &switchboard.SendRequest{To: testTo, From: testFrom, Body: "x"})
			var pe *switchboard.ProviderError
			if !errors.As(err, &pe) || pe.Outcome != switchboard.OutcomeAmbiguous {
				t.Fatalf("err = %v, want an ambiguous ProviderError: the message may exist", err)
			}
		})
	}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/Messages/"+testSID+".json") {
			writeJSON(w, 404, twilioError(404, 20404, "The requested resource was not found"))
			return
		}
		m := messageJSON(testSID, testTo, testFrom, testBody, "undelivered", "Mon, 02 Mar 2026 09:05:00 +0000")
		m["error_code"] = 30007
		m["price"], m["price_unit"] = "-0.00790", "USD"
		writeJSON(w, 200, m)
	})
	p, _ := newTestProvider(t, f.URL)

	pm, err := p.Fetch(context.Background(), testSID)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if pm.Price == nil || pm.Price.Text != "-0.00790" || pm.Price.Unit != "USD" || pm.Price.Micros != 7900 {
		t.Errorf("Price = %+v, want Twilio's -0.00790 USD", pm.Price)
	}
	if pm.Status != switchboard.StatusUndelivered || pm.ErrorCode != 30007 || pm.Body != testBody ||
		pm.To != testTo || pm.From != testFrom {
		t.Errorf("got %+v", pm)
	}
	if !strings.Contains(pm.ErrorMessage, "filtered") {
		t.Errorf("ErrorMessage = %q, want the code table's explanation of 30007", pm.ErrorMessage)
	}
	if want := time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC); !pm.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v", pm.CreatedAt, want)
	}

	_, err = p.Fetch(context.Background(), "SMffffffffffffffffffffffffffffffff")
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) || pe.HTTPStatus != 404 || pe.Code != 20404 || pe.Outcome != switchboard.OutcomeFail {
		t.Errorf("Fetch(unknown) err = %v, want a 404/20404 ProviderError", err)
	}
	if _, err := p.Fetch(context.Background(), ""); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Errorf("Fetch(\"\") err = %v, want EINVALID", err)
	}
}

func TestFindPagesAndFiltersBySince(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 3, 2, 0, 0, 30, 0, time.UTC) // cutoff (since-1min) falls on March 1st
	page1 := map[string]any{
		"messages": []any{
			messageJSON("SM01", testTo, testFrom, "a", "sent", "Mon, 02 Mar 2026 09:00:00 +0000"),
			messageJSON("SM02", testTo, testFrom, "b", "delivered", "Sun, 01 Mar 2026 23:59:40 +0000"), // within the slack
		},
		"next_page_uri": "/2010-04-01/Accounts/" + testAccount + "/Messages.json?To=%2B14155550123&Page=1&PageSize=2&PageToken=PAtoken",
		"page":          0, "page_size": 2,
	}
	page2 := map[string]any{
		"messages": []any{
			messageJSON("SM03", testTo, testFrom, "c", "sent", "Sun, 01 Mar 2026 23:58:00 +0000"), // before the cutoff
			messageJSON("SM04", testTo, testFrom, "d", "queued", "not a date"),                    // kept: unreadable
		},
		"next_page_uri": nil, "page": 1, "page_size": 2,
	}
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("PageToken") == "PAtoken" {
			writeJSON(w, 200, page2)
			return
		}
		writeJSON(w, 200, page1)
	})
	p, _ := newTestProvider(t, f.URL)

	got, err := p.Find(context.Background(), switchboard.FindQuery{To: testTo, From: testFrom, Since: since})
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	var sids []string
	for _, m := range got {
		sids = append(sids, m.SID)
	}
	if want := []string{"SM01", "SM02", "SM04"}; !slices.Equal(sids, want) {
		t.Errorf("Find SIDs = %v, want %v", sids, want)
	}
	if got[0].Body != "a" || got[0].Status != switchboard.StatusSent || got[0].CreatedAt.IsZero() {
		t.Errorf("first message = %+v", got[0])
	}

	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 pages", len(reqs))
	}
	q := reqs[0].Query
	if q.Get("To") != testTo || q.Get("From") != testFrom {
		t.Errorf("query To/From = %q/%q", q.Get("To"), q.Get("From"))
	}
	// No DateSent filter: a message still queued at Twilio has no date_sent and must be found.
	for _, k := range []string{"DateSent>", "DateSent<", "DateSent"} {
		if got := q.Get(k); got != "" {
			t.Errorf("%s = %q: the list must not filter on DateSent", k, got)
		}
	}
	if reqs[1].Query.Get("PageToken") != "PAtoken" || reqs[1].Path != reqs[0].Path {
		t.Errorf("second page request %s %v", reqs[1].Path, reqs[1].Query)
	}
}

func TestFindMessagingService(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		a := messageJSON("SM01", testTo, testFrom, "a", "sent", "")
		a["messaging_service_sid"] = testMG
		b := messageJSON("SM02", testTo, "+15005550007", "b", "sent", "")
		b["messaging_service_sid"] = "MGffffffffffffffffffffffffffffffff"
		writeJSON(w, 200, map[string]any{"messages": []any{a, b}})
	})
	p, _ := newTestProvider(t, f.URL)
	got, err := p.Find(context.Background(), switchboard.FindQuery{To: testTo, From: testMG})
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if len(got) != 1 || got[0].SID != "SM01" {
		t.Errorf("Find = %+v, want only SM01 (sent through %s)", got, testMG)
	}
	q := f.Requests()[0].Query
	if q.Has("From") || q.Has("DateSent>") {
		t.Errorf("query %v: From must not be a service SID; no Since, no date filter", q)
	}
	if _, err := p.Find(context.Background(), switchboard.FindQuery{}); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Errorf("Find(empty) = %v, want EINVALID", err)
	}
}

func TestSyncWebhooks(t *testing.T) {
	t.Parallel()
	const smsURL = "https://sb.example.com/webhooks/twilio/inbound"
	numbers := map[string]map[string]any{
		"+15005550006": {"sid": "PN01", "phone_number": "+15005550006", "sms_url": "https://old.example.com/sms", "sms_method": "POST"},
		"+15005550010": {"sid": "PN02", "phone_number": "+15005550010", "sms_url": smsURL, "sms_method": "POST"},
		"+15005550011": {"sid": "PN03", "phone_number": "+15005550011", "sms_url": smsURL, "sms_method": "GET"},
	}
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/IncomingPhoneNumbers.json"):
			want := r.URL.Query().Get("PhoneNumber")
			var list []any
			for n, v := range numbers {
				if strings.Contains(n, want) || strings.Contains(want, n[:len(n)-1]) {
					// A crude stand-in for Twilio's partial matching: numbers that differ
					// only in the last digit match too.
					list = append(list, v)
				}
			}
			writeJSON(w, 200, map[string]any{"incoming_phone_numbers": list})
		case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/IncomingPhoneNumbers/"):
			writeJSON(w, 200, map[string]any{"sid": "PN", "sms_url": r.PostForm.Get("SmsUrl")})
		default:
			writeJSON(w, 404, twilioError(404, 20404, "not found"))
		}
	})
	p, _ := newTestProvider(t, f.URL)

	err := p.SyncWebhooks(context.Background(),
		[]string{"+15005550006", "+15005550010", "+15005550011", testMG, "whatsapp:+15005550006", "+15005550099"},
		smsURL)
	if err == nil || !strings.Contains(err.Error(), "+15005550099") || !strings.Contains(err.Error(), testAccount) {
		t.Fatalf("err = %v, want an error naming +15005550099 and the account", err)
	}
	if strings.Contains(err.Error(), "+15005550006") {
		t.Errorf("err = %v names a number that synced fine", err)
	}

	var updated []string
	lookups := 0
	for _, r := range f.Requests() {
		switch r.Method {
		case http.MethodGet:
			lookups++
		case http.MethodPost:
			updated = append(updated, r.Path[strings.LastIndex(r.Path, "/")+1:])
			if r.Form.Get("SmsUrl") != smsURL || r.Form.Get("SmsMethod") != "POST" {
				t.Errorf("update form %v", r.Form)
			}
		}
	}
	slices.Sort(updated)
	if want := []string{"PN01.json", "PN03.json"}; !slices.Equal(updated, want) {
		t.Errorf("updated %v, want %v (PN02 already in place)", updated, want)
	}
	if lookups != 4 {
		t.Errorf("%d lookups, want 4: the service SID and the WhatsApp sender are skipped", lookups)
	}

	if err := p.SyncWebhooks(context.Background(), []string{"+15005550006"}, ""); err == nil {
		t.Errorf("SyncWebhooks with no URL succeeded")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	const secret = "s3cret value"
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok token", Config{AccountSID: testAccount, AuthToken: testToken}, ""},
		{"ok api key", Config{AccountSID: testAccount, APIKey: "SKabc", APISecret: "def"}, ""},
		{"ok base url", Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: "http://127.0.0.1:9099"}, ""},
		{"no account", Config{AuthToken: testToken}, "TWILIO_ACCOUNT_SID is required"},
		{"no token", Config{AccountSID: testAccount}, "TWILIO_AUTH_TOKEN is required"},
		{"token with space", Config{AccountSID: testAccount, AuthToken: secret}, "TWILIO_AUTH_TOKEN must contain only letters and digits"},
		{"account with newline", Config{AccountSID: testAccount + "\n", AuthToken: testToken}, "TWILIO_ACCOUNT_SID must contain only"},
		{"key without secret", Config{AccountSID: testAccount, APIKey: "SKabc"}, "TWILIO_API_SECRET is required"},
		{"secret bad", Config{AccountSID: testAccount, APIKey: "SKabc", APISecret: secret}, "TWILIO_API_SECRET must contain only"},
		{"key in account slot", Config{AccountSID: "SKabc", AuthToken: testToken}, "looks like an API key"},
		{"base url no scheme", Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: "127.0.0.1:9099"}, "SWITCHBOARD_TWILIO_BASE_URL"},
		{"base url ftp", Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: "ftp://x"}, "SWITCHBOARD_TWILIO_BASE_URL"},
		{"negative timeout", Config{AccountSID: testAccount, AuthToken: testToken, Timeout: -1}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				if p.timeout != DefaultTimeout {
					t.Errorf("timeout = %v, want the default", p.timeout)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New err = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestName(t *testing.T) {
	p, _ := newTestProvider(t, "")
	if p.Name() != "twilio" {
		t.Errorf("Name = %q", p.Name())
	}
}

// TestSendReusesConnections: concurrent sends keep their connections for the next burst (the
// default transport would keep 2 per host and reconnect for the rest).
func TestSendReusesConnections(t *testing.T) {
	t.Parallel()
	const n = 16
	var (
		mu      sync.Mutex
		remotes = map[string]bool{}
		arrived = make(chan struct{}, n)
		release = make(chan struct{})
	)
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		arrived <- struct{}{}
		<-release // hold every request until all n are in flight: n connections at once
		writeJSON(w, http.StatusCreated, messageJSON(testSID, testTo, testFrom, "", "queued", ""))
	})
	p, _ := newTestProvider(t, f.URL)
	for burst := 0; burst < 2; burst++ {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := p.Send(context.Background(), &switchboard.SendRequest{To: testTo, From: testFrom, Body: "x"})
				errs <- err
			})
		}
		for range n {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				close(release)
				t.Fatalf("burst %d: requests did not arrive concurrently", burst)
			}
		}
		for range n {
			release <- struct{}{}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
	}
	if len(remotes) > n {
		t.Errorf("%d connections for 2 bursts of %d concurrent sends, want %d reused", len(remotes), n, n)
	}
}

// TestFindTruncatedIsIncomplete: when Twilio lists MaxFind messages for the pair, the list may
// end before the message looked for: Find returns what it found with a find_incomplete error,
// so that reconciliation does not conclude "not there" from it.
func TestFindTruncatedIsIncomplete(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		msgs := make([]any, 0, MaxFind)
		for i := range MaxFind {
			msgs = append(msgs, messageJSON(fmt.Sprintf("SM%032d", i), testTo, testFrom, "x", "sent", ""))
		}
		writeJSON(w, 200, map[string]any{"messages": msgs, "next_page_uri": nil})
	})
	p, _ := newTestProvider(t, f.URL)
	got, err := p.Find(context.Background(), switchboard.FindQuery{To: testTo, From: testFrom})
	if switchboard.ErrorCodeOf(err) != switchboard.CodeFindIncomplete || len(got) != MaxFind {
		t.Fatalf("Find of a full list: %d messages, err %v; want all of them and %s", len(got), err, switchboard.CodeFindIncomplete)
	}
}
