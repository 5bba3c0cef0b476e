package twiliosim

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The Account resource, subaccounts, API keys and the balance (2010-04-01):
//
//	GET  /2010-04-01/Accounts.json                  the account and its subaccounts
//	POST /2010-04-01/Accounts.json                  create a subaccount (FriendlyName)
//	GET  /2010-04-01/Accounts/{Sid}.json            FetchAccount (the usual credential check)
//	POST /2010-04-01/Accounts/{Sid}.json            FriendlyName, Status (a subaccount: active, suspended, closed)
//	GET|POST /2010-04-01/Accounts/{AC}/Keys.json    list / create API keys (the secret is shown once)
//	GET|POST|DELETE /2010-04-01/Accounts/{AC}/Keys/{SK}.json
//	GET  /2010-04-01/Accounts/{AC}/Balance.json
//
// Behaviours and their sources:
//   - API keys authenticate with HTTP Basic auth (key SID and secret) like the account's own
//     credentials (twilio-facts.md §2). They are standard keys: per Twilio's API keys
//     documentation they cannot use the Accounts and Keys resources; the simulator answers those
//     401/20003 (the code is our choice);
//   - a subaccount's own credentials (its auth token, or an API key of its own given in
//     Config.Subaccounts) fetch its Account resource and serve its own Messages, Calls and
//     IncomingPhoneNumbers: each message, call and number belongs to one account, is listed and
//     fetched only under that account's path (another account's answers 404/20404, as Twilio
//     does), a From the account does not own gets 21606 (21210 for a call), and its callbacks,
//     TwiML requests and inbound webhooks carry its AccountSid and are signed with its auth
//     token. Every other path under a subaccount answers 404/20404 (our choice: keys, services
//     and Verify are the main account's);
//   - the balance is "100.00" USD, fixed (our choice; the simulator prices nothing it charges).

type apiKey struct {
	// Account is the account the key belongs to ("" : the main account).
	Account                   string
	SID, FriendlyName, Secret string
	DateCreated, DateUpdated  time.Time
}

type subaccount struct {
	SID, FriendlyName, AuthToken, Status string
	DateCreated, DateUpdated             time.Time
}

type accountState struct {
	mu   sync.Mutex
	name string
	keys []*apiKey
	subs []*subaccount
	made time.Time
}

// principal is who a request authenticated as.
type principal int

const (
	principalNone principal = iota
	principalAccount
	principalKey
	principalSubaccount
)

// authenticate checks the Basic credentials of r: the account (SID and auth token), an API key
// (Config.APIKeys, a subaccount's in Config.Subaccounts, or one created through Keys.json), or a
// subaccount. acct is the account the credentials belong to: the main account's SID, or the
// subaccount's (for its token or one of its keys).
func (s *Simulator) authenticate(r *http.Request) (who principal, acct string) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return principalNone, ""
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if user == s.cfg.AccountSID {
		if eq(pass, s.cfg.AuthToken) {
			return principalAccount, s.cfg.AccountSID
		}
		return principalNone, ""
	}
	if secret, ok := s.cfg.APIKeys[user]; ok {
		if eq(pass, secret) {
			return principalKey, s.cfg.AccountSID
		}
		return principalNone, ""
	}
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	for _, k := range s.acct.keys {
		if k.SID == user {
			if !eq(pass, k.Secret) {
				return principalNone, ""
			}
			if k.Account == "" {
				return principalKey, s.cfg.AccountSID
			}
			if a := s.subLocked(k.Account); a != nil && a.Status == "active" {
				return principalKey, a.SID
			}
			return principalNone, ""
		}
	}
	for _, a := range s.acct.subs {
		if a.SID == user && a.Status == "active" && eq(pass, a.AuthToken) {
			return principalSubaccount, a.SID
		}
	}
	return principalNone, ""
}

func (s *Simulator) subLocked(sid string) *subaccount {
	for _, a := range s.acct.subs {
		if a.SID == sid {
			return a
		}
	}
	return nil
}

// authorized admits the main account's credentials (its token or one of its keys): the APIs
// other than the account's 2010-04-01 resources are the main account's only.
func (s *Simulator) authorized(r *http.Request) bool {
	who, acct := s.authenticate(r)
	return (who == principalAccount || who == principalKey) && acct == s.cfg.AccountSID
}

// tokenOf is the auth token that signs the callbacks and webhooks of account acct (the main
// account's for an account it does not know).
func (s *Simulator) tokenOf(acct string) string {
	if acct == "" || acct == s.cfg.AccountSID {
		return s.cfg.AuthToken
	}
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	if a := s.subLocked(acct); a != nil {
		return a.AuthToken
	}
	return s.cfg.AuthToken
}

