package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

// clock is an injected clock the tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// fakeCaller records the calls it is asked to place.
type fakeCaller struct {
	mu    sync.Mutex
	calls []call
}

type call struct{ to, from, twiml string }

func (f *fakeCaller) Call(_ context.Context, to, from, twiml string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{to, from, twiml})
	return "CA" + strings.Repeat("0", 31) + strconv.Itoa(len(f.calls)), nil
}

func (f *fakeCaller) all() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

type harness struct {
	t      *testing.T
	store  *sqlite.DB
	svc    *verify.Service
	srv    *httptest.Server
	clock  *clock
	caller *fakeCaller
	secret string
}

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// newHarness boots the API with a verification service on a temporary SQLite store, with no
// dispatcher: otp messages stay in the outbox, where the tests read their codes.
func newHarness(t *testing.T, adjust func(*verify.Config)) *harness {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, store: db, clock: newClock(time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)), caller: &fakeCaller{}}
	cfg := verify.Config{
		Store: db, Messages: accept.New(accept.Config{Store: db, Clock: h.clock.Now}), Clock: h.clock.Now, Secret: []byte(testSecret), From: "+15005550006", Pool: "default",
		Limits: verify.DefaultLimits(), Pumping: verify.DefaultPumping(), Caller: h.caller,
		Fallback:      []switchboard.VerifyChannel{switchboard.VerifyWhatsApp, switchboard.VerifyCall},
		FallbackAfter: time.Minute, FallbackPoll: 5 * time.Second, ErrorCodes: &twilio.Provider{},
	}
	if adjust != nil {
		adjust(&cfg)
	}
	if h.svc, err = verify.New(cfg); err != nil {
		t.Fatal(err)
	}
	h.secret = "sb_test_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := db.CreateAPIKey(t.Context(), &switchboard.APIKey{ID: switchboard.NewID("key"), Name: "test", Hash: switchboard.HashAPIKeySecret(h.secret), CreatedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(api.New(api.Config{Store: db, Clock: h.clock.Now, Verify: h.svc}).Handler())
	t.Cleanup(h.srv.Close)
	return h
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (h *harness) do(method, path string, body any) answer {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+h.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return answer{resp.StatusCode, resp.Header, out}
}

func (h *harness) start(req map[string]any, want int) answer {
	h.t.Helper()
	a := h.do("POST", "/v1/verifications", req)
	if a.status != want {
		h.t.Fatalf("start %v: %d %v, want %d", req, a.status, a.body, want)
	}
	return a
}

var codeRe = regexp.MustCompile(`\b(\d{4,10})\b`)

// codeOf reads the code of the otp message the outbox holds for the verification's last SMS.
func (h *harness) codeOf(v map[string]any) string {
	h.t.Helper()
	sends, _ := v["send_attempts"].([]any)
	last, _ := sends[len(sends)-1].(map[string]any)
	id, _ := last["message_id"].(string)
	m, err := h.store.GetMessage(h.t.Context(), id)
	if err != nil {
		h.t.Fatalf("otp message %s: %v", id, err)
	}
	if m.Category != switchboard.CategoryOTP || m.Metadata["verification_id"] != v["id"] {
		h.t.Fatalf("otp message: %+v", m)
	}
	return codeRe.FindStringSubmatch(m.Body)[1]
}

// refused checks a refusal answer: status, code, Retry-After and a support reference that the
// refusals listing shows with reason.
func (h *harness) refused(a answer, status int, code, reason string, retryAfter bool) {
	h.t.Helper()
	if a.status != status || a.body["code"] != code {
		h.t.Fatalf("refusal: %d %v, want %d %s", a.status, a.body, status, code)
	}
	if a.header.Get("Content-Type") != "application/problem+json" {
		h.t.Fatalf("content type %q", a.header.Get("Content-Type"))
	}
	ra := a.header.Get("Retry-After")
	if n, err := strconv.Atoi(ra); retryAfter && (err != nil || n <= 0) || !retryAfter && ra != "" {
		h.t.Fatalf("Retry-After %q (want one: %v)", ra, retryAfter)
	}
	ref, _ := a.body["support_reference"].(string)
	if !strings.HasPrefix(ref, "ref_") || !strings.Contains(a.body["detail"].(string), ref) {
		h.t.Fatalf("support reference %q in %v", ref, a.body)
	}
	list := h.do("GET", "/v1/verifications/refusals?reason="+reason, nil)
	for _, r := range list.body["refusals"].([]any) {
		if r.(map[string]any)["id"] == ref {
			return
		}
	}
	h.t.Fatalf("refusal %s (%s) is not listed: %v", ref, reason, list.body)
}

