package twiliosim_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

var sidPattern = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

// restError asserts that err is a Twilio REST error with the given code and HTTP status.
func restError(t *testing.T, err error, code, status int) {
	t.Helper()
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want *client.TwilioRestError %d", err, err, code)
	}
	if te.Code != code || te.Status != status {
		t.Fatalf("error code/status = %d/%d (%s), want %d/%d", te.Code, te.Status, te.Message, code, status)
	}
	if te.MoreInfo != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code) {
		t.Errorf("more_info = %q", te.MoreInfo)
	}
}

func TestClientCreateAndFetch(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2015, 7, 30, 20, 12, 31, 0, time.UTC)
	e := newEnv(t, twiliosim.Config{Now: func() time.Time { return fixed }})
	c := e.account(t)

	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("Hello 👍")
	m, err := c.Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if !sidPattern.MatchString(*m.Sid) {
		t.Errorf("sid = %q", *m.Sid)
	}
	checks := map[string][2]string{
		"status":       {*m.Status, "queued"},
		"direction":    {*m.Direction, "outbound-api"},
		"from":         {*m.From, twiliosim.MagicFrom},
		"to":           {*m.To, "+14155550100"},
		"body":         {*m.Body, "Hello 👍"},
		"account_sid":  {*m.AccountSid, e.sim.AccountSID()},
		"api_version":  {*m.ApiVersion, "2010-04-01"},
		"num_segments": {*m.NumSegments, "1"},
		"num_media":    {*m.NumMedia, "0"},
		"price_unit":   {*m.PriceUnit, "USD"},
		"date_created": {*m.DateCreated, "Thu, 30 Jul 2015 20:12:31 +0000"},
		"date_updated": {*m.DateUpdated, "Thu, 30 Jul 2015 20:12:31 +0000"},
		"uri":          {*m.Uri, "/2010-04-01/Accounts/" + e.sim.AccountSID() + "/Messages/" + *m.Sid + ".json"},
	}
	for k, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", k, v[0], v[1])
		}
	}
	// Not sent yet: no date_sent, no price (Twilio's Message resource).
	if m.DateSent != nil || m.Price != nil || m.ErrorCode != nil || m.ErrorMessage != nil || m.MessagingServiceSid != nil {
		t.Errorf("date_sent/price/error_code/error_message/messaging_service_sid should be null: %v %v %v %v %v",
			m.DateSent, m.Price, m.ErrorCode, m.ErrorMessage, m.MessagingServiceSid)
	}
	if got := (*m.SubresourceUris)["media"]; got != "/2010-04-01/Accounts/"+e.sim.AccountSID()+"/Messages/"+*m.Sid+"/Media.json" {
		t.Errorf("subresource_uris.media = %v", got)
	}

	waitStatus(t, e.sim, *m.Sid, "delivered")
	f, err := c.Api.FetchMessage(*m.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *f.Status != "delivered" || *f.Sid != *m.Sid || *f.Body != "Hello 👍" {
		t.Errorf("fetched %s %s %q", *f.Sid, *f.Status, *f.Body)
	}
	if f.DateSent == nil || *f.DateSent != "Thu, 30 Jul 2015 20:12:31 +0000" || f.Price == nil || *f.Price != "-0.00790" {
		t.Errorf("sent: date_sent %v price %v", f.DateSent, f.Price)
	}

	_, err = c.Api.FetchMessage("SM"+fmt.Sprintf("%032x", 42), nil)
	restError(t, err, 20404, http.StatusNotFound)
}

