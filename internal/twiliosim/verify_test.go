package twiliosim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// validateVerify checks an answer against Twilio's Verify v2 specification.
func validateVerify(t *testing.T, path, method string, status int, body []byte) map[string]any {
	t.Helper()
	spec := loadExcerpt(t, "twilio_verify_v2.json")
	schema := obj(t, spec, "paths", path, method, "responses", fmt.Sprint(status), "content", "application/json", "schema")
	var v map[string]any
	mustJSON(t, body, &v)
	c := &schemaChecker{t: t, patterns: map[string]*regexp.Regexp{}, root: spec}
	c.check(method+" "+path, schema, v)
	for _, e := range c.errs {
		t.Error(e)
	}
	for _, k := range []string{"date_created", "date_updated"} {
		if s, ok := v[k].(string); ok {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("%s %s: %q is not ISO 8601", path, k, s)
			}
		}
	}
	return v
}

func twilioCode(t *testing.T, status int, body []byte) int {
	t.Helper()
	var e struct {
		Code   int `json:"code"`
		Status int `json:"status"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Status != status {
		t.Fatalf("error body %s (status %d)", body, status)
	}
	return e.Code
}

func TestVerifyV2Lifecycle(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	e := newEnv(t, twiliosim.Config{Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})

	st, body := e.do(t, http.MethodPost, "/v2/Services", url.Values{"FriendlyName": {"Shop"}, "CodeLength": {"8"}})
	if st != 201 {
		t.Fatalf("create service: %d %s", st, body)
	}
	svc := validateVerify(t, "/v2/Services", "post", 201, body)["sid"].(string)
	if st, body := e.do(t, http.MethodPost, "/v2/Services", url.Values{"FriendlyName": {"x"}, "CodeLength": {"3"}}); st != 400 || twilioCode(t, st, body) != 60200 {
		t.Fatalf("CodeLength 3: %d %s", st, body)
	}
	vpath := "/v2/Services/" + svc + "/Verifications"
	st, body = e.do(t, http.MethodPost, vpath, url.Values{"To": {"+14155550100"}, "Channel": {"sms"}})
	if st != 201 {
		t.Fatalf("create verification: %d %s", st, body)
	}
	v := validateVerify(t, "/v2/Services/{ServiceSid}/Verifications", "post", 201, body)
	sid := v["sid"].(string)
	if v["status"] != "pending" || v["to"] != "+14155550100" {
		t.Fatalf("verification: %v", v)
	}
	for _, bad := range []url.Values{{"To": {"12"}, "Channel": {"sms"}}, {"To": {"+14155550100"}, "Channel": {"fax"}}} {
		if st, body := e.do(t, http.MethodPost, vpath, bad); st != 400 || twilioCode(t, st, body) != 60200 {
			t.Fatalf("%v: %d %s", bad, st, body)
		}
	}
	// The phone received the code; a resend is the same verification and code.
	got := e.sim.Verifications()
	if len(got) != 1 || len(got[0].Code) != 8 || got[0].SID != sid {
		t.Fatalf("received: %+v", got)
	}
	code := got[0].Code
	st, body = e.do(t, http.MethodPost, vpath, url.Values{"To": {"+14155550100"}, "Channel": {"call"}})
	if st != 201 {
		t.Fatalf("resend: %d %s", st, body)
	}
	if v := validateVerify(t, "/v2/Services/{ServiceSid}/Verifications", "post", 201, body); v["sid"] != sid || len(v["send_code_attempts"].([]any)) != 2 {
		t.Fatalf("resend: %v", v)
	}
	if got := e.sim.Verifications(); got[0].Code != code || got[0].Sends != 2 || got[0].Channel != "call" {
		t.Fatalf("after resend: %+v", got)
	}
	st, body = e.do(t, http.MethodGet, vpath+"/"+sid, nil)
	validateVerify(t, "/v2/Services/{ServiceSid}/Verifications/{Sid}", "get", st, body)

	cpath := "/v2/Services/" + svc + "/VerificationCheck"
	wrong := "00000000"
	if code == wrong {
		wrong = "11111111"
	}
	st, body = e.do(t, http.MethodPost, cpath, url.Values{"VerificationSid": {sid}, "Code": {wrong}})
	if c := validateVerify(t, "/v2/Services/{ServiceSid}/VerificationCheck", "post", st, body); st != 200 || c["status"] != "pending" || c["valid"] != false {
		t.Fatalf("wrong code: %d %v", st, c)
	}
	st, body = e.do(t, http.MethodPost, cpath, url.Values{"To": {"+14155550100"}, "Code": {code}})
	if c := validateVerify(t, "/v2/Services/{ServiceSid}/VerificationCheck", "post", st, body); st != 200 || c["status"] != "approved" || c["valid"] != true {
		t.Fatalf("right code: %d %v", st, c)
	}
	// Approved verifications are gone: 20404.
	for _, r := range []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodPost, cpath, url.Values{"VerificationSid": {sid}, "Code": {code}}},
		{http.MethodGet, vpath + "/" + sid, nil},
		{http.MethodPost, vpath + "/" + sid, url.Values{"Status": {"canceled"}}},
	} {
		if st, body := e.do(t, r.method, r.path, r.form); st != 404 || twilioCode(t, st, body) != 20404 {
			t.Fatalf("%s %s after approval: %d %s", r.method, r.path, st, body)
		}
	}

	// Five sends, then 60203.
	for range 4 {
		if st, _ := e.do(t, http.MethodPost, vpath, url.Values{"To": {"+14155550101"}, "Channel": {"sms"}}); st != 201 {
			t.Fatal(st)
		}
	}
	st, body = e.do(t, http.MethodPost, vpath, url.Values{"To": {"+14155550101"}, "Channel": {"sms"}})
	sid2 := validateVerify(t, "/v2/Services/{ServiceSid}/Verifications", "post", st, body)["sid"].(string)
	if st, body := e.do(t, http.MethodPost, vpath, url.Values{"To": {"+14155550101"}, "Channel": {"sms"}}); st != 429 || twilioCode(t, st, body) != 60203 {
		t.Fatalf("sixth send: %d %s", st, body)
	}
	// Five checks, then 60202.
	for range 5 {
		if st, _ := e.do(t, http.MethodPost, cpath, url.Values{"VerificationSid": {sid2}, "Code": {"0000"}}); st != 200 {
			t.Fatal(st)
		}
	}
	if st, body := e.do(t, http.MethodPost, cpath, url.Values{"VerificationSid": {sid2}, "Code": {"0000"}}); st != 429 || twilioCode(t, st, body) != 60202 {
		t.Fatalf("sixth check: %d %s", st, body)
	}
	// Cancel, and expiry by the injected clock.
	st, body = e.do(t, http.MethodPost, vpath+"/"+sid2, url.Values{"Status": {"canceled"}})
	if v := validateVerify(t, "/v2/Services/{ServiceSid}/Verifications/{Sid}", "post", st, body); v["status"] != "canceled" {
		t.Fatalf("cancel: %v", v)
	}
	st, body = e.do(t, http.MethodPost, vpath, url.Values{"To": {"+14155550102"}, "Channel": {"sms"}})
	sid3 := validateVerify(t, "/v2/Services/{ServiceSid}/Verifications", "post", st, body)["sid"].(string)
	now.Add(int64(twiliosim.VerifyTTL))
	if st, body := e.do(t, http.MethodPost, cpath, url.Values{"VerificationSid": {sid3}, "Code": {"1234"}}); st != 404 || twilioCode(t, st, body) != 20404 {
		t.Fatalf("check after expiry: %d %s", st, body)
	}
	if st, body := e.control(t, http.MethodGet, "/sim/v1/verifications?sid="+sid3, ""); st != 200 || !regexp.MustCompile(`"status":"expired"`).Match(body) {
		t.Fatalf("control: %d %s", st, body)
	}
	if st, body := e.do(t, http.MethodGet, "/v2/Services/VA00000000000000000000000000000000", nil); st != 404 || twilioCode(t, st, body) != 20404 {
		t.Fatalf("unknown service: %d %s", st, body)
	}
}

// Two requests for one number at once: the second answers 60212.
func TestVerifyConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	_, body := e.do(t, http.MethodPost, "/v2/Services", url.Values{"FriendlyName": {"Shop"}})
	var svc struct{ Sid string }
	_ = json.Unmarshal(body, &svc)
	e.sim.SetFaults(twiliosim.Faults{LatencyMS: 300})
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 1 {
				time.Sleep(100 * time.Millisecond)
			}
			st, body := e.do(t, http.MethodPost, "/v2/Services/"+svc.Sid+"/Verifications", url.Values{"To": {"+14155550103"}, "Channel": {"sms"}})
			if st != 201 {
				codes[i] = twilioCode(t, st, body)
			}
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 60212 {
		t.Fatalf("codes %v, want the second request refused with 60212", codes)
	}
}

// The official twilio-go Verify client works against the simulator unchanged.
func TestVerifyWithTwilioGo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	api := e.account(t).VerifyV2
	svc, err := api.CreateService((&verifyv2.CreateServiceParams{}).SetFriendlyName("Shop"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := api.CreateVerification(*svc.Sid, (&verifyv2.CreateVerificationParams{}).SetTo("+14155550104").SetChannel("sms"))
	if err != nil || *v.Status != "pending" {
		t.Fatalf("%v %v", v, err)
	}
	code := e.sim.Verifications()[0].Code
	c, err := api.CreateVerificationCheck(*svc.Sid, (&verifyv2.CreateVerificationCheckParams{}).SetVerificationSid(*v.Sid).SetCode(code))
	if err != nil || *c.Status != "approved" || !*c.Valid {
		t.Fatalf("%v %v", c, err)
	}
	_, err = api.FetchVerification(*svc.Sid, *v.Sid)
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) || rest.Code != 20404 {
		t.Fatalf("fetch after approval: %v", err)
	}
}

// Verify services are listed, updated and deleted through twilio-go; a service with custom
// codes enabled takes a CustomCode (Twilio's Verification resource), one without refuses it.
func TestVerifyServicesAndCustomCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	api := e.account(t).VerifyV2
	plain, err := api.CreateService((&verifyv2.CreateServiceParams{}).SetFriendlyName("Plain"))
	if err != nil {
		t.Fatal(err)
	}
	custom, err := api.CreateService((&verifyv2.CreateServiceParams{}).SetFriendlyName("Custom").SetCustomCodeEnabled(true))
	if err != nil || !*custom.CustomCodeEnabled {
		t.Fatalf("%v %v", custom, err)
	}
	all, err := api.ListService(&verifyv2.ListServiceParams{})
	if err != nil || len(all) != 2 || *all[0].FriendlyName != "Plain" {
		t.Fatalf("ListService: %d %v", len(all), err)
	}
	up, err := api.UpdateService(*plain.Sid, (&verifyv2.UpdateServiceParams{}).SetFriendlyName("Renamed").SetCodeLength(8))
	if err != nil || *up.FriendlyName != "Renamed" || up.CodeLength != 8 {
		t.Fatalf("UpdateService: %v %v", up, err)
	}
	if _, err := api.CreateVerification(*plain.Sid, (&verifyv2.CreateVerificationParams{}).SetTo("+14155550104").SetChannel("sms")); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Verifications()[0].Code; len(got) != 8 {
		t.Fatalf("code %q after CodeLength 8", got)
	}
	_, err = api.CreateVerification(*plain.Sid, (&verifyv2.CreateVerificationParams{}).SetTo("+14155550105").SetChannel("sms").SetCustomCode("4242"))
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) || rest.Code != 60200 {
		t.Fatalf("CustomCode without the feature: %v", err)
	}
	v, err := api.CreateVerification(*custom.Sid, (&verifyv2.CreateVerificationParams{}).SetTo("+14155550106").SetChannel("sms").SetCustomCode("4242"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.CreateVerificationCheck(*custom.Sid, (&verifyv2.CreateVerificationCheckParams{}).SetVerificationSid(*v.Sid).SetCode("4242"))
	if err != nil || *c.Status != "approved" {
		t.Fatalf("check of the custom code: %v %v", c, err)
	}
	if err := api.DeleteService(*plain.Sid); err != nil {
		t.Fatal(err)
	}
	if _, err := api.FetchService(*plain.Sid); !errors.As(err, &rest) || rest.Code != 20404 {
		t.Fatalf("fetch after delete: %v", err)
	}
}
