package twiliosim_test

import (
	"net/http"
	"net/url"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// API keys (twilio-facts.md §2: Basic auth with the key SID and secret) created through
// Keys.json authenticate REST requests; as standard keys they cannot use Accounts or Keys
// (Twilio's API keys documentation). The Account resource answers FetchAccount; subaccounts are
// created, listed, fetched with their own credentials and suspended; the balance is served.
func TestAPIKeysAndAccount(t *testing.T) {
	t.Parallel()
	loadSpec(t)
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)

	acct, err := rc.Api.FetchAccount(e.sim.AccountSID())
	if err != nil || *acct.Sid != e.sim.AccountSID() || *acct.Status != "active" || *acct.Type != "Full" {
		t.Fatalf("FetchAccount: %+v %v", acct, err)
	}
	code, body := e.do(t, http.MethodGet, "/2010-04-01/Accounts/"+e.sim.AccountSID()+".json", nil)
	if code != http.StatusOK {
		t.Fatalf("raw fetch: %d %s", code, body)
	}
	validate(t, "/2010-04-01/Accounts/{Sid}.json", "get", code, body)

	p := &api.CreateNewKeyParams{}
	p.SetFriendlyName("deploy")
	key, err := rc.Api.CreateNewKey(p)
	if err != nil || key.Secret == nil || *key.FriendlyName != "deploy" {
		t.Fatalf("CreateNewKey: %+v %v", key, err)
	}
	withKey := e.client(t, *key.Sid, *key.Secret)
	if _, err := sendSMS(withKey, twiliosim.MagicFrom, "+14155550100", "with an API key"); err != nil {
		t.Fatalf("send with an API key: %v", err)
	}
	_, err = withKey.Api.FetchAccount(e.sim.AccountSID())
	restError(t, err, 20003, http.StatusUnauthorized)
	_, err = withKey.Api.CreateNewKey(&api.CreateNewKeyParams{})
	restError(t, err, 20003, http.StatusUnauthorized)
	_, err = sendSMS(e.client(t, *key.Sid, "wrongsecret"), twiliosim.MagicFrom, "+14155550100", "x")
	restError(t, err, 20003, http.StatusUnauthorized)
	keys, err := rc.Api.ListKey(&api.ListKeyParams{})
	if err != nil || len(keys) != 1 || *keys[0].Sid != *key.Sid {
		t.Fatalf("ListKey: %+v %v", keys, err)
	}
	if err := rc.Api.DeleteKey(*key.Sid, &api.DeleteKeyParams{}); err != nil {
		t.Fatal(err)
	}
	_, err = sendSMS(withKey, twiliosim.MagicFrom, "+14155550100", "revoked")
	restError(t, err, 20003, http.StatusUnauthorized)

	// Subaccounts.
	cp := &api.CreateAccountParams{}
	cp.SetFriendlyName("tenant-a")
	sub, err := rc.Api.CreateAccount(cp)
	if err != nil || *sub.OwnerAccountSid != e.sim.AccountSID() || *sub.Status != "active" {
		t.Fatalf("CreateAccount: %+v %v", sub, err)
	}
	all, err := rc.Api.ListAccount(&api.ListAccountParams{})
	if err != nil || len(all) != 2 {
		t.Fatalf("ListAccount: %d %v", len(all), err)
	}
	code, body = e.do(t, http.MethodGet, "/2010-04-01/Accounts.json", url.Values{"PageSize": {"1"}})
	validate(t, "/2010-04-01/Accounts.json", "get", code, body)
	subClient := e.client(t, *sub.Sid, *sub.AuthToken)
	if got, err := subClient.Api.FetchAccount(*sub.Sid); err != nil || *got.FriendlyName != "tenant-a" {
		t.Fatalf("subaccount fetches itself: %+v %v", got, err)
	}
	up := &api.UpdateAccountParams{}
	up.SetStatus("suspended")
	if got, err := rc.Api.UpdateAccount(*sub.Sid, up); err != nil || *got.Status != "suspended" {
		t.Fatalf("suspend: %+v %v", got, err)
	}
	_, err = subClient.Api.FetchAccount(*sub.Sid)
	restError(t, err, 20003, http.StatusUnauthorized)

	bal, err := rc.Api.FetchBalance(&api.FetchBalanceParams{})
	if err != nil || *bal.Balance != "100.00" || *bal.Currency != "USD" {
		t.Fatalf("balance: %+v %v", bal, err)
	}
	code, body = e.do(t, http.MethodGet, "/2010-04-01/Accounts/"+e.sim.AccountSID()+"/Balance.json", nil)
	validate(t, "/2010-04-01/Accounts/{AccountSid}/Balance.json", "get", code, body)
}