func TestClientMediaAndMessagingService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{Numbers: []string{"+14155550199"},
		Services: []twiliosim.ServiceConfig{svc(7, twiliosim.MagicFrom, "+14155550199")}})
	c := e.account(t)

	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom("+14155550199").SetMediaUrl([]string{"https://example.com/a.png", "https://example.com/b.gif"})
	m, err := c.Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^MM[0-9a-f]{32}$`).MatchString(*m.Sid) || *m.NumMedia != "2" || *m.NumSegments != "1" {
		t.Errorf("media message: sid %s num_media %s num_segments %s", *m.Sid, *m.NumMedia, *m.NumSegments)
	}

	mg := "MG" + fmt.Sprintf("%032x", 7)
	p = &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetMessagingServiceSid(mg).SetBody("via service")
	m, err = c.Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if *m.Status != "accepted" || m.From != nil || *m.MessagingServiceSid != mg || *m.NumSegments != "0" {
		t.Errorf("service message: status %s from %v mg %v segments %s", *m.Status, m.From, m.MessagingServiceSid, *m.NumSegments)
	}
	d := waitStatus(t, e.sim, *m.Sid, "delivered")
	if d.From != twiliosim.MagicFrom && d.From != "+14155550199" {
		t.Errorf("service picked from %q, want an owned number", d.From)
	}
	if d.NumSegments != 1 {
		t.Errorf("num_segments after sender choice = %d", d.NumSegments)
	}

	p = &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetMessagingServiceSid("MGnotvalid").SetBody("x")
	_, err = c.Api.CreateMessage(p)
	restError(t, err, 21705, http.StatusBadRequest)
}

func TestClientValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	c := e.account(t)
	long := make([]byte, 1601)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name           string
		to, from, body string
		code           int
	}{
		{"missing To", "", twiliosim.MagicFrom, "hi", 21604},
		{"missing From", "+14155550100", "", "hi", 21603},
		{"missing Body", "+14155550100", twiliosim.MagicFrom, "", 21602},
		{"body over 1600", "+14155550100", twiliosim.MagicFrom, string(long), 21617},
		{"bad To", "not-a-number", twiliosim.MagicFrom, "hi", 21211},
		{"To without plus", "4155550100", twiliosim.MagicFrom, "hi", 21211},
		{"From not owned", "+14155550100", "+14155550111", "hi", 21606},
		{"From malformed", "+14155550100", "++1", "hi", 21212},
		{"To equals From", twiliosim.MagicFrom, twiliosim.MagicFrom, "hi", 21266},
	} {
		p := &api.CreateMessageParams{}
		if tc.to != "" {
			p.SetTo(tc.to)
		}
		if tc.from != "" {
			p.SetFrom(tc.from)
		}
		if tc.body != "" {
			p.SetBody(tc.body)
		}
		_, err := c.Api.CreateMessage(p)
		t.Run(tc.name, func(t *testing.T) { restError(t, err, tc.code, http.StatusBadRequest) })
	}
	// Exactly 1600 characters (not bytes) is allowed.
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody(string([]rune(string(long))[:1599]) + "é")
	if _, err := c.Api.CreateMessage(p); err != nil {
		t.Errorf("1600-character body refused: %v", err)
	}
	if got := len(e.sim.Messages()); got != 1 {
		t.Errorf("%d messages stored, want 1 (refused creates store nothing)", got)
	}
}

func TestMagicNumbers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{Numbers: []string{"+15005550007"}, // magic wins over ownership
		Services: []twiliosim.ServiceConfig{svc(1, twiliosim.MagicFrom)}})
	c := e.account(t)
	for _, tc := range []struct {
		from, to string
		code     int
	}{
		{"+15005550001", "+14155550100", 21212},
		{"+15005550007", "+14155550100", 21606},
		{"+15005550008", "+14155550100", 21611},
		{"+15005550009", "+14155550100", 21606}, // any other From not owned
		{twiliosim.MagicFrom, "+15005550001", 21211},
		{twiliosim.MagicFrom, "+15005550002", 21612},
		{twiliosim.MagicFrom, "+15005550003", 21408},
		{twiliosim.MagicFrom, "+15005550004", 21610},
		{twiliosim.MagicFrom, "+15005550009", 21614},
	} {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			p := &api.CreateMessageParams{}
			p.SetTo(tc.to).SetFrom(tc.from).SetBody("magic")
			_, err := c.Api.CreateMessage(p)
			restError(t, err, tc.code, http.StatusBadRequest)
		})
	}
	// The magic To numbers refuse Messaging Service messages too.
	p := &api.CreateMessageParams{}
	p.SetTo("+15005550004").SetMessagingServiceSid("MG" + fmt.Sprintf("%032x", 1)).SetBody("magic")
	_, err := c.Api.CreateMessage(p)
	restError(t, err, 21610, http.StatusBadRequest)

	p = &api.CreateMessageParams{}
	p.SetTo("+15005550005").SetFrom(twiliosim.MagicFrom).SetBody("passes")
	if _, err := c.Api.CreateMessage(p); err != nil {
		t.Fatalf("+15005550006 -> +15005550005: %v", err)
	}
	if got := len(e.sim.Messages()); got != 1 {
		t.Errorf("%d messages stored, want only the one that passed", got)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{
		AccountSID: "AC0123456789abcdef0123456789abcdef",
		AuthToken:  "sekrit0token",
		APIKeys:    map[string]string{"SK0123456789abcdef0123456789abcdef": "keysecret"},
	})
	p := func() *api.CreateMessageParams {
		p := &api.CreateMessageParams{}
		p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("auth")
		return p
	}

	_, err := e.client(t, e.sim.AccountSID(), "wrongtoken").Api.CreateMessage(p())
	restError(t, err, 20003, http.StatusUnauthorized)
	_, err = e.client(t, "SK0123456789abcdef0123456789abcdef", "wrongsecret").Api.CreateMessage(p())
	restError(t, err, 20003, http.StatusUnauthorized)
	_, err = e.client(t, "SKffffffffffffffffffffffffffffffff", "keysecret").Api.CreateMessage(p())
	restError(t, err, 20003, http.StatusUnauthorized)

	if _, err := e.client(t, "SK0123456789abcdef0123456789abcdef", "keysecret").Api.CreateMessage(p()); err != nil {
		t.Errorf("API key refused: %v", err)
	}
	if _, err := e.account(t).Api.CreateMessage(p()); err != nil {
		t.Errorf("account credentials refused: %v", err)
	}

	// Valid credentials on another account's path: 404 / 20404, as Twilio answers.
	other := p().SetPathAccountSid("ACffffffffffffffffffffffffffffffff")
	_, err = e.account(t).Api.CreateMessage(other)
	restError(t, err, 20404, http.StatusNotFound)

	// No credentials at all.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.messagesPath(), nil)
	code, body := send(t, req)
	if code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d %s", code, body)
	}
}

func TestClientListFiltersAndPaging(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, twiliosim.Config{
		Numbers: []string{"+14155550199"},
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
	})
	setDay := func(d int) {
		mu.Lock()
		now = time.Date(2024, 3, d, 12, 0, 0, 0, time.UTC)
		mu.Unlock()
	}
	c := e.account(t)
	create := func(to, from string) string {
		p := &api.CreateMessageParams{}
		p.SetTo(to).SetFrom(from).SetBody("list me")
		m, err := c.Api.CreateMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e.sim, *m.Sid, "delivered") // date_sent is the day it was sent
		return *m.Sid
	}
	var toA []string // newest last
	for d := 1; d <= 5; d++ {
		setDay(d)
		toA = append(toA, create("+14155550100", twiliosim.MagicFrom))
		create("+14155550101", "+14155550199")
	}

	all, err := c.Api.ListMessage(&api.ListMessageParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Fatalf("listed %d messages, want 10", len(all))
	}

	// To filter, paged by 2 through next_page_uri (twilio-go follows it), newest first.
	lp := &api.ListMessageParams{}
	lp.SetTo("+14155550100").SetPageSize(2)
	got, err := c.Api.ListMessage(lp)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("To filter: %d messages, want 5", len(got))
	}
	for i, m := range got {
		if want := toA[len(toA)-1-i]; *m.Sid != want {
			t.Errorf("page order [%d] = %s, want %s", i, *m.Sid, want)
		}
	}

	// One page at a time.
	page, err := c.Api.PageMessage(lp, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.NextPageUri == nil || page.PreviousPageUri != nil || page.Page != 0 || page.PageSize != 2 {
		t.Fatalf("first page: %d messages, next %v, prev %v, page %d size %d",
			len(page.Messages), page.NextPageUri, page.PreviousPageUri, page.Page, page.PageSize)
	}

	// From filter and DateSent filters (twilio-go sends timestamps; dates are whole UTC days).
	lp = &api.ListMessageParams{}
	lp.SetFrom("+14155550199")
	if got, err := c.Api.ListMessage(lp); err != nil || len(got) != 5 {
		t.Errorf("From filter: %d, %v", len(got), err)
	}
	lp = &api.ListMessageParams{}
	lp.SetTo("+14155550100").SetDateSentAfter(time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC))
	if got, err := c.Api.ListMessage(lp); err != nil || len(got) != 2 {
		t.Errorf("DateSent> filter: %d, %v", len(got), err)
	}
	lp = &api.ListMessageParams{}
	lp.SetTo("+14155550100").SetDateSentBefore(time.Date(2024, 3, 2, 23, 0, 0, 0, time.UTC))
	if got, err := c.Api.ListMessage(lp); err != nil || len(got) != 2 {
		t.Errorf("DateSent< filter: %d, %v", len(got), err)
	}
	lp = &api.ListMessageParams{}
	lp.SetDateSent(time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC))
	if got, err := c.Api.ListMessage(lp); err != nil || len(got) != 2 {
		t.Errorf("DateSent filter: %d, %v", len(got), err)
	}

	// The raw YYYY-MM-DD forms of Twilio's docs.
	for q, want := range map[string]int{
		"DateSent>=2024-03-04":                      4,
		"DateSent<=2024-03-02":                      4,
		"DateSent=2024-03-05":                       2,
		"DateSent>=2024-03-02&DateSent<=2024-03-03": 4,
	} {
		code, body := e.do(t, http.MethodGet, e.messagesPath()+"?"+q, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		var out struct{ Messages []map[string]any }
		mustJSON(t, body, &out)
		if len(out.Messages) != want {
			t.Errorf("%s: %d messages, want %d", q, len(out.Messages), want)
		}
	}
}

func TestClientCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{Services: []twiliosim.ServiceConfig{svc(9, twiliosim.MagicFrom)}})
	rcv := newReceiver(t, e.sim)
	c := e.account(t)

	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetMessagingServiceSid("MG" + fmt.Sprintf("%032x", 9)).SetBody("later").
		SetScheduleType("fixed").SetSendAt(time.Now().Add(time.Hour)).SetStatusCallback(rcv.srv.URL + "/status")
	m, err := c.Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if *m.Status != "scheduled" || m.DateSent != nil {
		t.Fatalf("scheduled message: status %s date_sent %v", *m.Status, m.DateSent)
	}
	u := &api.UpdateMessageParams{}
	u.SetStatus("canceled")
	got, err := c.Api.UpdateMessage(*m.Sid, u)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Status != "canceled" {
		t.Errorf("status after cancel = %s", *got.Status)
	}
	eventually(t, 5*time.Second, "canceled callback", func() bool { return len(rcv.forSID(*m.Sid)) == 1 })
	if cb := rcv.forSID(*m.Sid)[0]; cb.Params.Get("MessageStatus") != "canceled" || !cb.SigValid {
		t.Errorf("cancel callback %v valid=%v", cb.Params, cb.SigValid)
	}

	// A message that is no longer scheduled cannot be canceled (30409).
	_, err = c.Api.UpdateMessage(*m.Sid, u)
	restError(t, err, 30409, http.StatusBadRequest)
	p = &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("now")
	now, err := c.Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Api.UpdateMessage(*now.Sid, u)
	restError(t, err, 30409, http.StatusBadRequest)

	// Scheduling needs a Messaging Service and a SendAt 300 s to 35 days ahead.
	p = &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("x").SetScheduleType("fixed").SetSendAt(time.Now().Add(time.Hour))
	_, err = c.Api.CreateMessage(p)
	restError(t, err, 35111, http.StatusBadRequest)
	p = &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetMessagingServiceSid("MG" + fmt.Sprintf("%032x", 9)).SetBody("x").
		SetScheduleType("fixed").SetSendAt(time.Now().Add(time.Minute))
	_, err = c.Api.CreateMessage(p)
	restError(t, err, 35115, http.StatusBadRequest)

	// Redaction empties the body.
	waitStatus(t, e.sim, *now.Sid, "delivered")
	r := &api.UpdateMessageParams{}
	r.SetBody("")
	red, err := c.Api.UpdateMessage(*now.Sid, r)
	if err != nil || *red.Body != "" {
		t.Errorf("redact: %v %v", err, red)
	}
	if err := c.Api.DeleteMessage(*now.Sid, nil); err != nil {
		t.Errorf("delete: %v", err)
	}
	_, err = c.Api.FetchMessage(*now.Sid, nil)
	restError(t, err, 20404, http.StatusNotFound)
}

func TestClientIncomingPhoneNumbers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{Numbers: []string{"+14155550199", "+14155550198"}})
	rcv := newReceiver(t, e.sim)
	c := e.account(t)

	all, err := c.Api.ListIncomingPhoneNumber(&api.ListIncomingPhoneNumberParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d numbers, want 3 (+15005550006 and two configured)", len(all))
	}
	for _, n := range all {
		if !regexp.MustCompile(`^PN[0-9a-f]{32}$`).MatchString(*n.Sid) {
			t.Errorf("number sid %q", *n.Sid)
		}
	}

	lp := &api.ListIncomingPhoneNumberParams{}
	lp.SetPhoneNumber("+14155550199")
	got, err := c.Api.ListIncomingPhoneNumber(lp)
	if err != nil || len(got) != 1 || *got[0].PhoneNumber != "+14155550199" {
		t.Fatalf("PhoneNumber filter: %v %v", got, err)
	}
	if *got[0].FriendlyName != "(415) 555-0199" || *got[0].SmsMethod != "POST" || !got[0].Capabilities.Sms {
		t.Errorf("number fields: %q %q %+v", *got[0].FriendlyName, *got[0].SmsMethod, got[0].Capabilities)
	}

	// Paging follows next_page_uri.
	lp = &api.ListIncomingPhoneNumberParams{}
	lp.SetPageSize(1)
	if paged, err := c.Api.ListIncomingPhoneNumber(lp); err != nil || len(paged) != 3 {
		t.Errorf("paged numbers: %d %v", len(paged), err)
	}

	u := &api.UpdateIncomingPhoneNumberParams{}
	u.SetSmsUrl(rcv.srv.URL + "/inbound").SetSmsMethod("POST").SetVoiceUrl(rcv.srv.URL + "/voice").SetStatusCallback(rcv.srv.URL + "/status")
	up, err := c.Api.UpdateIncomingPhoneNumber(*got[0].Sid, u)
	if err != nil {
		t.Fatal(err)
	}
	if *up.SmsUrl != rcv.srv.URL+"/inbound" || *up.VoiceUrl != rcv.srv.URL+"/voice" || *up.StatusCallback != rcv.srv.URL+"/status" {
		t.Errorf("updated number: %s %s %s", *up.SmsUrl, *up.VoiceUrl, *up.StatusCallback)
	}
	f, err := c.Api.FetchIncomingPhoneNumber(*got[0].Sid, nil)
	if err != nil || *f.SmsUrl != rcv.srv.URL+"/inbound" {
		t.Errorf("fetch after update: %v %v", f, err)
	}

	// The SmsUrl set through the API receives inbound messages.
	if err := e.sim.Inbound(ctx(t), "+14155550123", "+14155550199", "hello"); err != nil {
		t.Fatal(err)
	}
	if in := rcv.all(); len(in) != 1 || in[0].Path != "/inbound" || !in[0].SigValid {
		t.Errorf("inbound after SmsUrl update: %+v", in)
	}

	bad := &api.UpdateIncomingPhoneNumberParams{}
	bad.SetSmsMethod("PUT")
	_, err = c.Api.UpdateIncomingPhoneNumber(*got[0].Sid, bad)
	restError(t, err, 20001, http.StatusBadRequest)
	_, err = c.Api.UpdateIncomingPhoneNumber("PN"+fmt.Sprintf("%032x", 5), u)
	restError(t, err, 20404, http.StatusNotFound)

	// Buying a number makes it a valid From.
	cp := &api.CreateIncomingPhoneNumberParams{}
	cp.SetPhoneNumber("+14155550177")
	if _, err := c.Api.CreateIncomingPhoneNumber(cp); err != nil {
		t.Fatal(err)
	}
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom("+14155550177").SetBody("from a bought number")
	if _, err := c.Api.CreateMessage(p); err != nil {
		t.Errorf("send from bought number: %v", err)
	}
}

// An unregistered ContentSid is refused on SMS as on WhatsApp (21655).
func TestUnregisteredContentSIDOnSMS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetContentSid("HX" + fmt.Sprintf("%032x", 77))
	_, err := e.account(t).Api.CreateMessage(p)
	restError(t, err, 21655, http.StatusBadRequest)
}

// Paging with twilio-go while deleting every message read goes through every page: page tokens
// survive the deletion of their anchor message.
func TestPageTokensSurviveDeletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	c := e.account(t)
	for i := range 7 {
		p := &api.CreateMessageParams{}
		p.SetTo(fmt.Sprintf("+1415555%04d", 100+i)).SetFrom(twiliosim.MagicFrom).SetBody("x")
		if _, err := c.Api.CreateMessage(p); err != nil {
			t.Fatal(err)
		}
	}
	params := (&api.ListMessageParams{}).SetPageSize(2)
	token, pageNo, n := "", "", 0
	for range 10 {
		page, err := c.Api.PageMessage(params, token, pageNo)
		if err != nil {
			t.Fatalf("page after %d deletions: %v", n, err)
		}
		for _, m := range page.Messages {
			if err := c.Api.DeleteMessage(*m.Sid, nil); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if page.NextPageUri == nil {
			break
		}
		u, err := url.Parse(*page.NextPageUri)
		if err != nil {
			t.Fatal(err)
		}
		token, pageNo = u.Query().Get("PageToken"), u.Query().Get("Page")
	}
	if n != 7 || len(e.sim.Messages()) != 0 {
		t.Fatalf("paged and deleted %d of 7; %d left", n, len(e.sim.Messages()))
	}
}