func TestStartCheckApproved(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+1 415 555 0100", "user_ref": "u-1", "client_ip": "203.0.113.7"}, 201).body
	if v["status"] != "pending" || v["to"] != "+14155550100" || v["country"] != "US" || v["channel"] != "sms" || v["code_length"] != 6.0 {
		t.Fatalf("started: %v", v)
	}
	for _, secret := range []string{"code_hash", "code_salt", "code_sealed", "version"} {
		if _, ok := v[secret]; ok {
			t.Fatalf("%s is in the API answer", secret)
		}
	}
	code := h.codeOf(v)
	if len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	id := v["id"].(string)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r := h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": wrong})
	if r.status != 200 || r.body["valid"] != false || r.body["status"] != "pending" || r.body["checks"] != 1.0 {
		t.Fatalf("wrong code: %d %v", r.status, r.body)
	}
	r = h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": code})
	if r.status != 200 || r.body["valid"] != true || r.body["status"] != "approved" {
		t.Fatalf("right code: %d %v", r.status, r.body)
	}
	r = h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": code})
	if r.status != 409 || r.body["code"] != "verification_not_pending" {
		t.Fatalf("check after approval: %d %v", r.status, r.body)
	}
	evs, _ := h.store.ListAppEvents(t.Context(), switchboard.AppEventFilter{Limit: 100})
	var types []string
	for _, e := range evs {
		types = append(types, string(e.Type))
		if strings.Contains(string(e.Data), code) {
			t.Fatalf("event %s holds the code: %s", e.Type, e.Data)
		}
	}
	if strings.Join(types, ",") != "verification.started,verification.approved" {
		t.Fatalf("events %v", types)
	}
	for _, bad := range []map[string]any{{"code": "12"}, {"code": "12ab56"}, {"code": "12345678901"}} {
		if r := h.do("POST", "/v1/verifications/"+id+"/check", bad); r.status != 400 || r.body["code"] != "invalid_code" {
			t.Fatalf("check %v: %d %v", bad, r.status, r.body)
		}
	}
	if r := h.do("GET", "/v1/verifications/ver_nope", nil); r.status != 404 || r.body["code"] != "verification_not_found" {
		t.Fatalf("missing: %d %v", r.status, r.body)
	}
}

func TestBadStartRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Caller = nil })
	for _, c := range []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{}, 400, "missing_to"},
		{map[string]any{"to": "12"}, 400, "invalid_phone_number"},
		{map[string]any{"to": "+14155550100", "channel": "pigeon"}, 400, "invalid_channel"},
		{map[string]any{"to": "+14155550100", "client_ip": "1.2.3"}, 400, "invalid_client_ip"},
		{map[string]any{"to": "+14155550100", "locale": "en<script>"}, 400, "invalid_locale"},
		{map[string]any{"to": "+14155550100", "user_ref": strings.Repeat("u", 200)}, 400, "invalid_user_ref"},
		{map[string]any{"to": "+14155550100", "channel": "whatsapp"}, 422, "channel_not_enabled"},
		{map[string]any{"to": "+14155550100", "channel": "call"}, 422, "channel_not_enabled"},
		{map[string]any{"to": "+14155550100", "code": "123456"}, 400, "unknown_field"},
	} {
		a := h.do("POST", "/v1/verifications", c.body)
		if a.status != c.status || a.body["code"] != c.code {
			t.Errorf("%v: %d %v, want %d %s", c.body, a.status, a.body, c.status, c.code)
		}
	}
	// Nothing was stored by the refused requests.
	if p, _ := h.store.PendingVerification(t.Context(), "", "+14155550100", h.clock.Now()); p != nil {
		t.Fatalf("a bad request stored %v", p)
	}
}

