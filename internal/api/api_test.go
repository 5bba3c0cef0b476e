package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/tenantcreds"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

const secret = "sb_test_secret"

// platformSecret is the fixture's platform key: it may call every route.
const platformSecret = "sb_test_platform_secret"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	store switchboard.Store
	srv   *httptest.Server
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateAPIKey(context.Background(), &switchboard.APIKey{ID: "key_1", Name: "test", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(context.Background(), &switchboard.APIKey{ID: "key_platform", Name: "platform", Role: switchboard.RolePlatform,
		Hash: switchboard.HashAPIKeySecret(platformSecret), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	vsvc, err := verify.New(verify.Config{Store: db, Clock: func() time.Time { return now },
		Messages: accept.New(accept.Config{Store: db, Clock: func() time.Time { return now }}),
		Secret:   []byte("fixture-verify-secret-0123456789abcdef"), From: "+15005550006", Pool: "default",
		Limits: verify.DefaultLimits(), Pumping: verify.DefaultPumping(), AllowedCountries: []string{"US", "CA"}})
	if err != nil {
		t.Fatal(err)
	}
	senders := []switchboard.Sender{
		{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"},
		{From: "+14155550111", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "alerts"},
		{From: "+14155550112", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "alerts"},
	}
	if err := db.SyncSenders(context.Background(), senders, now); err != nil {
		t.Fatal(err)
	}
	s := api.New(api.Config{
		Store:        db,
		Verify:       vsvc,
		Senders:      senders,
		Clock:        func() time.Time { return now },
		MaxBodyBytes: 4096,
		Consent:      consent.New(db, func() time.Time { return now }, switchboard.CategoryMarketing),
		Credentials: tenantcreds.New(tenantcreds.Config{Store: db, Clock: func() time.Time { return now },
			Build: func(c *switchboard.TenantCredentials) (tenantcreds.Account, error) { return fakeAccount{c.Secret}, nil }}),
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{store: db, srv: srv}
}

func (f *fixture) do(t testing.TB, method, path, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func TestCreateMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, m, hdr := f.do(t, "POST", "/v1/messages", `{"to":"+1 (415) 555-0100","body":"Your technician is on the way — ETA 10 min"}`)
	if code != 202 {
		t.Fatalf("status %d: %v", code, m)
	}
	if m["to"] != "+14155550100" || m["status"] != "queued" || m["from"] != "+15005550006" || m["encoding"] != "UCS-2" || m["segments"].(float64) != 1 {
		t.Fatalf("message: %v", m)
	}
	if hdr.Get("Location") != "/v1/messages/"+m["id"].(string) {
		t.Fatalf("location %q", hdr.Get("Location"))
	}
	code, got, _ := f.do(t, "GET", "/v1/messages/"+m["id"].(string), "")
	if code != 200 || len(got["events"].([]any)) != 1 {
		t.Fatalf("get: %d %v", code, got)
	}
}

func TestValidationProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	long := strings.Repeat("a", 1601)
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"fictional 555 not valid", `{"to":"+15555550100","body":"x"}`, 400, "invalid_phone_number"},
		{"not e164", `{"to":"4155550100","body":"x"}`, 400, "invalid_phone_number"},
		{"missing to", `{"body":"x"}`, 400, "missing_to"},
		{"missing body", `{"to":"+14155550100"}`, 400, "missing_body"},
		{"body too long", `{"to":"+14155550100","body":"` + long + `"}`, 400, "body_too_long"},
		{"http media", `{"to":"+14155550100","body":"x","media_urls":["http://example.com/a.png"]}`, 400, "invalid_media_url"},
		{"unknown field", `{"to":"+14155550100","body":"x","bodyy":"y"}`, 400, "unknown_field"},
		{"bad json", `{"to":`, 400, "invalid_json"},
		{"two values", `{"to":"+14155550100","body":"x"}{}`, 400, "invalid_json"},
		{"wrong type", `{"to":"+14155550100","body":5}`, 400, "invalid_field"},
		{"NUL in body", `{"to":"+14155550100","body":"a\u0000b"}`, 400, "nul_character"},
		{"NUL in metadata", `{"to":"+14155550100","body":"x","metadata":{"k":"\u0000"}}`, 400, "nul_character"},
		{"bad channel", `{"to":"+14155550100","body":"x","channel":"fax"}`, 400, "invalid_channel"},
		{"bad category", `{"to":"+14155550100","body":"x","category":"spam"}`, 400, "invalid_category"},
		{"unknown sender", `{"to":"+14155550100","body":"x","from":"+14155550199"}`, 422, "unknown_sender"},
		{"unknown pool", `{"to":"+14155550100","body":"x","pool":"nope"}`, 422, "unknown_pool"},
		{"to is the sender", `{"to":"+14155550111","body":"x","from":"+14155550111"}`, 400, "to_is_sender"},
		{"negative validity", `{"to":"+14155550100","body":"x","validity_seconds":-1}`, 400, "invalid_validity"},
		{"too large", `{"to":"+14155550100","body":"` + strings.Repeat("b", 5000) + `"}`, 413, "body_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, p, hdr := f.do(t, "POST", "/v1/messages", c.body)
			if code != c.status || p["code"] != c.code {
				t.Fatalf("got %d %v, want %d %s", code, p, c.status, c.code)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			if p["status"].(float64) != float64(c.status) || p["type"] == "" || p["title"] == "" || p["detail"] == "" {
				t.Fatalf("incomplete problem: %v", p)
			}
		})
	}
	// Nothing was written by any refused request.
	msgs, _, err := f.store.ListMessages(context.Background(), switchboard.MessageFilter{Limit: 10})
	if err != nil || len(msgs) != 0 {
		t.Fatalf("refused requests stored %d messages (err %v)", len(msgs), err)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, h := range []string{"", "Bearer", "Bearer wrong", "Basic abc"} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/messages", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Authorization %q: %d, want 401", h, resp.StatusCode)
		}
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := `{"to":"+14155550100","body":"code 1234"}`
	c1, m1, _ := f.do(t, "POST", "/v1/messages", body, "Idempotency-Key", "evt-1")
	c2, m2, h2 := f.do(t, "POST", "/v1/messages", body, "Idempotency-Key", "evt-1")
	if c1 != 202 || c2 != 202 || m1["id"] != m2["id"] || h2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v / %d %v", c1, m1["id"], c2, m2["id"])
	}
	c3, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"code 9999"}`, "Idempotency-Key", "evt-1")
	if c3 != 422 || p["code"] != "idempotency_key_reused" {
		t.Fatalf("different request with the same key: %d %v", c3, p)
	}
	// Concurrent requests with one key create one message.
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, m, _ := f.do(t, "POST", "/v1/messages", body, "Idempotency-Key", "evt-race")
			if code != 202 {
				t.Errorf("status %d %v", code, m)
				return
			}
			ids <- m["id"].(string)
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent requests created %d messages", len(seen))
	}
}

func TestStickySenderInPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var first string
	for i := range 5 {
		code, m, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"alert","pool":"alerts"}`)
		if code != 202 {
			t.Fatalf("%d %v", code, m)
		}
		if i == 0 {
			first = m["from"].(string)
		} else if m["from"] != first {
			t.Fatalf("recipient moved from %s to %s", first, m["from"])
		}
	}
	if first != "+14155550111" && first != "+14155550112" {
		t.Fatalf("sender %s is not in the pool", first)
	}
}

func TestListAndCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ids []string
	for i := range 7 {
		_, m, _ := f.do(t, "POST", "/v1/messages", fmt.Sprintf(`{"to":"+1415555%04d","body":"n%d"}`, 100+i%2, i))
		ids = append(ids, m["id"].(string))
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		code, page, _ := f.do(t, "GET", "/v1/messages?limit=3&cursor="+cursor, "")
		if code != 200 {
			t.Fatalf("%d %v", code, page)
		}
		for _, m := range page["messages"].([]any) {
			id := m.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		cursor, _ = page["next_cursor"].(string)
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d of 7", len(seen))
	}
	_, page, _ := f.do(t, "GET", "/v1/messages?to=%2B14155550101", "")
	if n := len(page["messages"].([]any)); n != 3 {
		t.Fatalf("filter to: %d messages, want 3", n)
	}
	code, m, _ := f.do(t, "POST", "/v1/messages/"+ids[0]+"/cancel", "")
	if code != 200 || m["status"] != "canceled" {
		t.Fatalf("cancel: %d %v", code, m)
	}
	code, p, _ := f.do(t, "POST", "/v1/messages/"+ids[0]+"/cancel", "")
	if code != 409 || p["code"] != "not_cancelable" {
		t.Fatalf("second cancel: %d %v", code, p)
	}
	_, page, _ = f.do(t, "GET", "/v1/messages?status=canceled", "")
	if n := len(page["messages"].([]any)); n != 1 {
		t.Fatalf("filter status: %d, want 1", n)
	}
	code, p, _ = f.do(t, "GET", "/v1/messages?status=bogus", "")
	if code != 400 || p["code"] != "invalid_query" {
		t.Fatalf("bad status filter: %d %v", code, p)
	}
	code, p, _ = f.do(t, "GET", "/v1/messages/msg_nope", "")
	if code != 404 || p["code"] == "" {
		t.Fatalf("unknown id: %d %v", code, p)
	}
}

