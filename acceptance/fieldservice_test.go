package acceptance

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fieldServiceYAML: one short code sending at 40 segments a second, the default pool.
const fieldServiceYAML = `senders:
  - from: "+15005550006"
    kind: short_code
    rate: 40
    burst: 5
`

// TestFieldServiceDay is a field-service company's day on one node with SQLite: 50 technicians
// get their job (English or Spanish template), its update and a reminder that is scheduled and
// moved twice (cancel and a new message: the API has no update of send_at), their clients get
// "on my way" and "job completed"; serve is SIGKILLed while it sends; one technician texts STOP
// and gets nothing more until START.
func TestFieldServiceDay(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{yaml: fieldServiceYAML, templates: true})
	fieldServiceDay(t, s, 0)
}

// send posts a message with an idempotency key and returns it (202).
func (s *stack) send(idem string, body map[string]any) message {
	s.t.Helper()
	var m message
	s.mustAPI(http.StatusAccepted, "POST", "/v1/messages", body, &m, "Idempotency-Key", idem)
	return m
}

// fieldServiceDay runs the day on s; killNode is the node SIGKILLed in the middle.
func fieldServiceDay(t *testing.T, s *stack, killNode int) {
	const techs = 50
	const stopTech = 7
	tech := func(i int) string { return fmt.Sprintf("+1415555%04d", 100+i) }
	client := func(i int) string { return fmt.Sprintf("+1212555%04d", 100+i) }
	locale := func(i int) string {
		if i%2 == 1 {
			return "es"
		}
		return "en"
	}
	job := func(i int) string { return fmt.Sprintf("J-%05d", 10000+i) }
	reminderBody := func(i, v int) string {
		return fmt.Sprintf("Reminder: job %s, visit %d of the day (schedule v%d).", job(i), i, v)
	}
	var mu sync.Mutex
	delivered := []string{}           // IDs that must end delivered
	canceled := []string{}            // reminders moved away
	finalReminder := map[int]string{} // technician → last reminder's ID
	keep := func(list *[]string, id string) { mu.Lock(); *list = append(*list, id); mu.Unlock() }

	// Both ways a dispatcher's system talks to Switchboard: one job after the other, and many at once.
	each := func(f func(i int)) {
		for i := 0; i < techs/2; i++ {
			f(i)
		}
		concurrently(techs-techs/2, 10, func(k int) { f(techs/2 + k) })
	}
	day := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)

	// Morning: every job is assigned, with its reminder.
	started := time.Now()
	each(func(i int) {
		m := s.send("assign-"+job(i), map[string]any{"to": tech(i), "template": "job_assigned", "locale": locale(i),
			"variables": map[string]string{"job_id": job(i), "service": "Boiler service", "address": fmt.Sprintf("%d Elm St, Springfield", i+1),
				"date": day, "time": "09:30", "link": "https://app.example.com/jobs/" + job(i)},
			"metadata": map[string]string{"job": job(i)}})
		keep(&delivered, m.ID)
		r := s.send("reminder-v1-"+job(i), map[string]any{"to": tech(i), "body": reminderBody(i, 1),
			"send_at": time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339), "metadata": map[string]string{"job": job(i)}})
		if r.Status != "scheduled" {
			t.Errorf("reminder of %s is %s, want scheduled", job(i), r.Status)
		}
		mu.Lock()
		finalReminder[i] = r.ID
		mu.Unlock()
	})

	// The jobs move: an update, and the reminder moves with it (cancel, schedule anew).
	move := func(i, v int, at time.Time) {
		mu.Lock()
		prev := finalReminder[i]
		mu.Unlock()
		var c message
		s.mustAPI(200, "POST", "/v1/messages/"+prev+"/cancel", nil, &c)
		if c.Status != "canceled" {
			t.Errorf("moving the reminder of %s: the previous one is %s", job(i), c.Status)
		}
		keep(&canceled, prev)
		r := s.send(fmt.Sprintf("reminder-v%d-%s", v, job(i)), map[string]any{"to": tech(i), "body": reminderBody(i, v),
			"send_at": at.UTC().Format(time.RFC3339Nano), "metadata": map[string]string{"job": job(i)}})
		mu.Lock()
		finalReminder[i] = r.ID
		mu.Unlock()
	}
	each(func(i int) {
		m := s.send("update-"+job(i), map[string]any{"to": tech(i), "template": "job_updated", "locale": locale(i),
			"variables": map[string]string{"job_id": job(i), "change": "rescheduled", "date": day, "time": "11:00",
				"address": fmt.Sprintf("%d Elm St, Springfield", i+1), "link": "https://app.example.com/jobs/" + job(i)},
			"metadata": map[string]string{"job": job(i)}})
		keep(&delivered, m.ID)
		move(i, 2, time.Now().Add(5*time.Minute))
	})

	// Serve dies without warning while it sends, and comes back on the same database.
	waitFor(t, 60*time.Second, "the day's first texts at the simulator", func() bool { return len(s.simOutbound()) >= 40 })
	atKill := len(s.simOutbound())
	s.nodes[killNode].p.kill9()
	if len(s.nodes) == 1 {
		s.restart(killNode)
	}
	t.Logf("SIGKILL with %d messages at the simulator (%v into the day)", atKill, time.Since(started).Round(time.Millisecond))

	// The afternoon moves every job once more: the reminders now go in a few seconds, all at once.
	// Technician 7 texts STOP right after his reminder moved, once his job and its update
	// reached him, long before the reminder is due: it must not reach him.
	var cons struct {
		Current map[string]struct {
			State string    `json:"state"`
			At    time.Time `json:"at"`
		} `json:"current"`
	}
	stop := func() {
		mu.Lock()
		var his []string
		for _, id := range delivered {
			if m := s.message(id); m.To == tech(stopTech) {
				his = append(his, id)
			}
		}
		mu.Unlock()
		s.waitTerminal(60*time.Second, his)
		s.text(tech(stopTech), "+15005550006", "STOP")
		waitFor(t, 20*time.Second, "the opt-out recorded", func() bool {
			s.mustAPI(200, "GET", "/v1/consent/"+tech(stopTech), nil, &cons)
			return cons.Current["default"].State == "opted_out"
		})
	}
	final := time.Now().Add(12 * time.Second)
	each(func(i int) {
		move(i, 3, final)
		if i == stopTech {
			stop()
		}
	})
	stopAt := cons.Current["default"].At
	if !stopAt.Before(final) {
		t.Fatalf("the STOP came after the reminders were due (the machine is too slow for this journey)")
	}
	// Sending to him is refused while he is opted out.
	r := s.api("POST", "/v1/messages", map[string]any{"to": tech(stopTech), "body": "Extra job for you"}, "Idempotency-Key", "extra-after-stop")
	if r.status != 422 || r.problemCode() != "recipient_opted_out" {
		t.Errorf("a text to an opted-out technician: %d %s, want 422 recipient_opted_out", r.status, r.body)
	}

	// On the way and completed, to the clients.
	each(func(i int) {
		m := s.send("onway-"+job(i), map[string]any{"to": client(i), "template": "technician_on_the_way", "locale": locale(i),
			"variables": map[string]string{"company": "Acme Heating", "technician": fmt.Sprintf("Tech %d", i), "eta": "10:45",
				"link": "https://track.example.com/v/" + job(i)}, "metadata": map[string]string{"job": job(i)}})
		keep(&delivered, m.ID)
		m = s.send("done-"+job(i), map[string]any{"to": client(i), "template": "job_completed", "locale": locale(i),
			"variables": map[string]string{"company": "Acme Heating", "job_id": job(i), "amount": "189.50", "currency": "USD",
				"link": "https://app.example.com/rate/" + job(i)}, "metadata": map[string]string{"job": job(i)}})
		keep(&delivered, m.ID)
	})

	// Every reminder ends: delivered at the last time, or blocked for the technician who opted out.
	reminders := []string{}
	for i := range techs {
		reminders = append(reminders, finalReminder[i])
	}
	final2 := s.waitTerminal(90*time.Second, reminders)
	for i, id := range reminders {
		want := "delivered"
		if i == stopTech {
			want = "blocked"
		}
		if got := final2[id].Status; got != want {
			t.Errorf("last reminder of %s (%s) is %s, want %s", job(i), id, got, want)
		}
	}

	// START brings him back: the next job reaches him.
	s.text(tech(stopTech), "+15005550006", "START")
	waitFor(t, 20*time.Second, "the opt-in recorded", func() bool {
		s.mustAPI(200, "GET", "/v1/consent/"+tech(stopTech), nil, &cons)
		return cons.Current["default"].State == "opted_in"
	})
	startAt := time.Now()
	back := s.send("assign-again-"+job(stopTech), map[string]any{"to": tech(stopTech), "template": "job_assigned", "locale": locale(stopTech),
		"variables": map[string]string{"job_id": "J-99999", "service": "Boiler service", "address": "1 Oak St, Springfield",
			"date": day, "time": "16:00", "link": "https://app.example.com/jobs/J-99999"}})
	keep(&delivered, back.ID)

	all := s.waitTerminal(90*time.Second, append(append([]string{}, delivered...), canceled...))
	for _, id := range delivered {
		if all[id].Status != "delivered" {
			t.Errorf("%s to %s ended %s (%d), want delivered; timeline:\n%s", id, all[id].To, all[id].Status, all[id].ErrorCode, s.cli("messages", "get", id))
		}
	}
	for _, id := range canceled {
		if all[id].Status != "canceled" {
			t.Errorf("moved reminder %s ended %s, want canceled", id, all[id].Status)
		}
	}

	// What the phones received: everything once, each reminder once at its last time, nothing to
	// technician 7 between STOP and START but the opt-out confirmation.
	sims := s.simOutbound()
	noDuplicates(t, sims)
	want := len(delivered) + (techs - 1) + 2 // + reminders + the opt-out and opt-in confirmations
	if len(sims) != want {
		t.Errorf("the simulator holds %d messages, want %d", len(sims), want)
	}
	perTech := map[string][]simMessage{}
	for _, m := range sims {
		perTech[m.To] = append(perTech[m.To], m)
	}
	for i := range techs {
		var rem []simMessage
		for _, m := range perTech[tech(i)] {
			if strings.HasPrefix(m.Body, "Reminder:") {
				rem = append(rem, m)
			}
		}
		switch {
		case i == stopTech && len(rem) != 0:
			t.Errorf("technician %d opted out and got %d reminders", i, len(rem))
		case i != stopTech && len(rem) != 1:
			t.Errorf("technician %d got %d reminders, want 1", i, len(rem))
		case i != stopTech:
			if rem[0].Body != reminderBody(i, 3) {
				t.Errorf("technician %d got the reminder %q, want the last schedule's", i, rem[0].Body)
			}
			if rem[0].DateCreated.Before(final.Add(-time.Second)) {
				t.Errorf("technician %d's reminder was sent at %v, before its time %v", i, rem[0].DateCreated, final)
			}
		}
		assigned := false
		for _, m := range perTech[tech(i)] {
			if strings.Contains(m.Body, job(i)) && (strings.HasPrefix(m.Body, "New job") || strings.HasPrefix(m.Body, "Nuevo trabajo")) {
				assigned = true
				if es := strings.HasPrefix(m.Body, "Nuevo trabajo"); es != (locale(i) == "es") {
					t.Errorf("technician %d (locale %s) got %q", i, locale(i), m.Body)
				}
			}
		}
		if !assigned {
			t.Errorf("technician %d never got job %s", i, job(i))
		}
	}
	// The opt-in confirmation ("...re-subscribed...") can reach the simulator before startAt:
	// it is queued while the START is handled, before the test sees the opt-in recorded.
	for _, m := range perTech[tech(stopTech)] {
		body := strings.ToLower(m.Body)
		if m.DateCreated.After(stopAt) && m.DateCreated.Before(startAt) && !strings.Contains(body, "unsubscribed") &&
			!strings.Contains(body, "re-subscribed") && !strings.Contains(body, "start") {
			t.Errorf("technician %d got %q between STOP and START", stopTech, m.Body)
		}
	}

	// What the operator sees. trace: the reminder went at its time, the blocked one says why.
	okTrace := s.cli("trace", finalReminder[0])
	for _, w := range []string{finalReminder[0], "delivered", "scheduled"} {
		if !strings.Contains(okTrace, w) {
			t.Errorf("trace of a reminder lacks %q:\n%s", w, okTrace)
		}
	}
	blockedTrace := s.cli("trace", finalReminder[stopTech])
	if !strings.Contains(blockedTrace, "blocked") || !strings.Contains(strings.ToLower(blockedTrace), "opt") {
		t.Errorf("trace of the blocked reminder does not say it was blocked by the opt-out:\n%s", blockedTrace)
	}
	// Metrics of the node that took the STOP (node 0 gets the numbers' webhooks, or the balancer's).
	var optOuts, accepted float64
	for i := range s.nodes {
		if i == killNode && len(s.nodes) > 1 {
			continue
		}
		optOuts += s.metricSum(i, "switchboard_opt_outs_total", `source="keyword"`)
		accepted += s.metricSum(i, "switchboard_messages_accepted_total")
	}
	if optOuts < 1 {
		t.Errorf("switchboard_opt_outs_total{source=\"keyword\"} is %v after a STOP", optOuts)
	}
	if accepted < 100 { // the node's counters start at its restart; the afternoon alone is > 150
		t.Errorf("switchboard_messages_accepted_total is %v", accepted)
	}

	// The dashboard: the technician's messages, found by his number; the blocked reminder's page.
	b, end := s.openDashboard(t.Name())
	defer end()
	b.search(tech(stopTech))
	page := b.text("main")
	if !strings.Contains(page, "blocked") || !strings.Contains(page, "canceled") || !strings.Contains(page, "delivered") {
		t.Errorf("dashboard search for the technician who opted out:\n%s", page)
	}
	b.shot("01-technician-search")
	b.open("/ui/messages/" + finalReminder[stopTech])
	if page := b.text("main"); !strings.Contains(page, "blocked") || !strings.Contains(strings.ToLower(page), "opt") {
		t.Errorf("dashboard page of the blocked reminder:\n%s", page)
	}
	b.shot("02-blocked-reminder")
	b.open("/ui/optouts")
	b.shot("03-optouts")
	t.Logf("field-service day: %d messages at the simulator, %d canceled reminders, in %v", len(sims), len(canceled), time.Since(started).Round(time.Millisecond))
}