// SubaccountConfig is a subaccount the simulator holds from the start, with the numbers it owns
// and API keys of its own (key SID to secret).
type SubaccountConfig struct {
	SID, AuthToken, FriendlyName string
	Numbers                      []string
	APIKeys                      map[string]string
}

// addSubaccounts adds the configured subaccounts, their keys and their numbers.
func (s *Simulator) addSubaccounts() {
	now := s.now()
	for _, sc := range s.cfg.Subaccounts {
		name := sc.FriendlyName
		if name == "" {
			name = "Subaccount " + sc.SID
		}
		s.acct.mu.Lock()
		s.acct.subs = append(s.acct.subs, &subaccount{SID: sc.SID, FriendlyName: name, AuthToken: sc.AuthToken, Status: "active",
			DateCreated: now, DateUpdated: now})
		for sid, secret := range sc.APIKeys {
			s.acct.keys = append(s.acct.keys, &apiKey{Account: sc.SID, SID: sid, FriendlyName: sid, Secret: secret, DateCreated: now, DateUpdated: now})
		}
		s.acct.mu.Unlock()
		for _, n := range sc.Numbers {
			if _, _, err := s.upsertNumberIn(sc.SID, n, numberUpdate{}); err != nil {
				s.log.Warn("twiliosim: ignoring configured number", "account_sid", sc.SID, "number", maskNumber(n), "err", err)
			}
		}
	}
}

type apiAccount struct {
	AuthToken       string            `json:"auth_token"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	FriendlyName    string            `json:"friendly_name"`
	OwnerAccountSID string            `json:"owner_account_sid"`
	SID             string            `json:"sid"`
	Status          string            `json:"status"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	Type            string            `json:"type"`
	URI             string            `json:"uri"`
}

func renderAccount(sid, owner, name, token, status string, created, updated time.Time) apiAccount {
	base := "/2010-04-01/Accounts/" + sid
	subs := map[string]string{}
	for _, r := range []string{"Messages", "IncomingPhoneNumbers", "Calls", "Keys", "Balance", "Applications", "Recordings"} {
		subs[toSnake(r)] = base + "/" + r + ".json"
	}
	return apiAccount{
		AuthToken: token, DateCreated: rfc2822(created), DateUpdated: rfc2822(updated),
		FriendlyName: name, OwnerAccountSID: owner, SID: sid, Status: status,
		SubresourceURIs: subs, Type: "Full", URI: base + ".json",
	}
}

// toSnake turns "IncomingPhoneNumbers" into "incoming_phone_numbers".
func toSnake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Simulator) mainAccount() apiAccount {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	name := s.acct.name
	if name == "" {
		name = "Switchboard simulator"
	}
	return renderAccount(s.cfg.AccountSID, s.cfg.AccountSID, name, s.cfg.AuthToken, "active", s.acct.made, s.acct.made)
}

func (a *subaccount) render(owner string) apiAccount {
	return renderAccount(a.SID, owner, a.FriendlyName, a.AuthToken, a.Status, a.DateCreated, a.DateUpdated)
}

// accountOneH answers /2010-04-01/Accounts/{Sid}.json (admitted by routes.go).
func (s *Simulator) accountOneH(w http.ResponseWriter, r *http.Request) *apiError {
	return s.accountOne(w, r, r.PathValue("Sid"), r.URL.Path)
}

func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	writeAPIError(w, &apiError{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate",
		Detail: "Your AccountSid or AuthToken was incorrect."})
}

func (s *Simulator) listAccounts(w http.ResponseWriter, r *http.Request) {
	size, page, aerr := readPage(r.Form)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	name, status := r.Form.Get("FriendlyName"), r.Form.Get("Status")
	all := []apiAccount{s.mainAccount()}
	s.acct.mu.Lock()
	for _, a := range s.acct.subs {
		all = append(all, a.render(s.cfg.AccountSID))
	}
	s.acct.mu.Unlock()
	all = slices.DeleteFunc(all, func(a apiAccount) bool {
		return (name != "" && a.FriendlyName != name) || (status != "" && a.Status != status)
	})
	writeJSON(w, http.StatusOK, listPage(r, "accounts", all, size, page, []string{"FriendlyName", "Status"}))
}

