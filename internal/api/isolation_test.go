package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// isoStore is what the isolation test needs of a store: all of it, and the event fan-out.
type isoStore interface {
	switchboard.Store
	FanOutEvents(ctx context.Context, now time.Time, limit int) (int, error)
}

// TestTenantIsolation proves, on both engines, that a key of tenant beta reaches nothing of
// tenant alpha on any route of /openapi.json: every route is called with a key of beta of each
// role, and answers 403 insufficient_role where the role lacks the route's declared
// x-switchboard-role, else 404 for alpha's resource (or, for a list or a create, an answer that
// names nothing of alpha). Each case is also called with alpha's own key, which must not get 404,
// so that no case passes by calling a path that does not exist. It fails when a route of the
// document has no case: add one to isolationCases.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iso.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testIsolation(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testIsolation(t, pgtest.NewDB(t))
	})
}

// isoEnv is a server with two tenants and alpha's resources of every kind.
type isoEnv struct {
	t    *testing.T
	base string
	db   isoStore
	// keys by name: a-admin, a-send, a-read, a-spare (alpha); b-send, b-read, b-admin,
	// b-platform (beta).
	secrets map[string]string
	keyIDs  map[string]string
	// ids of alpha's resources, by kind.
	ids map[string]string
	// cursors of alpha's lists.
	cursors map[string]string
	// alphaIDs are every ID of alpha that an answer to beta must not name.
	alphaIDs []string
}