func TestWrongCodesUpToMaxAttempts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+14155550101"}, 201).body
	code := h.codeOf(v)
	wrong := "999999"
	if code == wrong {
		wrong = "888888"
	}
	id := v["id"].(string)
	for i := 1; i <= 4; i++ {
		r := h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": wrong})
		if r.status != 200 || r.body["status"] != "pending" {
			t.Fatalf("wrong code %d: %d %v", i, r.status, r.body)
		}
	}
	r := h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": wrong})
	if r.status != 429 || r.body["code"] != "max_attempts_reached" {
		t.Fatalf("fifth wrong code: %d %v", r.status, r.body)
	}
	// Even the right code is refused now.
	r = h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": code})
	if r.status != 409 {
		t.Fatalf("right code after the limit: %d %v", r.status, r.body)
	}
	if g := h.do("GET", "/v1/verifications/"+id, nil); g.body["status"] != "max_attempts_reached" || g.body["checks"] != 5.0 {
		t.Fatalf("after: %v", g.body)
	}
	evs, _ := h.store.ListAppEvents(t.Context(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppVerificationFailed}})
	if len(evs) != 1 || !strings.Contains(string(evs[0].Data), `"max_attempts_reached"`) {
		t.Fatalf("failed events: %v", evs)
	}
}

// Concurrent wrong guesses never get more than MaxChecks checks between them.
func TestConcurrentChecksBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+14155550109"}, 201).body
	code := h.codeOf(v)
	id := v["id"].(string)
	var wg sync.WaitGroup
	var matched atomic.Int32
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			guess := strconv.Itoa(100000 + i)
			if guess == code {
				matched.Add(1)
			}
			h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": guess})
		}()
	}
	wg.Wait()
	got, _ := h.store.GetVerification(t.Context(), id)
	if got.Checks > 5 || got.Status == switchboard.VerificationPending {
		t.Fatalf("after 20 concurrent guesses: checks %d status %s", got.Checks, got.Status)
	}
}

func TestExpiryWithInjectedClock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+14155550102"}, 201).body
	code := h.codeOf(v)
	id := v["id"].(string)
	h.clock.Add(10 * time.Minute)
	if g := h.do("GET", "/v1/verifications/"+id, nil); g.body["status"] != "expired" {
		t.Fatalf("after 10 minutes: %v", g.body)
	}
	if r := h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": code}); r.status != 409 {
		t.Fatalf("check after expiry: %d %v", r.status, r.body)
	}
	// A new start gets a new verification with a new code.
	nv := h.start(map[string]any{"to": "+14155550102"}, 201).body
	if nv["id"] == id {
		t.Fatal("a start after expiry reused the expired verification")
	}
	// The worker expires pending verifications nobody reads.
	h.clock.Add(11 * time.Minute)
	if n, err := h.svc.RunDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("RunDue: %d %v", n, err)
	}
	got, _ := h.store.GetVerification(t.Context(), nv["id"].(string))
	if got.Status != switchboard.VerificationExpired {
		t.Fatalf("worker: %s", got.Status)
	}
}

func TestResendSendsTheSameCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+14155550103"}, 201).body
	code := h.codeOf(v)
	h.clock.Add(time.Minute)
	again := h.start(map[string]any{"to": "+14155550103"}, 200).body
	if again["id"] != v["id"] || again["sends"] != 2.0 {
		t.Fatalf("resend: %v", again)
	}
	if c := h.codeOf(again); c != code {
		t.Fatalf("resend sent %s, the first code was %s", c, code)
	}
	sends := again["send_attempts"].([]any)
	if sends[0].(map[string]any)["message_id"] == sends[1].(map[string]any)["message_id"] {
		t.Fatal("the resend did not send a new message")
	}
	// Up to MaxSends (5), then 429 max_sends_reached with Retry-After until expiry.
	for range 3 {
		h.start(map[string]any{"to": "+14155550103"}, 200)
	}
	a := h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550103"})
	h.refused(a, 429, "max_sends_reached", "max_sends_reached", true)
	if r := h.do("POST", "/v1/verifications/"+v["id"].(string)+"/check", map[string]any{"code": code}); r.body["status"] != "approved" {
		t.Fatalf("the one code still works: %v", r.body)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+14155550104"}, 201).body
	id := v["id"].(string)
	if r := h.do("POST", "/v1/verifications/"+id+"/cancel", nil); r.status != 200 || r.body["status"] != "canceled" {
		t.Fatalf("cancel: %d %v", r.status, r.body)
	}
	if r := h.do("POST", "/v1/verifications/"+id+"/cancel", nil); r.status != 409 {
		t.Fatalf("second cancel: %d %v", r.status, r.body)
	}
	if r := h.do("POST", "/v1/verifications/"+id+"/check", map[string]any{"code": h.codeOf(v)}); r.status != 409 {
		t.Fatalf("check after cancel: %d %v", r.status, r.body)
	}
}