// FuzzCreateMessage: whatever the body, the API answers 202 or a problem document, never 5xx,
// and a refused request stores nothing.
func FuzzCreateMessage(f *testing.F) {
	for _, s := range []string{
		`{"to":"+14155550100","body":"hi"}`, `{"to":"+14155550100","body":"x","media_urls":["https://a/b"]}`,
		`{"to":1}`, `[]`, `null`, `{"to":"+14155550100","body":"x","metadata":{"a":"b"},"send_at":"2030-01-01T00:00:00Z"}`,
		`{"to":"+14155550100","body":"\ud83d"}`, "",
	} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		before, _, _ := fx.store.ListMessages(context.Background(), switchboard.MessageFilter{Limit: 1})
		code, out, hdr := fx.do(t, "POST", "/v1/messages", body)
		switch {
		case code == 202:
		case code >= 400 && code < 500:
			if hdr.Get("Content-Type") != "application/problem+json" || out["code"] == nil {
				t.Fatalf("%d without a problem document: %v", code, out)
			}
			after, _, _ := fx.store.ListMessages(context.Background(), switchboard.MessageFilter{Limit: 1})
			if len(after) != len(before) || (len(after) > 0 && after[0].ID != before[0].ID) {
				t.Fatalf("refused request (%d) stored a message", code)
			}
		default:
			t.Fatalf("status %d for %q: %v", code, body, out)
		}
	})
}

// TestListByMetadata: GET /v1/messages?metadata[KEY]=VALUE lists the messages with that metadata
// pair, with the other filters and pages; a malformed metadata filter is refused with
// invalid_metadata_filter.
func TestListByMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var want []string
	for i := range 5 {
		job := "1042"
		if i%2 == 1 {
			job = "1043"
		}
		code, m, _ := f.do(t, "POST", "/v1/messages", fmt.Sprintf(`{"to":"+1415555%04d","body":"n%d","metadata":{"job_id":%q,"job key":"a&b=c"}}`, 100+i%3, i, job))
		if code != 202 {
			t.Fatalf("create: %d %v", code, m)
		}
		if job == "1042" {
			want = append([]string{m["id"].(string)}, want...)
		}
	}
	list := func(query string) []string {
		t.Helper()
		var got []string
		cursor := ""
		for range 10 {
			code, page, _ := f.do(t, "GET", "/v1/messages?limit=2&"+query+"&cursor="+cursor, "")
			if code != 200 {
				t.Fatalf("%s: %d %v", query, code, page)
			}
			for _, m := range page["messages"].([]any) {
				got = append(got, m.(map[string]any)["id"].(string))
			}
			if cursor, _ = page["next_cursor"].(string); cursor == "" {
				return got
			}
		}
		t.Fatalf("%s: pagination does not end", query)
		return nil
	}
	if got := list("metadata[job_id]=1042"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("metadata[job_id]=1042 listed %v, want %v", got, want)
	}
	if got := list("metadata%5Bjob_id%5D=1042&to=%2B14155550100"); len(got) != 1 || got[0] != want[len(want)-1] {
		t.Fatalf("metadata and to listed %v, want [%s]", got, want[len(want)-1])
	}
	if got := list("metadata%5Bjob%20key%5D=a%26b%3Dc"); len(got) != 5 {
		t.Fatalf("escaped key and value listed %d, want 5", len(got))
	}
	if got := list("metadata[job_id]=104"); len(got) != 0 {
		t.Fatalf("partial value listed %v, want none", got)
	}
	for _, bad := range []string{"metadata=job_id:1042", "metadata[]=1042", "metadata[job_id=1042",
		"metadata[job_id]=1&metadata[job_id]=2", "metadata[a]=1&metadata[b]=2",
		"metadata[" + strings.Repeat("k", 65) + "]=v", "metadata[k]=" + strings.Repeat("v", 513)} {
		code, p, hdr := f.do(t, "GET", "/v1/messages?"+bad, "")
		if code != 400 || p["code"] != "invalid_metadata_filter" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %v %s, want 400 invalid_metadata_filter problem+json", bad, code, p, hdr.Get("Content-Type"))
		}
	}
	// A NUL is refused before any handler reads the query (nul_character), like in every parameter.
	if code, p, _ := f.do(t, "GET", "/v1/messages?metadata[k%00]=v", ""); code != 400 || (p["code"] != "nul_character" && p["code"] != "invalid_metadata_filter") {
		t.Errorf("metadata[k%%00]=v: %d %v, want 400", code, p)
	}
}

// fakeAccount stands for a tenant's Twilio account: it accepts the secrets that start with
// "good" and has one number.
type fakeAccount struct{ secret string }

func (a fakeAccount) Name() string                                                { return "fake" }
func (fakeAccount) ErrorClass(int) switchboard.ErrorClass                         { return switchboard.ClassOther }
func (fakeAccount) ErrorCode(switchboard.ErrorClass) int                          { return 0 }
func (fakeAccount) SyncAccountWebhooks(context.Context, string) (int, int, error) { return 1, 1, nil }
func (fakeAccount) Send(context.Context, *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	return nil, fmt.Errorf("not used")
}
func (fakeAccount) Fetch(context.Context, string) (*switchboard.ProviderMessage, error) {
	return nil, fmt.Errorf("not used")
}
func (fakeAccount) Find(context.Context, switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	return nil, fmt.Errorf("not used")
}
func (a fakeAccount) CheckAccount(context.Context) error {
	if !strings.HasPrefix(a.secret, "good") {
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected", "refused")
	}
	return nil
}