func (e *isoEnv) do(key, method, path, body string, hdr ...string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+e.secrets[key])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// must calls and requires status, returning the JSON answer.
func (e *isoEnv) must(key, method, path, body string, status int, hdr ...string) map[string]any {
	e.t.Helper()
	st, raw := e.do(key, method, path, body, hdr...)
	if st != status {
		e.t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, key, st, status, raw)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func newIsoEnv(t *testing.T, db isoStore) *isoEnv {
	ctx := context.Background()
	clock := func() time.Time { return now }
	for _, id := range []string{"alpha", "beta"} {
		if err := db.CreateTenant(ctx, &switchboard.Tenant{ID: id, Name: id, Environment: switchboard.EnvProduction, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	e := &isoEnv{t: t, db: db, secrets: map[string]string{}, keyIDs: map[string]string{}, ids: map[string]string{}, cursors: map[string]string{}}
	for _, k := range []struct {
		name, tenant string
		role         switchboard.Role
	}{
		{"a-admin", "alpha", switchboard.RoleAdmin}, {"a-send", "alpha", switchboard.RoleSend}, {"a-read", "alpha", switchboard.RoleRead},
		{"a-spare", "alpha", switchboard.RoleRead}, {"a-platform", "alpha", switchboard.RolePlatform},
		{"b-send", "beta", switchboard.RoleSend}, {"b-read", "beta", switchboard.RoleRead},
		{"b-admin", "beta", switchboard.RoleAdmin}, {"b-platform", "beta", switchboard.RolePlatform},
	} {
		key, sec, err := switchboard.NewAPIKey(k.name, now)
		if err != nil {
			t.Fatal(err)
		}
		key.Tenant, key.Role = k.tenant, k.role
		if err := db.CreateAPIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		e.secrets[k.name], e.keyIDs[k.name] = sec, key.ID
	}

	sim := twiliosim.New(twiliosim.Config{CallInputWait: 5 * time.Second})
	t.Cleanup(sim.Close)
	ssrv := httptest.NewServer(sim.Handler())
	t.Cleanup(ssrv.Close)
	prov, err := twilio.New(twilio.Config{AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(), BaseURL: ssrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	flows, err := voice.Load(filepath.Join("..", "..", "examples", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	calls := voice.New(voice.Config{Store: db, Provider: prov, Flows: func() *voice.Catalog { return flows },
		PublicURL: "https://sb.example.com", AuthToken: sim.AuthToken(), Clock: clock})
	vsvc, err := verify.New(verify.Config{Store: db, Clock: clock, Messages: accept.New(accept.Config{Store: db, Clock: clock}),
		Secret: []byte("isolation-verify-secret-0123456789abcdef"), From: "+15005550006", Pool: "default",
		Limits: verify.DefaultLimits(), Pumping: verify.DefaultPumping(), AllowedCountries: []string{"US", "CA"}})
	if err != nil {
		t.Fatal(err)
	}
	s := api.New(api.Config{Store: db, Verify: vsvc, Calls: calls, Clock: clock, MaxBodyBytes: 8192,
		Senders:   []switchboard.Sender{{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}},
		Consent:   consent.New(db, clock, switchboard.CategoryMarketing),
		Endpoints: api.EndpointsConfig{AllowPrivate: true}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e.base = srv.URL

	// Beta's endpoint first, listening to everything: it must receive nothing of alpha's.
	bep := e.must("b-admin", "POST", "/v1/endpoints", `{"url":"https://93.184.216.34/beta"}`, 201)
	e.ids["b-endpoint"] = bep["id"].(string)

	// Alpha's resources, of every kind the routes touch.
	m := e.must("a-admin", "POST", "/v1/messages", `{"to":"+14155550100","body":"alpha one","send_at":"2026-03-05T12:00:00Z"}`, 202,
		"Idempotency-Key", "iso-1")
	e.ids["message"] = m["id"].(string)
	m2 := e.must("a-admin", "POST", "/v1/messages", `{"to":"+14155550102","body":"alpha two"}`, 202)
	e.ids["message2"] = m2["id"].(string)
	sid := "SM" + strings.Repeat("a1", 16)
	inFlight := false
	if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: e.ids["message2"], Status: switchboard.StatusSent, ProviderSID: &sid,
		AttemptInFlight: &inFlight, IncAttempts: true, At: now}); err != nil {
		t.Fatal(err)
	}
	e.ids["sid"] = sid
	list := e.must("a-admin", "GET", "/v1/messages?limit=1", "", 200)
	e.cursors["messages"], _ = list["next_cursor"].(string)
	if e.cursors["messages"] == "" {
		t.Fatalf("alpha's message list has no next cursor: %v", list)
	}
	// The person answers alpha's message: a conversation of alpha.
	if _, err := db.CreateInbound(ctx, &switchboard.InboundMessage{ID: switchboard.NewID("in"), ProviderSID: "SM" + strings.Repeat("b2", 16),
		Channel: switchboard.ChannelSMS, From: "+14155550102", To: "+15005550006", Body: "thanks alpha", ReceivedAt: now, Tenant: "alpha"}); err != nil {
		t.Fatal(err)
	}
	convs, _, err := db.ListConversations(ctx, switchboard.ConversationFilter{Tenant: "alpha", Limit: 10})
	if err != nil || len(convs) == 0 {
		t.Fatalf("alpha has no conversation: %v %v", convs, err)
	}
	e.ids["conversation"] = convs[0].ID
	v := e.must("a-send", "POST", "/v1/verifications", `{"to":"+14155550103","metadata":{"job_id":"1042"}}`, 201)
	e.ids["verification"] = v["id"].(string)
	// Beta verifies the same person: a verification of its own, not alpha's (nor a 409).
	bv := e.must("b-send", "POST", "/v1/verifications", `{"to":"+14155550103"}`, 201)
	e.ids["b-verification"] = bv["id"].(string)
	// A refused start of each (geo permissions: US and CA only).
	for _, k := range []string{"a-send", "b-send"} {
		r := e.must(k, "POST", "/v1/verifications", `{"to":"+442071838750"}`, 403)
		e.ids[k[:1]+"-refusal"], _ = r["support_reference"].(string)
	}
	e.ids["refusal"] = e.ids["a-refusal"]
	delete(e.ids, "a-refusal")
	c := e.must("a-admin", "POST", "/v1/calls", `{"to":"+14155550105","flow":"appointment_confirmation",
		"variables":{"clinic":"Northside","date":"Tuesday","front_desk":"+15005550020","patient_name":"Ana"}}`, 202)
	e.ids["call"] = c["id"].(string)
	ep := e.must("a-admin", "POST", "/v1/endpoints", `{"url":"https://93.184.216.34/alpha"}`, 201)
	e.ids["endpoint"] = ep["id"].(string)
	e.must("a-admin", "PUT", "/v1/consent/%2B14155550104", `{"state":"opted_out","evidence":"alpha's customer asked"}`, 200)
	// Senders are the platform's; one that only alpha may use, and one a platform key removes.
	e.must("a-admin", "POST", "/v1/senders", `{"from":"+15005550111","tenants":["alpha"]}`, 201)
	e.must("a-platform", "POST", "/v1/senders", `{"from":"+15005550113","tenants":["alpha"]}`, 201)
	// With two tenants, a shared sender (every tenant's) is the platform's to add.
	e.must("a-admin", "POST", "/v1/senders", `{"from":"+15005550114"}`, 403)
	e.ids["sender"], e.ids["sender2"] = "+15005550111", "+15005550113"
	e.ids["a-spare"] = e.keyIDs["a-spare"]
	e.ids["a-admin-key"] = e.keyIDs["a-admin"]
	for kind, id := range e.ids {
		if !strings.HasPrefix(kind, "b-") {
			e.alphaIDs = append(e.alphaIDs, id)
		}
	}
	return e
}

// isoCase is one route's isolation case: a request for alpha's resource, and what a key of beta
// whose role allows the route gets.
type isoCase struct {
	path func(e *isoEnv) string
	body string
	hdr  []string
	// cross is beta's answer when its role allows the route: 404 for alpha's resource, or the
	// 2xx of a list or a create that names nothing of alpha.
	cross int
	// platform, when set, is what beta's platform key gets instead: a platform key manages
	// every tenant (tenants, and keys of any tenant).
	platform int
	// own, when set, is the status alpha's own admin key gets (it must not be 404 when cross is).
	own int
	// check, when set, looks at beta's 2xx answer.
	check func(t *testing.T, e *isoEnv, role string, raw []byte)
}

func fixed(p string) func(*isoEnv) string { return func(*isoEnv) string { return p } }

func withID(format, kind string) func(*isoEnv) string {
	return func(e *isoEnv) string { return fmt.Sprintf(format, e.ids[kind]) }
}

// tenantIs checks that a created resource belongs to beta.
func tenantIs(want string) func(t *testing.T, e *isoEnv, role string, raw []byte) {
	return func(t *testing.T, e *isoEnv, role string, raw []byte) {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if m["tenant"] != want {
			t.Errorf("as %s: created with tenant %v, want %s: %s", role, m["tenant"], want, raw)
		}
	}
}

// isolationCases holds a case for every /v1 route of openapi.json, keyed "METHOD /path".
var isolationCases = map[string]isoCase{
	"POST /v1/messages": {path: fixed("/v1/messages"), body: `{"to":"+14155550100","body":"alpha one","send_at":"2026-03-05T12:00:00Z"}`,
		hdr: []string{"Idempotency-Key", "iso-1"}, cross: 202, own: 202, check: tenantIs("beta")},
	"GET /v1/messages":                {path: func(e *isoEnv) string { return "/v1/messages?cursor=" + e.cursors["messages"] }, cross: 200},
	"GET /v1/messages/{id}":           {path: withID("/v1/messages/%s", "message"), cross: 404},
	"POST /v1/messages/{id}/cancel":   {path: withID("/v1/messages/%s/cancel", "message"), cross: 404},
	"GET /v1/messages/{id}/trace":     {path: withID("/v1/messages/%s/trace", "message"), cross: 404},
	"GET /v1/provider-messages/{sid}": {path: withID("/v1/provider-messages/%s", "sid"), cross: 404},
	"GET /v1/consent/{phone}": {path: fixed("/v1/consent/%2B14155550104"), cross: 200,
		check: func(t *testing.T, e *isoEnv, role string, raw []byte) {
			var v api.ConsentView
			_ = json.Unmarshal(raw, &v)
			if len(v.History) != 0 {
				t.Errorf("as %s: beta reads alpha's consent history: %s", role, raw)
			}
		}},
	"PUT /v1/consent/{phone}": {path: fixed("/v1/consent/%2B14155550199"), body: `{"state":"opted_in","evidence":"beta's form"}`, cross: 200,
		own: 200, check: tenantIs("beta")},
	"DELETE /v1/consent/{phone}":          {path: fixed("/v1/consent/%2B14155550199"), cross: 200, own: 200, check: tenantIs("beta")},
	"POST /v1/consent/import":             {path: fixed("/v1/consent/import"), cross: 415, own: 415}, // its body is CSV: the role is checked first
	"POST /v1/endpoints":                  {path: fixed("/v1/endpoints"), body: `{"url":"https://93.184.216.34/b2"}`, cross: 201, own: 201},
	"GET /v1/endpoints":                   {path: fixed("/v1/endpoints"), cross: 200},
	"GET /v1/endpoints/{id}":              {path: withID("/v1/endpoints/%s", "endpoint"), cross: 404},
	"DELETE /v1/endpoints/{id}":           {path: withID("/v1/endpoints/%s", "endpoint"), cross: 404},
	"POST /v1/endpoints/{id}/rotate":      {path: withID("/v1/endpoints/%s/rotate", "endpoint"), cross: 404},
	"GET /v1/endpoints/{id}/dead-letters": {path: withID("/v1/endpoints/%s/dead-letters", "endpoint"), cross: 404},
	"POST /v1/endpoints/{id}/replay":      {path: withID("/v1/endpoints/%s/replay", "endpoint"), cross: 404},
	"GET /v1/conversations":               {path: fixed("/v1/conversations?their_number=%2B14155550102"), cross: 200},
	"GET /v1/conversations/{id}":          {path: withID("/v1/conversations/%s", "conversation"), cross: 404},
	"GET /v1/conversations/{id}/messages": {path: withID("/v1/conversations/%s/messages", "conversation"), cross: 404},
	"POST /v1/conversations/{id}/messages": {path: withID("/v1/conversations/%s/messages", "conversation"), body: `{"body":"beta writes"}`,
		cross: 404},
	// A number has one pending code per tenant (builtin backend): beta's start for the number
	// alpha is verifying is a resend of beta's own verification, naming nothing of alpha's.
	"POST /v1/verifications": {path: fixed("/v1/verifications"), body: `{"to":"+14155550103"}`, cross: 200, own: 200,
		check: func(t *testing.T, e *isoEnv, role string, raw []byte) {
			var v map[string]any
			_ = json.Unmarshal(raw, &v)
			if v["id"] != e.ids["b-verification"] || v["tenant"] != "beta" {
				t.Errorf("as %s: beta's start for alpha's number answers %s, want a resend of beta's %s", role, raw, e.ids["b-verification"])
			}
		}},
	// A search by alpha's metadata pair finds nothing of alpha's for beta.
	"GET /v1/verifications": {path: fixed("/v1/verifications?metadata%5Bjob_id%5D=1042"), cross: 200},
	// Refusals record their tenant: a key lists its own tenant's, a platform key every tenant's.
	"GET /v1/verifications/refusals": {path: fixed("/v1/verifications/refusals"), cross: 200, platform: 200, own: 200,
		check: func(t *testing.T, e *isoEnv, role string, raw []byte) {
			var l api.RefusalList
			_ = json.Unmarshal(raw, &l)
			found := map[string]bool{}
			for _, r := range l.Refusals {
				found[r.ID] = true
				if r.Tenant != "beta" && role != string(switchboard.RolePlatform) {
					t.Errorf("as %s: beta lists refusal %s of tenant %s", role, r.ID, r.Tenant)
				}
			}
			if !found[e.ids["b-refusal"]] || role == string(switchboard.RolePlatform) && !found[e.ids["refusal"]] {
				t.Errorf("as %s: the refusals listed are %v, want beta's %s (and alpha's %s with a platform key)", role, found, e.ids["b-refusal"], e.ids["refusal"])
			}
		}},
	"GET /v1/verifications/{id}":         {path: withID("/v1/verifications/%s", "verification"), cross: 404},
	"POST /v1/verifications/{id}/check":  {path: withID("/v1/verifications/%s/check", "verification"), body: `{"code":"000000"}`, cross: 404},
	"POST /v1/verifications/{id}/cancel": {path: withID("/v1/verifications/%s/cancel", "verification"), cross: 404},
	"POST /v1/calls": {path: fixed("/v1/calls"), body: `{"to":"+14155550106","flow":"appointment_confirmation",
		"variables":{"clinic":"Northside","date":"Tuesday","front_desk":"+15005550020","patient_name":"Ana"}}`, cross: 202, own: 202, check: tenantIs("beta")},
	"GET /v1/calls":              {path: func(e *isoEnv) string { return "/v1/calls?cursor=" + e.ids["call"] + "z" }, cross: 200},
	"GET /v1/calls/{id}":         {path: withID("/v1/calls/%s", "call"), cross: 404},
	"POST /v1/calls/{id}/cancel": {path: withID("/v1/calls/%s/cancel", "call"), cross: 404},
	"GET /v1/tenants":            {path: fixed("/v1/tenants"), cross: 200},
	"POST /v1/tenants":           {path: fixed("/v1/tenants"), body: `{"id":"gamma"}`, cross: 201, own: 409},
	"GET /v1/tenants/{id}":       {path: fixed("/v1/tenants/alpha"), cross: 200},
	"PATCH /v1/tenants/{id}":     {path: fixed("/v1/tenants/alpha"), body: `{"name":"Alpha"}`, cross: 200},
	"GET /v1/keys":               {path: fixed("/v1/keys?tenant=alpha"), cross: 403, platform: 200},
	"POST /v1/keys":              {path: fixed("/v1/keys"), body: `{"name":"intruder","role":"admin","tenant":"alpha"}`, cross: 403, platform: 201},
	// Senders: a tenant's keys see those their tenant may use; only platform keys change them.
	"GET /v1/senders":        {path: fixed("/v1/senders"), cross: 200, platform: 200},
	"GET /v1/senders/{from}": {path: fixed("/v1/senders/+15005550111"), cross: 404, platform: 200},
	// A sender for beta alone: beta's admin adds it (the platform's key then finds it there);
	// alpha's admin may not add a sender for beta.
	"POST /v1/senders":          {path: fixed("/v1/senders"), body: `{"from":"+15005550112","tenants":["beta"]}`, cross: 201, platform: 409, own: 403},
	"PATCH /v1/senders/{from}":  {path: fixed("/v1/senders/+15005550111"), body: `{"rate":2}`, cross: 404, platform: 200},
	"DELETE /v1/senders/{from}": {path: fixed("/v1/senders/+15005550113"), cross: 404, platform: 204, own: 404},
	// A tenant's own Twilio account: another tenant's keys find no such tenant; a platform key
	// reaches it (alpha has none: 404 credentials_not_found, or a node without the credentials
	// service: 422 credentials_not_configured before anything is checked).
	"GET /v1/tenants/{id}/credentials":    {path: fixed("/v1/tenants/alpha/credentials"), cross: 404, platform: 422, own: 422},
	"PUT /v1/tenants/{id}/credentials":    {path: fixed("/v1/tenants/alpha/credentials"), body: `{"account_sid":"AC00000000000000000000000000000000","auth_token":"x"}`, cross: 404, platform: 422, own: 422},
	"DELETE /v1/tenants/{id}/credentials": {path: fixed("/v1/tenants/alpha/credentials"), cross: 404, platform: 422, own: 422},
	// Usage: an admin key reads its own tenant's; naming another is refused, a platform key may.
	"GET /v1/usage":        {path: fixed("/v1/usage?tenant=alpha"), cross: 403, platform: 200},
	"DELETE /v1/keys/{id}": {path: withID("/v1/keys/%s", "a-spare"), cross: 404, platform: 204, own: 204},
}

func testIsolation(t *testing.T, db isoStore) {
	e := newIsoEnv(t, db)

	// The routes, from the served document.
	st, raw := e.do("", "GET", "/openapi.json", "")
	if st != 200 {
		t.Fatalf("/openapi.json: %d", st)
	}
	var served struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &served); err != nil {
		t.Fatal(err)
	}
	type route struct {
		key, need string
		own       bool
	}
	var routes []route
	for path, item := range served.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method, rawOp := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
			default:
				continue
			}
			var op map[string]any
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Fatal(err)
			}
			need, _ := op[api.RoleExtension].(string)
			own, _ := op[api.SendReadsOwnExtension].(bool)
			routes = append(routes, route{strings.ToUpper(method) + " " + path, need, own})
		}
	}
	slices.SortFunc(routes, func(a, b route) int { return strings.Compare(a.key, b.key) })
	if len(routes) < 30 {
		t.Fatalf("only %d routes under /v1 in /openapi.json", len(routes))
	}

	// Beta, with each role, on every route.
	for _, rt := range routes {
		c, ok := isolationCases[rt.key]
		if !ok {
			t.Errorf("route %s has no isolation case: add one to isolationCases in internal/api/isolation_test.go "+
				"(a request for tenant alpha's resource and what a key of tenant beta gets)", rt.key)
			continue
		}
		need := switchboard.Role(rt.need)
		if !need.Valid() {
			t.Errorf("route %s declares no valid %s", rt.key, api.RoleExtension)
			continue
		}
		method, _, _ := strings.Cut(rt.key, " ")
		for _, role := range []switchboard.Role{switchboard.RoleSend, switchboard.RoleRead, switchboard.RoleAdmin, switchboard.RolePlatform} {
			key := "b-" + string(role)
			path := c.path(e)
			st, raw := e.do(key, method, path, c.body, c.hdr...)
			allowed := role.Allows(need) || rt.own && role == switchboard.RoleSend
			want := c.cross
			if role == switchboard.RolePlatform && c.platform != 0 {
				want = c.platform
			}
			if rt.own && role == switchboard.RoleSend {
				want = 404
			}
			if !allowed {
				want = 403
			}
			if st != want {
				t.Errorf("%s as beta's %s key: %d, want %d: %s", rt.key, role, st, want, raw)
				continue
			}
			var p api.Problem
			if st == 403 && want == 403 {
				if _ = json.Unmarshal(raw, &p); p.Code != api.CodeInsufficientRole {
					t.Errorf("%s as beta's %s key: 403 with code %q, want %s", rt.key, role, p.Code, api.CodeInsufficientRole)
				}
			}
			if st == 404 {
				if _ = json.Unmarshal(raw, &p); !strings.HasSuffix(p.Code, "_not_found") {
					t.Errorf("%s as beta's %s key: 404 with code %q, want a *_not_found code", rt.key, role, p.Code)
				}
			}
			// Nothing of alpha's in any answer to beta (but the IDs beta sent itself, which a 404
			// repeats), except where a platform key manages alpha.
			if !(role == switchboard.RolePlatform && c.platform != 0) && !strings.HasPrefix(rt.key, "GET /v1/tenants") {
				for _, id := range e.alphaIDs {
					if strings.Contains(string(raw), id) && !strings.Contains(path+c.body, id) {
						t.Errorf("%s as beta's %s key names alpha's %s: %s", rt.key, role, id, raw)
					}
				}
			}
			if st < 300 && c.check != nil {
				c.check(t, e, string(role), raw)
			}
		}
	}
	for key := range isolationCases {
		found := slices.ContainsFunc(routes, func(r route) bool { return r.key == key })
		if !found {
			t.Errorf("isolationCases has %s, which /openapi.json does not document", key)
		}
	}

	// Alpha's own keys: the same paths are alpha's resources (so no case above passes by
	// naming a path that does not exist), and a send key sees only what it created.
	sorted := slices.Sorted(maps.Keys(isolationCases))
	// Deletes and cancels last: they end the resources the other routes read.
	slices.SortStableFunc(sorted, func(a, b string) int {
		rank := func(k string) int {
			if strings.HasPrefix(k, "DELETE") || strings.HasSuffix(k, "/cancel") {
				return 1
			}
			return 0
		}
		return rank(a) - rank(b)
	})
	for _, k := range sorted {
		c := isolationCases[k]
		method, _, _ := strings.Cut(k, " ")
		key := "a-admin"
		if strings.Contains(k, "/tenants") {
			key = "a-platform"
		}
		st, raw := e.do(key, method, c.path(e), c.body, c.hdr...)
		switch {
		case c.own != 0 && st != c.own:
			t.Errorf("%s as alpha's %s key: %d, want %d: %s", k, key, st, c.own, raw)
		case c.own == 0 && (st == 404 || st >= 500):
			t.Errorf("%s as alpha's %s key: %d: the case does not name alpha's resource: %s", k, key, st, raw)
		}
	}

	// A send key reads what it created, not what another key of its tenant did; a read key
	// reads its tenant's but changes nothing.
	e.must("a-send", "GET", "/v1/verifications/"+e.ids["verification"], "", 200)
	e.must("a-send", "GET", "/v1/messages/"+e.ids["message2"], "", 404)
	e.must("a-send", "GET", "/v1/messages", "", 403)
	e.must("a-read", "GET", "/v1/messages/"+e.ids["message2"], "", 200)
	e.must("a-read", "POST", "/v1/messages", `{"to":"+14155550100","body":"x"}`, 403)
	e.must("a-admin", "POST", "/v1/keys", `{"name":"up","role":"platform"}`, 403)

	// Event deliveries: beta's endpoint, listening to everything, got none of alpha's events;
	// alpha's did get some (so the check is not empty).
	if _, err := e.db.FanOutEvents(context.Background(), now.Add(time.Minute), 1000); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []struct {
		id     string
		tenant string
	}{{e.ids["b-endpoint"], "beta"}} {
		ds, _, err := e.db.ListDeliveries(context.Background(), switchboard.DeliveryFilter{EndpointID: ep.id, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Event != nil && switchboard.TenantOr(d.Event.Tenant) != ep.tenant {
				t.Errorf("beta's endpoint got an event of tenant %s: %s %s", d.Event.Tenant, d.Event.Type, d.Event.ID)
			}
		}
	}
	evs, err := e.db.ListAppEvents(context.Background(), switchboard.AppEventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	alphaEvents := 0
	for _, ev := range evs {
		if ev.Tenant == "alpha" {
			alphaEvents++
		}
	}
	if alphaEvents == 0 {
		t.Error("alpha's activity made no events: the delivery check proves nothing")
	}
}
