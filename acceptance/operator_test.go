package acceptance

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestOperator: an operator's day at the dashboard and the CLI. The applications send 20
// messages of each kind — delivered, failed (invalid number), blocked by the provider (the
// person opted out), canceled before they went — with serve SIGKILLed in the middle. The
// operator logs in, finds failed messages by number, provider SID and metadata, traces them,
// retries only where retrying can help (once, however often the button is pressed), exports,
// creates and revokes an API key, and records and clears a consent choice.
func TestOperator(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{yaml: "senders:\n  - from: \"+15005550006\"\n    kind: short_code\n    rate: 40\n"})
	const n = 20
	kinds := []struct {
		name, to, want string
	}{
		{"delivered", "+1504555%04d", "delivered"},
		{"invalid", "+15005550001", "failed"},
		{"opted-out", "+1504557%04d", "blocked"}, // scheduled, then the person texts STOP
		{"canceled", "+1504556%04d", "canceled"},
	}
	ids := map[string][]string{}
	var mu sync.Mutex
	sendKind := func(k, i int) {
		kd := kinds[k]
		to := kd.to
		if strings.Contains(to, "%") {
			to = fmt.Sprintf(to, 100+i)
		}
		body := map[string]any{"to": to, "body": fmt.Sprintf("Your order %s-%d has shipped.", kd.name, i),
			"metadata": map[string]string{"ticket": fmt.Sprintf("T-%s-%d", kd.name, i)}}
		switch kd.name {
		case "canceled":
			body["send_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		case "opted-out":
			body["send_at"] = time.Now().Add(12 * time.Second).UTC().Format(time.RFC3339)
		}
		m := s.send(fmt.Sprintf("%s-%d", kd.name, i), body)
		switch kd.name {
		case "canceled":
			s.mustAPI(200, "POST", "/v1/messages/"+m.ID+"/cancel", nil, nil)
		case "opted-out":
			s.text(to, "+15005550006", "STOP")
		}
		mu.Lock()
		ids[kd.name] = append(ids[kd.name], m.ID)
		mu.Unlock()
	}
	began := time.Now()
	for i := 0; i < n/2; i++ { // one after the other…
		for k := range kinds {
			sendKind(k, i)
		}
	}
	s.nodes[0].p.kill9()
	s.restart(0)
	concurrently(len(kinds)*n/2, 12, func(j int) { sendKind(j%len(kinds), n/2+j/len(kinds)) }) // …and at once
	// And one the provider refuses because the person opted out at the carrier (21610).
	carrier := s.send("carrier-optout", map[string]any{"to": "+15005550004", "body": "Your order has shipped.",
		"metadata": map[string]string{"ticket": "T-carrier"}})
	var all []string
	for _, list := range ids {
		all = append(all, list...)
	}
	all = append(all, carrier.ID)
	final := s.waitTerminal(90*time.Second, all)
	for _, kd := range kinds {
		if len(ids[kd.name]) != n {
			t.Fatalf("%d %s messages, want %d", len(ids[kd.name]), kd.name, n)
		}
		for _, id := range ids[kd.name] {
			if got := final[id].Status; got != kd.want {
				t.Errorf("%s message %s ended %s, want %s", kd.name, id, got, kd.want)
			}
		}
	}
	if m := final[carrier.ID]; m.Status != "blocked" || m.ErrorCode != 21610 {
		t.Errorf("the message to the carrier-opted-out number ended %s (%d), want blocked 21610", m.Status, m.ErrorCode)
	}
	sims := s.simOutbound()
	noDuplicates(t, sims)
	if len(sims) != 2*n { // the deliverable ones and the opt-out confirmations
		t.Errorf("the simulator holds %d messages, want %d", len(sims), 2*n)
	}

	// trace explains a failure with its error code.
	failed := final[ids["invalid"][3]]
	if out := s.cli("trace", failed.ID); !strings.Contains(out, "21211") || !strings.Contains(out, "failed") {
		t.Errorf("trace of a failed message:\n%s", out)
	}
	delivered := final[ids["delivered"][4]]

	// Keys: a new key works at once; revoked, it stops working within the documented 10 seconds.
	out := s.cli("keys", "create", "--name", "night-shift")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret, keyID := lines[len(lines)-1], strings.Fields(lines[0])[3]
	withKey := func(key string) int {
		req, _ := http.NewRequest("GET", s.apiURL+"/v1/messages?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := withKey(secret); code != 200 {
		t.Errorf("a new key answers %d", code)
	}
	if list := s.cli("keys", "list"); !strings.Contains(list, keyID) || !strings.Contains(list, "night-shift") {
		t.Errorf("keys list:\n%s", list)
	}
	if out := s.cli("keys", "revoke", keyID); !strings.Contains(out, keyID) {
		t.Errorf("keys revoke: %s", out)
	}
	waitFor(t, 15*time.Second, "the revoked key refused", func() bool { return withKey(secret) == 401 })

	// Consent: the operator records an opt-out from a phone call, the API refuses, then clears it.
	person := "+15045550150"
	s.cli("consent", "set", person, "--state", "opted_out", "--evidence", "phone call, ticket 8812")
	if r := s.api("POST", "/v1/messages", map[string]any{"to": person, "body": "hello"}, "Idempotency-Key", "after-optout"); r.status != 422 || r.problemCode() != "recipient_opted_out" {
		t.Errorf("a text after the operator's opt-out: %d %s", r.status, r.body)
	}
	if out := s.cli("consent", "get", person); !strings.Contains(out, "opted_out") || !strings.Contains(out, "ticket 8812") {
		t.Errorf("consent get:\n%s", out)
	}
	s.cli("consent", "clear", person)
	back := s.send("after-clear", map[string]any{"to": person, "body": "Welcome back"})

	// Export: every message, with the full numbers (an audit export).
	csv := s.cli("export", "messages", "--format", "csv")
	for _, id := range append(append([]string{}, all...), back.ID) {
		if !strings.Contains(csv, id) {
			t.Errorf("export messages lacks %s", id)
			break
		}
	}
	if out := s.cli("export", "consent", "--format", "jsonl", "--since", "2020-01-01"); !strings.Contains(out, person) || !strings.Contains(out, "+15005550004") {
		t.Errorf("export consent:\n%s", out)
	}

	// The dashboard.
	b, end := s.openDashboard(t.Name())
	defer end()
	rows := func() int {
		k, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('main a[href^="/ui/messages/msg_"]').length`))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	b.search("+15005550001") // by number: the 20 failed ones
	if k := rows(); k != n {
		t.Errorf("searching the invalid number lists %d messages, want %d", k, n)
	}
	b.shot("01-by-number")
	b.search(delivered.ProviderSID) // by Twilio's SID
	if k := rows(); k != 1 || !b.has(`a[href="/ui/messages/`+delivered.ID+`"]`) {
		t.Errorf("searching the SID %s lists %d messages", delivered.ProviderSID, k)
	}
	b.shot("02-by-sid")
	// By metadata: the application's ticket number is what a support agent has (key=value).
	b.open("/ui/messages")
	b.do("search by metadata", chromedp.SendKeys(chromedp.ID("q"), "ticket=T-invalid-3"), chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="ticket=T-invalid-3"]`)))
	if !b.has(`a[href="/ui/messages/` + failed.ID + `"]`) {
		t.Errorf("searching the metadata value T-invalid-3 does not find message %s (the dashboard cannot search metadata)", failed.ID)
	}
	b.shot("03-by-metadata")

	// Retry only where it can help: not for an invalid number, nor for a person who opted out.
	retryButton := `form[action$="/retry"] button`
	for i, id := range []string{failed.ID, ids["opted-out"][0], carrier.ID} {
		b.open("/ui/messages/" + id)
		if b.has(retryButton) {
			t.Errorf("the dashboard offers to retry %s (%s), which would fail the same way", id, final[id].Status)
		}
		b.shot(fmt.Sprintf("04-no-retry-%d-%s-%d", i, final[id].Status, final[id].ErrorCode))
	}
	// A message canceled by mistake: retry it, pressing the button twice.
	canceled := ids["canceled"][0]
	b.open("/ui/messages/" + canceled)
	if !b.has(retryButton) {
		t.Fatalf("no retry offered for a canceled message")
	}
	b.do("retry", chromedp.Click(chromedp.CSS(retryButton)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	retryURL, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	b.shot("05-retried")
	b.do("back", chromedp.Navigate(b.base+"/ui/messages/"+canceled), chromedp.WaitVisible(chromedp.CSS("main")))
	if b.has(retryButton) { // the same retry again: it lands on the first retry
		b.do("retry again", chromedp.Click(chromedp.CSS(retryButton)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	}
	retryID := strings.TrimPrefix(strings.SplitN(retryURL, "?", 2)[0], b.base+"/ui/messages/")
	if !strings.HasPrefix(retryID, "msg_") {
		t.Fatalf("after retry the browser is at %s", retryURL)
	}
	rm := s.waitTerminal(30*time.Second, []string{retryID})[retryID]
	if rm.Status != "delivered" || rm.Metadata["retry_of"] != canceled || rm.Metadata["ticket"] != "T-canceled-0" {
		t.Errorf("the retry %s: %s, metadata %v", retryID, rm.Status, rm.Metadata)
	}
	toCanceled := final[canceled].To
	k := 0
	for _, m := range s.simOutbound() {
		if m.To == toCanceled {
			k++
		}
	}
	if k != 1 {
		t.Errorf("the retried message reached the simulator %d times, want once", k)
	}
	b.open("/ui/optouts")
	if page := b.text("main"); !strings.Contains(page, "*****04") && !strings.Contains(page, "+15005550004") {
		t.Errorf("the opt-outs page lacks the number the provider reported opted out:\n%s", page)
	}
	b.shot("06-optouts")
	b.open("/ui/failures")
	if page := b.text("main"); !strings.Contains(page, "21211") || !strings.Contains(page, "21610") {
		t.Errorf("the failures page lacks 21211 or 21610:\n%s", page)
	}
	b.shot("07-failures")

	if got := s.metricSum(0, "switchboard_messages_finished_total", `status="failed"`); got < n/2 {
		t.Errorf("switchboard_messages_finished_total{status=\"failed\"} = %v since the restart", got)
	}
	t.Logf("operator: %d messages, in %v", len(all), time.Since(began).Round(time.Millisecond))
}
