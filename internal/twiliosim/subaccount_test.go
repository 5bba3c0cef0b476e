package twiliosim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// clientOf is a twilio-go client of account acct authenticating as user:pass.
func (e *env) clientOf(t *testing.T, acct, user, pass string) *twilio.RestClient {
	t.Helper()
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		Credentials: client.NewCredentials(user, pass),
		HTTPClient:  &http.Client{Transport: rewriteTransport{target: target}, Timeout: 10 * time.Second},
	}
	c.SetAccountSid(acct)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Username: user, Password: pass, Client: c})
	rc.RequestHandler.Edge, rc.RequestHandler.Region = "", ""
	return rc
}

// TestSubaccountsKeepTheirOwnMessages: a configured subaccount authenticates with its token or
// its own API key (a wrong secret is refused), sends only from its own numbers, sees only its own
// messages and numbers (the main account's are 404 under its path, and the other way round), and
// its callbacks carry its AccountSid, signed with its token.
func TestSubaccountsKeepTheirOwnMessages(t *testing.T) {
	t.Parallel()
	sub, token := "AC"+strings.Repeat("e", 32), "subtoken0123456789abcdef01234567"
	key, secret := "SK"+strings.Repeat("f", 32), "subkeysecret0123456789abcdef0123"
	const subNumber = "+15005550200"
	e := newEnv(t, twiliosim.Config{Numbers: []string{subNumber}, // listed for the main account too: the subaccount keeps it
		Subaccounts: []twiliosim.SubaccountConfig{{SID: sub, AuthToken: token, Numbers: []string{subNumber}, APIKeys: map[string]string{key: secret}}}})
	main := e.account(t)
	withToken := e.clientOf(t, sub, sub, token)
	withKey := e.clientOf(t, sub, key, secret)

	// Credentials: FetchAccount with the token; the key cannot (standard key), the wrong secrets
	// are refused.
	if a, err := withToken.Api.FetchAccount(sub); err != nil || *a.Sid != sub || *a.OwnerAccountSid != e.sim.AccountSID() {
		t.Fatalf("FetchAccount: %+v %v", a, err)
	}
	_, err := e.clientOf(t, sub, sub, "wrongtoken0123456789abcdef012345").Api.FetchAccount(sub)
	restError(t, err, 20003, http.StatusUnauthorized)
	_, err = sendSMS(e.clientOf(t, sub, key, "wrongsecret0123456789abcdef01234"), subNumber, "+14155550100", "x")
	restError(t, err, 20003, http.StatusUnauthorized)

	// Sending: its own number only; the main account cannot send from it either.
	rcv := newReceiver(t, e.sim)
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100")
	p.SetFrom(subNumber)
	p.SetBody("from the subaccount")
	p.SetStatusCallback(rcv.srv.URL + "/status")
	m, err := withKey.Api.CreateMessage(p)
	if err != nil || *m.AccountSid != sub {
		t.Fatalf("send with the subaccount's key: %+v %v", m, err)
	}
	_, err = sendSMS(withToken, twiliosim.MagicFrom, "+14155550100", "not its number")
	restError(t, err, 21606, http.StatusBadRequest)
	_, err = sendSMS(main, subNumber, "+14155550100", "not the main account's number")
	restError(t, err, 21606, http.StatusBadRequest)
	mainMsg, err := sendSMS(main, twiliosim.MagicFrom, "+14155550101", "from the main account")
	if err != nil || *mainMsg.AccountSid != e.sim.AccountSID() {
		t.Fatalf("main send: %+v %v", mainMsg, err)
	}

	// Each account lists and fetches only its own.
	subList, err := withToken.Api.ListMessage(&api.ListMessageParams{})
	if err != nil || len(subList) != 1 || *subList[0].Sid != *m.Sid {
		t.Fatalf("the subaccount lists %d messages: %v", len(subList), err)
	}
	mainList, err := main.Api.ListMessage(&api.ListMessageParams{})
	if err != nil || len(mainList) != 1 || *mainList[0].Sid != *mainMsg.Sid {
		t.Fatalf("the main account lists %d messages: %v", len(mainList), err)
	}
	_, err = withToken.Api.FetchMessage(*mainMsg.Sid, nil)
	restError(t, err, 20404, http.StatusNotFound)
	_, err = main.Api.FetchMessage(*m.Sid, nil)
	restError(t, err, 20404, http.StatusNotFound)
	nums, err := withKey.Api.ListIncomingPhoneNumber(&api.ListIncomingPhoneNumberParams{})
	if err != nil || len(nums) != 1 || *nums[0].PhoneNumber != subNumber || *nums[0].AccountSid != sub {
		t.Fatalf("the subaccount's numbers: %+v %v", nums, err)
	}
	mainNums, err := main.Api.ListIncomingPhoneNumber(&api.ListIncomingPhoneNumberParams{})
	for _, n := range mainNums {
		if *n.PhoneNumber == subNumber {
			t.Fatal("the main account lists the subaccount's number")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// Calls too: from its own number only, listed and fetched under its own path.
	cp := &api.CreateCallParams{}
	cp.SetTo("+14155550100")
	cp.SetFrom(subNumber)
	cp.SetTwiml("<Response><Say>hi</Say></Response>")
	call, err := withKey.Api.CreateCall(cp)
	if err != nil || *call.AccountSid != sub {
		t.Fatalf("call from the subaccount: %+v %v", call, err)
	}
	cp.SetFrom(twiliosim.MagicFrom)
	_, err = withKey.Api.CreateCall(cp)
	restError(t, err, 21210, http.StatusBadRequest)
	_, err = main.Api.FetchCall(*call.Sid, nil)
	restError(t, err, 20404, http.StatusNotFound)
	if calls, err := main.Api.ListCall(&api.ListCallParams{}); err != nil || len(calls) != 0 {
		t.Fatalf("the main account lists %d calls: %v", len(calls), err)
	}
	// The main account's other resources are not the subaccount's.
	code, _ := e.doAs(t, sub, token, http.MethodGet, "/2010-04-01/Accounts/"+sub+"/Keys.json")
	if code != http.StatusNotFound {
		t.Fatalf("keys under the subaccount: %d", code)
	}
	code, _ = e.doAs(t, sub, token, http.MethodGet, "/2010-04-01/Accounts/"+e.sim.AccountSID()+"/Messages.json")
	if code != http.StatusNotFound {
		t.Fatalf("the subaccount's token on the main account's path: %d", code)
	}

	// The control API tells the accounts apart.
	_, body := e.control(t, http.MethodGet, "/sim/v1/messages?account_sid="+sub, "")
	if !strings.Contains(string(body), *m.Sid) || strings.Contains(string(body), *mainMsg.Sid) {
		t.Fatalf("control messages of the subaccount: %s", body)
	}

	// Its callbacks name it and are signed with its token.
	eventually(t, 5*time.Second, "a callback of the subaccount's message", func() bool { return len(rcv.forSID(*m.Sid)) > 0 })
	cb := rcv.forSID(*m.Sid)[0]
	if cb.Params.Get("AccountSid") != sub {
		t.Fatalf("callback AccountSid %q", cb.Params.Get("AccountSid"))
	}
	if cb.SigValid {
		t.Fatal("the subaccount's callback verifies with the main account's token")
	}
	full := rcv.srv.URL + "/status"
	if !twiliosig.Valid(token, full, cb.Params, cb.Signature) {
		t.Fatal("the subaccount's callback does not verify with its token")
	}
}

// doAs sends a raw request with the given Basic credentials.
func (e *env) doAs(t *testing.T, user, pass, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	return send(t, req)
}
