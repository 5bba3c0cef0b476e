package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// appReceiver is the application's webhook endpoint: it keeps every event once (by webhook-id).
type appReceiver struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []map[string]any
	url    string
}

func newAppReceiver(t *testing.T) *appReceiver {
	t.Helper()
	a := &appReceiver{seen: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if json.Unmarshal(b, &ev) == nil {
			a.mu.Lock()
			if id := r.Header.Get("webhook-id"); !a.seen[id] {
				a.seen[id] = true
				a.events = append(a.events, ev)
			}
			a.mu.Unlock()
		}
		w.WriteHeader(204)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	a.url = "http://" + ln.Addr().String() + "/hooks/switchboard"
	return a
}

// ofType returns the data of the events of a type received so far.
func (a *appReceiver) ofType(typ string) []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	for _, ev := range a.events {
		if ev["type"] == typ {
			if d, ok := ev["data"].(map[string]any); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// mediaServer serves one small PNG per customer (Twilio's media URLs); while held, every
// download waits (a slow provider), so that a kill lands during downloads.
type mediaServer struct {
	url      string
	held     atomic.Int64 // downloads waiting
	release  chan struct{}
	releaseO sync.Once
	images   map[string][]byte
}

func newMediaServer(t *testing.T, n int) *mediaServer {
	t.Helper()
	m := &mediaServer{release: make(chan struct{}), images: map[string][]byte{}}
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 4, 4))
		for x := range 4 {
			for y := range 4 {
				img.Set(x, y, color.RGBA{uint8(i * 11), uint8(x * 60), uint8(y * 60), 255})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		m.images[fmt.Sprintf("/media/photo-%d.png", i)] = b.Bytes()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := m.images[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		m.held.Add(1)
		select {
		case <-m.release:
		case <-r.Context().Done():
		}
		m.held.Add(-1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(b)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { m.releaseO.Do(func() { close(m.release) }); srv.Close() })
	m.url = "http://" + ln.Addr().String()
	return m
}

// whatsappContentSID is the catalog's appointment_reminder_whatsapp content template.
const whatsappContentSID = "HXb5b62575e6e4ff6129ad7c8efe1f983e"

// TestWhatsAppSupport: a support desk on WhatsApp. 20 customers write in with a photo (their
// windows open; the photos are downloaded while serve is SIGKILLed and must all be stored after
// the restart) and get free-text answers; 20 customers whose window is closed cannot get free
// text (422) and get the approved template instead; 20 messages to a customer without WhatsApp
// fall back to SMS, and reached_by says so in the API, trace and the dashboard.
func TestWhatsAppSupport(t *testing.T) {
	t.Parallel()
	const n = 20
	media := newMediaServer(t, n)
	app := newAppReceiver(t)
	s := newStack(t, stackOptions{
		yaml:      "senders:\n  - from: \"+15005550006\"\n    kind: short_code\n    rate: 30\n",
		templates: true,
	})
	// The approved content template, as registered at Twilio.
	if code, body := s.simPost("/sim/v1/content", map[string]any{"sid": whatsappContentSID, "friendly_name": "appointment_reminder_whatsapp",
		"language": "en", "body": "{{1}}: reminder of your appointment with {{2}} on {{3}}. Reply C to confirm or R to reschedule."}); code >= 300 {
		t.Fatalf("registering the content template: %d %s", code, body)
	}
	s.mustAPI(201, "POST", "/v1/endpoints", map[string]any{"url": app.url, "event_types": []string{"media.*", "message.received"}}, nil)

	open := func(i int) string { return fmt.Sprintf("+1718555%04d", 100+i) }
	closed := func(i int) string { return fmt.Sprintf("+1929555%04d", 100+i) }
	const noWhatsApp = "+15005550010"
	began := time.Now()

	// Customers write in on WhatsApp, each with a photo: half one after the other, half at once.
	writeIn := func(i int) {
		waitFor(t, 30*time.Second, "inbound accepted", func() bool {
			code, _ := s.simPost("/sim/v1/inbound", map[string]any{"from": open(i), "to": "+15005550006", "channel": "whatsapp",
				"body": fmt.Sprintf("My boiler is leaking, photo attached (%d)", i), "media_urls": []string{fmt.Sprintf("%s/media/photo-%d.png", media.url, i)}})
			return code == 200
		})
	}
	for i := 0; i < n/2; i++ {
		writeIn(i)
	}
	concurrently(n/2, 10, func(k int) { writeIn(n/2 + k) })
	// serve dies while it downloads the photos (the provider's media server is slow), then the
	// downloads may go on.
	waitFor(t, 30*time.Second, "photo downloads under way", func() bool { return media.held.Load() > 0 })
	s.nodes[0].p.kill9()
	media.releaseO.Do(func() { close(media.release) })
	s.restart(0)

	// Free-text answers inside the window.
	var mu sync.Mutex
	var answered, templated, fallbacks []string
	keep := func(list *[]string, id string) { mu.Lock(); *list = append(*list, id); mu.Unlock() }
	each := func(f func(i int)) {
		for i := 0; i < n/2; i++ {
			f(i)
		}
		concurrently(n/2, 10, func(k int) { f(n/2 + k) })
	}
	each(func(i int) {
		m := s.send(fmt.Sprintf("answer-%d", i), map[string]any{"to": open(i), "channel": "whatsapp",
			"body": fmt.Sprintf("Thanks for the photo, a technician will call you today (ticket %d).", 4400+i)})
		keep(&answered, m.ID)
	})
	// Outside the window: free text is refused, the approved template goes.
	each(func(i int) {
		r := s.api("POST", "/v1/messages", map[string]any{"to": closed(i), "channel": "whatsapp", "body": "Your appointment is tomorrow."},
			"Idempotency-Key", fmt.Sprintf("closed-free-%d", i))
		if r.status != 422 || r.problemCode() != "whatsapp_window_closed" {
			t.Errorf("free text outside the window: %d %s, want 422 whatsapp_window_closed", r.status, r.body)
		}
		m := s.send(fmt.Sprintf("closed-template-%d", i), map[string]any{"to": closed(i), "template": "appointment_reminder_whatsapp",
			"variables": map[string]string{"clinic": "Northside Clinic", "provider": "Dr. Rivera", "starts_at": "2026-03-05T15:30:00-06:00"}})
		if m.Channel != "whatsapp" {
			t.Errorf("the WhatsApp template went as %s", m.Channel)
		}
		keep(&templated, m.ID)
	})
	// A customer without WhatsApp: every message falls back to SMS.
	each(func(i int) {
		m := s.send(fmt.Sprintf("fallback-%d", i), map[string]any{"to": noWhatsApp, "channel": "whatsapp", "fallback": "sms",
			"body": fmt.Sprintf("Your technician arrives at %02d:00 (update %d).", 8+i%10, i)})
		keep(&fallbacks, m.ID)
	})

	all := s.waitTerminal(90*time.Second, append(append(append([]string{}, answered...), templated...), fallbacks...))
	for _, id := range append(append([]string{}, answered...), templated...) {
		if m := all[id]; m.Status != "delivered" && m.Status != "read" {
			t.Errorf("%s to %s ended %s (%d)", id, m.To, m.Status, m.ErrorCode)
		}
	}
	// The SMS legs are queued just after the WhatsApp messages end.
	settled := map[string]message{}
	eventually(30*time.Second, func() bool {
		for _, id := range fallbacks {
			if _, ok := settled[id]; !ok {
				if m := s.message(id); m.WhatsApp != nil && m.WhatsApp.FallbackMessageID != "" {
					settled[id] = m
				}
			}
		}
		return len(settled) == len(fallbacks)
	})
	var legs []string
	for _, id := range fallbacks {
		m, ok := settled[id]
		if !ok {
			m = s.message(id)
		}
		if m.Status != "blocked" && m.Status != "failed" && m.Status != "undelivered" {
			t.Errorf("WhatsApp message %s to a number without WhatsApp ended %s", id, m.Status)
		}
		if m.WhatsApp == nil || m.WhatsApp.FallbackMessageID == "" {
			t.Errorf("WhatsApp message %s (%s, %d) has no SMS fallback:\n%s", id, m.Status, m.ErrorCode, s.cli("messages", "get", id))
			continue
		}
		legs = append(legs, m.WhatsApp.FallbackMessageID)
	}
	legsFinal := s.waitTerminal(60*time.Second, legs)
	for _, id := range fallbacks {
		m := s.message(id)
		if m.WhatsApp == nil || m.WhatsApp.ReachedBy != "sms" {
			t.Errorf("WhatsApp message %s: reached_by %+v, want sms", id, m.WhatsApp)
		}
	}
	for _, id := range legs {
		if m := legsFinal[id]; m.Status != "delivered" || m.Channel != "sms" || m.WhatsApp == nil || m.WhatsApp.ReachedBy != "sms" {
			t.Errorf("SMS leg %s: %s on %s, whatsapp %+v", id, m.Status, m.Channel, m.WhatsApp)
		}
	}

	// At the provider: each message once; the template as its content SID.
	sims := s.simOutbound()
	noDuplicates(t, sims)
	var wa, sms, content int
	for _, m := range sims {
		switch {
		case strings.HasPrefix(m.To, "whatsapp:"):
			wa++
			if m.ContentSID == whatsappContentSID {
				content++
			}
		default:
			sms++
		}
	}
	// (the messages to the number without WhatsApp never go to Twilio: they would fail with 63016)
	if wa != 2*n || sms != n || content != n {
		t.Errorf("at the simulator: %d WhatsApp (%d templates), %d SMS; want %d (%d), %d", wa, content, sms, 2*n, n, n)
	}

	// Every photo was downloaded and stored once, the kill notwithstanding.
	if !eventually(60*time.Second, func() bool { return len(app.ofType("media.stored")) >= n }) {
		t.Errorf("%d of %d photos stored after the SIGKILL during their download (and %d rejected): an attachment whose download a kill interrupts is lost",
			len(app.ofType("media.stored")), n, len(app.ofType("media.rejected")))
	}
	stored := map[string]bool{}
	for _, d := range app.ofType("media.stored") {
		key := fmt.Sprint(d["inbound_id"], "/", d["index"])
		if stored[key] {
			t.Errorf("attachment %s stored twice", key)
		}
		stored[key] = true
		if u, _ := d["url"].(string); u != "" {
			if resp, err := http.Get(u); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
				t.Errorf("stored photo %s: %v %v", u, err, resp)
			} else {
				resp.Body.Close()
			}
		}
	}
	// Deliveries cut by the SIGKILL are retried after their lease and backoff: the events arrive,
	// not necessarily by the time the photos are stored.
	if !eventually(60*time.Second, func() bool { return len(app.ofType("message.received")) >= n }) {
		t.Errorf("the application heard of %d inbound messages, want %d", len(app.ofType("message.received")), n)
	}

	// What the operator sees: reached_by in trace and on the dashboard.
	tr := s.cli("trace", fallbacks[0])
	if !strings.Contains(tr, legs[0]) {
		t.Errorf("trace of a WhatsApp message that fell back does not name its SMS leg:\n%s", tr)
	}
	if !strings.Contains(strings.ToLower(tr), "reached") {
		t.Errorf("trace of a WhatsApp message that fell back does not say it reached the person by SMS (reached_by):\n%s", tr)
	}
	b, end := s.openDashboard(t.Name())
	defer end()
	b.open("/ui/messages/" + fallbacks[0])
	if page := strings.ToLower(b.text("main")); !strings.Contains(page, "reached") || !strings.Contains(page, "sms") {
		t.Errorf("dashboard page of a WhatsApp message that fell back does not show reached_by:\n%s", page)
	}
	b.shot("01-fallback")
	b.open("/ui/inbound")
	b.shot("02-inbound")
	if got := s.metricSum(0, "switchboard_status_callbacks_total", `provider_status="delivered"`); got < 3*n {
		t.Errorf("switchboard_status_callbacks_total{provider_status=\"delivered\"} = %v since the restart, want at least %d", got, 3*n)
	}
	if got := s.metricSum(0, "switchboard_messages_finished_total", `status="blocked"`); got != n {
		t.Errorf("switchboard_messages_finished_total{status=\"blocked\"} = %v, want %d (the WhatsApp messages the window rule kept)", got, n)
	}
	t.Logf("WhatsApp support: %d messages at the simulator in %v", len(sims), time.Since(began).Round(time.Millisecond))
}
