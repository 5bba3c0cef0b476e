package acceptance

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// verification is the part of the API's verification a journey checks.
type verification struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	To     string `json:"to"`
	Sends  int    `json:"sends"`
	Valid  *bool  `json:"valid"`
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// TestSignupCodes: 200 people sign up with one-time codes, some mistype it, some ask for a
// resend; serve is SIGKILLed half-way and the codes sent before still check after the restart.
// One number hits the per-phone limit, one client address the per-IP limit (429 with
// Retry-After and a support reference), and a pumping pattern on one number range is refused.
// No code ever shows in serve's output.
func TestSignupCodes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{
		yaml: "senders:\n  - from: \"+15005550006\"\n    kind: short_code\n    rate: -1\n",
		env: map[string]string{
			"SWITCHBOARD_VERIFY_LIMIT_PHONE": "4/10m", "SWITCHBOARD_VERIFY_LIMIT_CLIENT_IP": "25/1h",
			"SWITCHBOARD_VERIFY_PUMPING_THRESHOLD": "12", "SWITCHBOARD_VERIFY_FALLBACK": "none",
			"SWITCHBOARD_LOG_LEVEL": "debug",
		},
	})
	npas := []string{"212", "312", "415", "617", "713", "305", "404", "503", "206", "303",
		"512", "615", "702", "801", "919", "214", "602", "310", "718", "720"}
	const signups = 200
	phone := func(i int) string { return fmt.Sprintf("+1%s555%04d", npas[i%len(npas)], 100+i/len(npas)) }
	ip := func(i int) string { return fmt.Sprintf("198.51.100.%d", 1+i%20) }

	// code reads the code the phone received (the newest message to it at the simulator).
	var codesMu sync.Mutex
	codes := map[string]bool{}
	code := func(to string) string {
		var c string
		waitFor(t, 30*time.Second, "a code at "+to, func() bool {
			var out struct {
				Messages []simMessage `json:"messages"`
			}
			s.simGet("/sim/v1/messages?to="+url.QueryEscape(to), &out)
			for _, m := range out.Messages {
				if mm := codeRE.FindStringSubmatch(m.Body); mm != nil {
					c = mm[1]
				}
			}
			return c != ""
		})
		codesMu.Lock()
		codes[c] = true
		codesMu.Unlock()
		return c
	}
	start := func(to, clientIP string) apiResponse {
		return s.api("POST", "/v1/verifications", map[string]any{"to": to, "client_ip": clientIP, "user_ref": "user-" + to})
	}
	check := func(id, c string) verification {
		var v verification
		s.mustAPI(200, "POST", "/v1/verifications/"+id+"/check", map[string]any{"code": c}, &v)
		return v
	}
	ids := make([]string, signups)
	signup := func(i int) {
		r := start(phone(i), ip(i))
		if r.status != 201 {
			t.Errorf("signup %d (%s): %d %s", i, phone(i), r.status, r.body)
			return
		}
		var v verification
		r.decode(t, &v)
		ids[i] = v.ID
		c := code(phone(i))
		wrong := fmt.Sprintf("%06d", (mustAtoi(c)+1)%1000000)
		if got := check(v.ID, wrong); got.Valid == nil || *got.Valid || got.Status != "pending" {
			t.Errorf("signup %d: a wrong code answers %+v", i, got)
		}
		if i%4 == 0 { // "I did not get it": a resend, the same code
			r := start(phone(i), ip(i))
			var again verification
			r.decode(t, &again)
			if r.status != 200 || again.ID != v.ID || again.Sends != 2 {
				t.Errorf("signup %d: resend answers %d %s", i, r.status, r.body)
			}
		}
	}
	finish := func(i int) {
		if ids[i] == "" || i%10 == 9 { // one in ten never types the code
			return
		}
		if got := check(ids[i], code(phone(i))); got.Valid == nil || !*got.Valid || got.Status != "approved" {
			t.Errorf("signup %d: the right code answers %+v", i, got)
		}
	}
	began := time.Now()
	for i := 0; i < signups/2; i++ {
		signup(i)
	}
	// serve dies with half the people holding a code they have not typed yet.
	s.nodes[0].p.kill9()
	s.restart(0)
	concurrently(signups/2, 10, func(k int) { signup(signups/2 + k) })
	concurrently(signups, 10, finish)
	t.Logf("%d signups in %v", signups, time.Since(began).Round(time.Millisecond))

	// Every verification ended as its person left it, and each phone got exactly one text per
	// send the verification counts (a start, a resend): nothing went twice, across the kill.
	sims := s.simOutbound()
	perPhone := map[string]int{}
	for _, m := range sims {
		perPhone[m.To]++
	}
	for i, id := range ids {
		if id == "" {
			continue
		}
		var v verification
		s.mustAPI(200, "GET", "/v1/verifications/"+id, nil, &v)
		want := "approved"
		if i%10 == 9 {
			want = "pending"
		}
		if v.Status != want {
			t.Errorf("signup %d ended %s, want %s", i, v.Status, want)
		}
		if wantSends := 1 + btoi(i%4 == 0); v.Sends != wantSends || perPhone[v.To] != wantSends {
			t.Errorf("signup %d: %d sends recorded, %d texts at the simulator, want %d", i, v.Sends, perPhone[v.To], wantSends)
		}
	}
	if want := signups + signups/4; len(sims) != want {
		t.Errorf("the simulator holds %d code messages, want %d", len(sims), want)
	}

	// Limits. One phone: the fifth start within ten minutes is refused.
	limited := "+13125559999"
	for k := range 4 {
		if r := start(limited, "192.0.2.200"); r.status != 201 && r.status != 200 {
			t.Fatalf("start %d to %s: %d %s", k, limited, r.status, r.body)
		}
	}
	r := start(limited, "192.0.2.200")
	checkRefusal(t, r, "rate_limited")
	// One client address: the 26th start within the hour is refused, whatever the number.
	for k := range 25 {
		if r := start(fmt.Sprintf("+1%s555%04d", npas[k%5], 190+k/5), "203.0.113.9"); r.status != 201 {
			t.Fatalf("per-IP start %d: %d %s", k, r.status, r.body)
		}
	}
	checkRefusal(t, start("+12065550199", "203.0.113.9"), "rate_limited")
	// Pumping: a run of starts to one number range that nobody verifies; the range gets blocked.
	blocked := 0
	for k := range 20 {
		r := start(fmt.Sprintf("+1646555%04d", 100+k), fmt.Sprintf("192.0.2.%d", k+1))
		switch {
		case r.status == 201:
		case r.status == 429 && r.problemCode() == "prefix_blocked":
			checkRefusal(t, r, "prefix_blocked")
			blocked++
		default:
			t.Errorf("pumping start %d: %d %s", k, r.status, r.body)
		}
	}
	if blocked == 0 {
		t.Errorf("20 unverified starts to +1646555… were never refused as pumping")
	}

	// The operator sees the refusals, by reason, in the API, the CLI and the metrics.
	var refusals struct {
		Refusals []struct {
			Reason            string `json:"reason"`
			To                string `json:"to"`
			RetryAfterSeconds int    `json:"retry_after_seconds"`
		} `json:"refusals"`
	}
	s.mustAPI(200, "GET", "/v1/verifications/refusals?limit=500", nil, &refusals)
	reasons := map[string]int{}
	for _, rf := range refusals.Refusals {
		reasons[rf.Reason]++
	}
	if reasons["rate_limited_phone"] != 1 || reasons["rate_limited_client_ip"] != 1 || reasons["pumping_suspected"] != 1 ||
		reasons["prefix_blocked"] != blocked-1 {
		t.Errorf("refusals by reason: %v (want one per limit and %d for the blocked range)", reasons, blocked)
	}
	if out := s.cli("verify", "refusals"); !strings.Contains(out, "prefix_blocked") || !strings.Contains(out, "rate_limited_phone") ||
		!strings.Contains(out, "rate_limited_client_ip") {
		t.Errorf("switchboard verify refusals:\n%s", out)
	}
	if n := s.metricSum(0, "switchboard_verification_refusals_total", `reason="p`); n != float64(blocked) {
		t.Errorf("switchboard_verification_refusals_total{reason=\"p…\"} = %v, want %d", n, blocked)
	}
	if n := s.metricSum(0, "switchboard_verifications_approved_total"); n < 80 { // since the restart
		t.Errorf("switchboard_verifications_approved_total = %v", n)
	}

	// No code in any log line serve wrote, at debug level, across the kill.
	logs := s.serveLogs()
	codesMu.Lock()
	defer codesMu.Unlock()
	tokens := map[string]bool{}
	for _, tok := range regexp.MustCompile(`[0-9A-Za-z]+`).FindAllString(logs, -1) {
		tokens[tok] = true
	}
	for c := range codes {
		if tokens[c] {
			t.Errorf("a code (%s…) is in serve's output", c[:2])
		}
	}
	if len(codes) < signups/2 {
		t.Errorf("only %d distinct codes seen", len(codes))
	}
}

// checkRefusal checks a refused start: 429 with the reason's code, Retry-After in seconds and a
// support reference.
func checkRefusal(t *testing.T, r apiResponse, code string) {
	t.Helper()
	if r.status != 429 || r.problemCode() != code {
		t.Errorf("want 429 %s, got %d %s", code, r.status, r.body)
		return
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n <= 0 {
		t.Errorf("429 %s with Retry-After %q", code, r.header.Get("Retry-After"))
	}
	if !strings.Contains(string(r.body), "support_reference") {
		t.Errorf("429 %s without a support reference: %s", code, r.body)
	}
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