func TestLimitPerPhone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Limits.Phone = []verify.Window{{2, time.Hour}} })
	h.start(map[string]any{"to": "+14155550110"}, 201)
	h.start(map[string]any{"to": "+14155550110"}, 200)
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550110"}), 429, "rate_limited", "rate_limited_phone", true)
	h.start(map[string]any{"to": "+14155550111"}, 201) // another number is not limited
}

func TestLimitPerClientIP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Limits.ClientIP = []verify.Window{{2, 10 * time.Minute}} })
	for _, to := range []string{"+14155550120", "+14155550121"} {
		h.start(map[string]any{"to": to, "client_ip": "198.51.100.7"}, 201)
	}
	a := h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550122", "client_ip": "198.51.100.7"})
	h.refused(a, 429, "rate_limited", "rate_limited_client_ip", true)
	if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra > 600 {
		t.Fatalf("Retry-After %d beyond the 10-minute window", ra)
	}
	h.start(map[string]any{"to": "+14155550122", "client_ip": "198.51.100.8"}, 201)
	// After the window, the address may start again.
	h.clock.Add(10 * time.Minute)
	h.start(map[string]any{"to": "+14155550123", "client_ip": "198.51.100.7"}, 201)
}

func TestLimitPerUserRef(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Limits.UserRef = []verify.Window{{1, time.Hour}} })
	h.start(map[string]any{"to": "+14155550130", "user_ref": "acct-9"}, 201)
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550131", "user_ref": "acct-9"}), 429, "rate_limited", "rate_limited_user_ref", true)
	h.start(map[string]any{"to": "+14155550131", "user_ref": "acct-10"}, 201)
}

func TestLimitPerCountry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Limits.Country = []verify.Window{{2, time.Hour}} })
	h.start(map[string]any{"to": "+14155550140"}, 201)
	h.start(map[string]any{"to": "+12125550141"}, 201)
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+13125550142"}), 429, "rate_limited", "rate_limited_country", true)
	h.start(map[string]any{"to": "+442071838750"}, 201) // GB has its own counter
}

func TestGeoPermissions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) {
		c.AllowedCountries = []string{"US", "CA"}
		c.SafeList = []string{"+442071838751"}
	})
	h.start(map[string]any{"to": "+14155550150"}, 201)
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+442071838750"}), 403, "country_not_allowed", "country_not_allowed", false)
	// The safe list bypasses limits, not geo permissions.
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+442071838751"}), 403, "country_not_allowed", "country_not_allowed", false)
	if p, _ := h.store.PendingVerification(t.Context(), "", "+442071838750", h.clock.Now()); p != nil {
		t.Fatal("a refused start stored a verification")
	}
}