func (s *Simulator) createSubaccount(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.Form.Get("FriendlyName"))
	now := s.now()
	a := &subaccount{SID: newSID("AC"), AuthToken: randHex32(), Status: "active", DateCreated: now, DateUpdated: now}
	if name == "" {
		name = "SubAccount Created at " + now.UTC().Format("2006-01-02 03:04 pm")
	}
	a.FriendlyName = name
	s.acct.mu.Lock()
	s.acct.subs = append(s.acct.subs, a)
	out := a.render(s.cfg.AccountSID)
	s.acct.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Simulator) accountOne(w http.ResponseWriter, r *http.Request, sid, path string) *apiError {
	if sid == s.cfg.AccountSID {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			if v := strings.TrimSpace(r.Form.Get("FriendlyName")); v != "" {
				s.acct.mu.Lock()
				s.acct.name = v
				s.acct.mu.Unlock()
			}
			if v := r.Form.Get("Status"); v != "" && v != "active" {
				// A main account cannot suspend or close itself through the API (our choice).
				return invalidParam("Status", v)
			}
		default:
			return methodNotAllowed()
		}
		writeJSON(w, http.StatusOK, s.mainAccount())
		return nil
	}
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	i := slices.IndexFunc(s.acct.subs, func(a *subaccount) bool { return a.SID == sid })
	if i < 0 {
		return notFound(path)
	}
	a := s.acct.subs[i]
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		if a.Status == "closed" {
			return errorf(http.StatusBadRequest, 20001, "A closed account cannot be updated")
		}
		if v := strings.TrimSpace(r.Form.Get("FriendlyName")); v != "" {
			a.FriendlyName = v
		}
		if v := r.Form.Get("Status"); v != "" {
			if v != "active" && v != "suspended" && v != "closed" {
				return invalidParam("Status", v)
			}
			a.Status = v
		}
		a.DateUpdated = s.now()
	default:
		return methodNotAllowed()
	}
	writeJSON(w, http.StatusOK, a.render(s.cfg.AccountSID))
	return nil
}

// --- Keys and Balance, under the account's path ---

type apiKeyJSON struct {
	SID          string  `json:"sid"`
	FriendlyName string  `json:"friendly_name"`
	DateCreated  string  `json:"date_created"`
	DateUpdated  string  `json:"date_updated"`
	Secret       *string `json:"secret,omitempty"`
}

func (k *apiKey) render(withSecret bool) apiKeyJSON {
	out := apiKeyJSON{SID: k.SID, FriendlyName: k.FriendlyName, DateCreated: rfc2822(k.DateCreated), DateUpdated: rfc2822(k.DateUpdated)}
	if withSecret {
		sec := k.Secret
		out.Secret = &sec
	}
	return out
}

// keysList answers Keys.json (list, create); a standard key may not use it.
func (s *Simulator) keysList(w http.ResponseWriter, r *http.Request) *apiError {
	if who, _ := s.authenticate(r); who != principalAccount {
		writeUnauthorized(w)
		return nil
	}
	if r.Method == http.MethodPost {
		now := s.now()
		k := &apiKey{SID: newSID("SK"), FriendlyName: strings.TrimSpace(r.Form.Get("FriendlyName")),
			Secret: randHex32(), DateCreated: now, DateUpdated: now}
		s.acct.mu.Lock()
		s.acct.keys = append(s.acct.keys, k)
		s.acct.mu.Unlock()
		writeJSON(w, http.StatusCreated, k.render(true))
		return nil
	}
	size, page, aerr := readPage(r.Form)
	if aerr != nil {
		return aerr
	}
	s.acct.mu.Lock()
	all := make([]apiKeyJSON, len(s.acct.keys))
	for i, k := range s.acct.keys {
		all[i] = k.render(false)
	}
	s.acct.mu.Unlock()
	writeJSON(w, http.StatusOK, listPage(r, "keys", all, size, page, nil))
	return nil
}

// keyOne answers Keys/{Sid}.json (fetch, update, delete); a standard key may not use it.
func (s *Simulator) keyOne(w http.ResponseWriter, r *http.Request) *apiError {
	if who, _ := s.authenticate(r); who != principalAccount {
		writeUnauthorized(w)
		return nil
	}
	sid := r.PathValue("Sid")
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	i := slices.IndexFunc(s.acct.keys, func(k *apiKey) bool { return k.SID == sid })
	if i < 0 {
		return notFound(r.URL.Path)
	}
	k := s.acct.keys[i]
	switch r.Method {
	case http.MethodPost:
		if v := strings.TrimSpace(r.Form.Get("FriendlyName")); v != "" {
			k.FriendlyName = v
			k.DateUpdated = s.now()
		}
	case http.MethodDelete:
		s.acct.keys = slices.Delete(s.acct.keys, i, i+1)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, k.render(false))
	return nil
}

func (s *Simulator) serveBalance(w http.ResponseWriter, _ *http.Request) *apiError {
	writeJSON(w, http.StatusOK, map[string]string{"account_sid": s.cfg.AccountSID, "balance": "100.00", "currency": "USD"})
	return nil
}