func TestPumpingBurstToOnePrefix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) {
		c.Pumping = verify.Pumping{Window: time.Hour, Threshold: 5, RiskyThreshold: 2, BlockFor: 6 * time.Hour, DropDigits: 2}
	})
	// One approved start in the range does not count as unverified.
	ok := h.start(map[string]any{"to": "+14155550200"}, 201).body
	h.do("POST", "/v1/verifications/"+ok["id"].(string)+"/check", map[string]any{"code": h.codeOf(ok)})
	// A burst of unverified starts to +141555502xx: the sixth unverified one trips the rule.
	for i := 1; i <= 5; i++ {
		h.start(map[string]any{"to": "+141555502" + strconv.Itoa(10+i)}, 201)
	}
	a := h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550220"})
	h.refused(a, 429, "prefix_blocked", "pumping_suspected", true)
	if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra != 6*3600 {
		t.Fatalf("Retry-After %d, want the block's 6 h", ra)
	}
	// The whole prefix is blocked now, not other ranges.
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550299"}), 429, "prefix_blocked", "prefix_blocked", true)
	h.start(map[string]any{"to": "+14155550300"}, 201)
	// The alert event names the prefix and the refusal.
	evs, _ := h.store.ListAppEvents(t.Context(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppVerificationFraudAlert}})
	if len(evs) != 1 {
		t.Fatalf("fraud alerts: %d", len(evs))
	}
	var alert switchboard.FraudAlertData
	_ = json.Unmarshal(evs[0].Data, &alert)
	if alert.Prefix != "+141555502" || alert.RefusalID != a.body["support_reference"] {
		t.Fatalf("alert: %+v", alert)
	}
	// The block ends.
	h.clock.Add(6 * time.Hour)
	h.start(map[string]any{"to": "+14155550221"}, 201)
}

func TestPumpingRiskyRange(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) {
		c.Pumping = verify.Pumping{Window: time.Hour, Threshold: 50, RiskyThreshold: 2, BlockFor: time.Hour, DropDigits: 2}
	})
	// +44 909 numbers are premium rate: the low threshold applies.
	for _, to := range []string{"+449098790101", "+449098790102"} {
		h.start(map[string]any{"to": to}, 201)
	}
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+449098790103"}), 429, "prefix_blocked", "pumping_suspected", true)
}

func TestSafeListBypassesLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) {
		c.Limits = verify.Limits{Phone: []verify.Window{{1, time.Hour}}, ClientIP: []verify.Window{{1, time.Hour}}}
		c.Pumping = verify.Pumping{Window: time.Hour, Threshold: 1, RiskyThreshold: 1, BlockFor: time.Hour, DropDigits: 2}
		c.SafeList = []string{"+14155550160", "+1415555017*"}
		c.MaxSends = 50
	})
	for i := range 5 {
		want := 200 // resends of the pending verification
		if i == 0 {
			want = 201
		}
		h.start(map[string]any{"to": "+14155550160", "client_ip": "192.0.2.1"}, want)
	}
	for _, to := range []string{"+14155550171", "+14155550172", "+14155550173"} {
		h.start(map[string]any{"to": to, "client_ip": "192.0.2.1"}, 201)
	}
	// Off the list, the limits hold.
	h.start(map[string]any{"to": "+14155550180", "client_ip": "192.0.2.2"}, 201)
	h.refused(h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550181", "client_ip": "192.0.2.2"}), 429, "rate_limited", "rate_limited_client_ip", true)
}

// Starts at once for one number (a double click) make one verification and one code.
func TestConcurrentStartsOneVerification(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.MaxSends, c.Limits = 20, verify.Limits{} })
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := h.do("POST", "/v1/verifications", map[string]any{"to": "+14155550190"})
			if a.status != 201 && a.status != 200 {
				t.Errorf("start: %d %v", a.status, a.body)
				return
			}
			ids[i], _ = a.body["id"].(string)
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent starts made several verifications: %v", ids)
		}
	}
	v, _ := h.store.GetVerification(t.Context(), ids[0])
	seen := map[string]bool{}
	for _, s := range v.SendAttempts {
		m, err := h.store.GetMessage(t.Context(), s.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		seen[codeRe.FindStringSubmatch(m.Body)[1]] = true
	}
	if v.Sends != 8 || len(v.SendAttempts) != 8 || len(seen) != 1 {
		t.Fatalf("sends %d, attempts %d, distinct codes %d", v.Sends, len(v.SendAttempts), len(seen))
	}
}

// A pending verification that expired unread does not stand in the way of a new one.
func TestStaleVerificationReplaced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	old := h.start(map[string]any{"to": "+14155550191"}, 201).body
	h.clock.Add(11 * time.Minute)
	nv := h.start(map[string]any{"to": "+14155550191"}, 201).body
	if nv["id"] == old["id"] {
		t.Fatal("the expired verification was reused")
	}
	if g, _ := h.store.GetVerification(t.Context(), old["id"].(string)); g.Status != switchboard.VerificationExpired {
		t.Fatalf("the stale one: %s", g.Status)
	}
}
