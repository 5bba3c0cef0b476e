package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// waCatalog is a catalog with a WhatsApp template mapped to a content template and one without.
const waCatalog = `- name: order_shipped
  version: 1
  locale: en
  channel: whatsapp
  category: transactional
  content_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e
  body: "Hi {{name}}, order {{order}} has shipped."
  variables:
    name: {type: string, max_length: 40, example: Ann}
    order: {type: string, max_length: 12, example: A-1}
- name: order_note
  version: 1
  locale: en
  channel: whatsapp
  category: transactional
  body: "Note on order {{order}}."
  variables:
    order: {type: string, max_length: 12, example: A-1}
- name: order_update
  version: 1
  locale: en
  channel: whatsapp
  category: transactional
  fallback: sms
  body: "Order {{order}} was updated."
  variables:
    order: {type: string, max_length: 12, example: A-1}
`

const waContentSID = "HXb5b62575e6e4ff6129ad7c8efe1f983e"

// offsetClock is the wall clock moved forward by a settable offset: lifecycle timers keep real
// time while the window rules see the jump.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time { return time.Now().UTC().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) {
	c.off.Add(int64(d))
}

func startWANode(t *testing.T, env map[string]string, clock *offsetClock) *testNode {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wa.yaml"), []byte(waCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	e := map[string]string{"SWITCHBOARD_TEMPLATES_DIR": dir, "SWITCHBOARD_WHATSAPP_SCAN_INTERVAL": "50ms"}
	for k, v := range env {
		e[k] = v
	}
	o := nodeOpts{env: e}
	if clock != nil {
		o.clock = clock.now
	}
	return startNode(t, o)
}

// whatsappIn makes the person write to our number on WhatsApp (through the simulator and the
// node's inbound webhook) and waits until the conversation has it.
func (n *testNode) whatsappIn(t *testing.T, person string) {
	t.Helper()
	n.simControl(t, "POST", "/sim/v1/inbound", map[string]string{"channel": "whatsapp", "from": person,
		"to": config.SimulatorFrom, "body": "hello"})
	waitFor(t, 5*time.Second, "the WhatsApp conversation", func() bool {
		c, err := n.Store().FindConversation(context.Background(), switchboard.ChannelWhatsApp, config.SimulatorFrom, person)
		return err == nil && c.LastInboundAt != nil
	})
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

// simByTo returns the simulator's outbound messages to a person (any channel).
func (n *testNode) simByTo(person string) []twiliosim.Message {
	var out []twiliosim.Message
	for _, m := range n.Simulator().Messages() {
		if m.Direction != "inbound" && strings.TrimPrefix(m.To, "whatsapp:") == person {
			out = append(out, m)
		}
	}
	return out
}

func hasDetail(m *switchboard.Message, part string) bool {
	for _, e := range m.Events {
		if strings.Contains(e.Detail, part) {
			return true
		}
	}
	return false
}

// TestWhatsAppWindowEndToEnd: outside the window free form is refused at the API and a template
// goes as its content template; inside it free form is delivered; a message accepted inside the
// window but dispatched after it closed never produces a 63016.
func TestWhatsAppWindowEndToEnd(t *testing.T) {
	t.Parallel()
	clock := &offsetClock{}
	n := startWANode(t, nil, clock)
	ctx := context.Background()
	const person = "+14155550191"

	// Outside the window: free form refused, with nothing stored or sent.
	_, err := n.client.Send(ctx, &client.SendRequest{To: person, Channel: switchboard.ChannelWhatsApp, Body: "Your order shipped"})
	wantCode(t, err, "whatsapp_window_closed")
	// A template without a content_sid cannot go either.
	_, err = n.client.Send(ctx, &client.SendRequest{To: person, Template: "order_note", Variables: map[string]string{"order": "A-7"}})
	wantCode(t, err, "whatsapp_window_closed")
	// A template with one goes as the content template (ContentSid + ContentVariables).
	m, err := n.client.Send(ctx, &client.SendRequest{To: person, Template: "order_shipped",
		Variables: map[string]string{"name": "Ann", "order": "A-7"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != switchboard.ChannelWhatsApp || m.WhatsApp == nil || m.WhatsApp.ContentSID != waContentSID ||
		m.WhatsApp.ContentVariables != `{"1":"Ann","2":"A-7"}` {
		t.Fatalf("accepted template message: %+v %+v", m, m.WhatsApp)
	}
	m = n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusRead)
	if !hasDetail(m, "content template "+waContentSID) {
		t.Fatalf("timeline does not say the content template went: %+v", m.Events)
	}
	sims := n.simByTo(person)
	if len(sims) != 1 || sims[0].ContentSID != waContentSID || sims[0].To != "whatsapp:"+person ||
		sims[0].From != "whatsapp:"+config.SimulatorFrom || sims[0].Body != "Hi Ann, order A-7 has shipped." {
		t.Fatalf("simulator messages: %+v", sims)
	}

	// The person writes: inside the window free form is delivered, as free form.
	n.whatsappIn(t, person)
	m, err = n.client.Send(ctx, &client.SendRequest{To: person, Channel: switchboard.ChannelWhatsApp, Body: "Thanks, see you soon"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusRead)
	sims = n.simByTo(person)
	if last := sims[len(sims)-1]; last.ContentSID != "" || last.Body != "Thanks, see you soon" {
		t.Fatalf("free-form message at the simulator: %+v", last)
	}

	// Accepted inside the window for later, dispatched after it closed: the free-form one is
	// blocked (never sent to fail with 63016); the template one goes as its content template.
	at := clock.now().Add(23 * time.Hour)
	free, err := n.client.Send(ctx, &client.SendRequest{To: person, Channel: switchboard.ChannelWhatsApp, Body: "Reminder", SendAt: at})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := n.client.Send(ctx, &client.SendRequest{To: person, Template: "order_shipped", SendAt: at,
		Variables: map[string]string{"name": "Ann", "order": "A-8"}})
	if err != nil {
		t.Fatal(err)
	}
	before := len(n.simByTo(person))
	clock.advance(25 * time.Hour)
	free = n.waitStatus(t, free.ID, 10*time.Second, switchboard.StatusBlocked)
	if free.ErrorCode != codeWhatsAppWindow || !strings.Contains(free.ErrorMessage, "window closed") {
		t.Fatalf("blocked message: code %d %q", free.ErrorCode, free.ErrorMessage)
	}
	n.waitStatus(t, tmpl.ID, 10*time.Second, switchboard.StatusRead)
	for _, s := range n.simByTo(person) {
		if s.ErrorCode == codeWhatsAppWindow {
			t.Fatalf("the simulator saw a 63016: %+v", s)
		}
	}
	if after := n.simByTo(person); len(after) != before+1 || after[len(after)-1].ContentSID != waContentSID {
		t.Fatalf("after the window closed the simulator got %d messages (want 1, the template): %+v", len(after)-before, after[before:])
	}
}

// TestWhatsAppFallbackToSMS: a WhatsApp message with fallback sms goes by SMS when WhatsApp
// cannot carry it (window closed with no template, no WhatsApp account, 63018) or does not
// deliver it in time; both legs are on the timeline and the API says which reached the person.
func TestWhatsAppFallbackToSMS(t *testing.T) {
	t.Parallel()
	n := startWANode(t, nil, nil)
	ctx := context.Background()

	check := func(t *testing.T, person string, req *client.SendRequest, origStatus switchboard.Status, code int) {
		t.Helper()
		req.To, req.Channel, req.Fallback = person, switchboard.ChannelWhatsApp, switchboard.FallbackSMS
		if req.Body == "" {
			req.Body = "Your table is ready"
		}
		m, err := n.client.Send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var orig *switchboard.Message
		waitFor(t, 10*time.Second, "the SMS leg", func() bool {
			orig, err = n.client.Get(ctx, m.ID)
			return err == nil && orig.WhatsApp != nil && orig.WhatsApp.FallbackMessageID != ""
		})
		if orig.Status != origStatus || (code != 0 && orig.ErrorCode != code) {
			t.Fatalf("WhatsApp leg: %s/%d, want %s/%d", orig.Status, orig.ErrorCode, origStatus, code)
		}
		leg := n.waitStatus(t, orig.WhatsApp.FallbackMessageID, 10*time.Second, switchboard.StatusDelivered)
		if leg.Channel != switchboard.ChannelSMS || leg.Body != req.Body || leg.WhatsApp == nil || leg.WhatsApp.FallbackOf != m.ID ||
			leg.Metadata["fallback_of"] != m.ID || !hasDetail(leg, "SMS fallback of WhatsApp message "+m.ID) {
			t.Fatalf("SMS leg: %+v %+v", leg, leg.WhatsApp)
		}
		if !hasDetail(orig, "SMS leg "+leg.ID+" queued") {
			t.Fatalf("the WhatsApp message's timeline does not name its SMS leg: %+v", orig.Events)
		}
		orig, _ = n.client.Get(ctx, m.ID)
		if orig.WhatsApp.ReachedBy != "sms" || leg.WhatsApp.ReachedBy != "sms" {
			t.Fatalf("reached_by = %q / %q, want sms", orig.WhatsApp.ReachedBy, leg.WhatsApp.ReachedBy)
		}
		// The trace says it too (issue 15: reached_by was shown nowhere an operator looks).
		if tr, err := n.client.Trace(ctx, m.ID); err != nil || tr.Message.WhatsApp == nil || tr.Message.WhatsApp.ReachedBy != "sms" {
			t.Fatalf("trace: %v %+v", err, tr)
		}
		// Exactly one SMS at the provider.
		sms := 0
		for _, s := range n.simByTo(person) {
			if !strings.HasPrefix(s.To, "whatsapp:") {
				sms++
			}
		}
		if sms != 1 {
			t.Fatalf("%d SMS at the simulator, want 1", sms)
		}
	}

	t.Run("WindowClosed", func(t *testing.T) {
		const person = "+14155550192"
		check(t, person, &client.SendRequest{}, switchboard.StatusBlocked, codeWhatsAppWindow)
		if got := n.simByTo(person); len(got) != 1 || strings.HasPrefix(got[0].To, "whatsapp:") {
			t.Fatalf("simulator messages: %+v (the WhatsApp leg must never reach it)", got)
		}
	})
	t.Run("TemplatePolicy", func(t *testing.T) {
		// The template's own fallback policy carries a message the window refuses otherwise.
		const person = "+14155550196"
		m, err := n.client.Send(ctx, &client.SendRequest{To: person, Template: "order_update", Variables: map[string]string{"order": "B-2"}})
		if err != nil {
			t.Fatal(err)
		}
		var orig *switchboard.Message
		waitFor(t, 10*time.Second, "the SMS leg", func() bool {
			orig, _ = n.client.Get(ctx, m.ID)
			return orig.WhatsApp != nil && orig.WhatsApp.FallbackMessageID != ""
		})
		leg := n.waitStatus(t, orig.WhatsApp.FallbackMessageID, 10*time.Second, switchboard.StatusDelivered)
		if orig.WhatsApp.Fallback != switchboard.FallbackSMS || leg.Body != "Order B-2 was updated." || leg.Channel != switchboard.ChannelSMS {
			t.Fatalf("template fallback: %+v, leg %+v", orig.WhatsApp, leg)
		}
	})
	t.Run("NoWhatsAppAccount", func(t *testing.T) {
		n.whatsappIn(t, twiliosim.WhatsAppNoAccount)
		check(t, twiliosim.WhatsAppNoAccount, &client.SendRequest{}, switchboard.StatusFailed, 63003)
	})
	t.Run("RateLimited", func(t *testing.T) {
		n.whatsappIn(t, twiliosim.WhatsAppRateLimited)
		check(t, twiliosim.WhatsAppRateLimited, &client.SendRequest{}, switchboard.StatusFailed, 63018)
	})
	t.Run("NotDeliveredInTime", func(t *testing.T) {
		n.whatsappIn(t, twiliosim.WhatsAppNeverRead)
		check(t, twiliosim.WhatsAppNeverRead, &client.SendRequest{FallbackAfter: time.Second}, switchboard.StatusSent, 0)
	})
	t.Run("DeliveredNoFallback", func(t *testing.T) {
		const person = "+14155550193"
		n.whatsappIn(t, person)
		m, err := n.client.Send(ctx, &client.SendRequest{To: person, Channel: switchboard.ChannelWhatsApp, Body: "Hi",
			Fallback: switchboard.FallbackSMS, FallbackAfter: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var got *switchboard.Message
		waitFor(t, 10*time.Second, "the fallback to settle", func() bool {
			got, _ = n.client.Get(ctx, m.ID)
			return hasDetail(got, "delivered by WhatsApp: no SMS fallback sent")
		})
		if got.WhatsApp.FallbackMessageID != "" || got.WhatsApp.ReachedBy != "whatsapp" || len(n.simByTo(person)) != 1 {
			t.Fatalf("delivered WhatsApp message: %+v, %d at the simulator", got.WhatsApp, len(n.simByTo(person)))
		}
	})
}

// TestWindowClosingEventFiresOnce: with the injected clock, conversation.window_closing is
// written once, the configured lead time before the window closes.
func TestWindowClosingEventFiresOnce(t *testing.T) {
	t.Parallel()
	clock := &offsetClock{}
	n := startWANode(t, map[string]string{"SWITCHBOARD_WHATSAPP_WINDOW_CLOSING_LEAD": "30m"}, clock)
	ctx := context.Background()
	const person = "+14155550194"
	n.whatsappIn(t, person)
	c, err := n.Store().FindConversation(ctx, switchboard.ChannelWhatsApp, config.SimulatorFrom, person)
	if err != nil {
		t.Fatal(err)
	}
	closing := func() []switchboard.WindowClosingData {
		evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppConversationWindowClosing}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []switchboard.WindowClosingData
		for _, e := range evs {
			var d switchboard.WindowClosingData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	clock.advance(23 * time.Hour)
	if k, err := n.WhatsApp().WindowTick(ctx); err != nil || k != 0 || len(closing()) != 0 {
		t.Fatalf("an hour before closing (lead 30m): tick %d, %v, events %v", k, err, closing())
	}
	clock.advance(35 * time.Minute)
	waitFor(t, 5*time.Second, "conversation.window_closing", func() bool { return len(closing()) > 0 })
	for range 3 {
		if _, err := n.WhatsApp().WindowTick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	evs := closing()
	if len(evs) != 1 || evs[0].ConversationID != c.ID || !evs[0].ClosesAt.Equal(c.LastInboundAt.Add(24*time.Hour)) ||
		evs[0].TheirNumber != person {
		t.Fatalf("window_closing events = %+v, want one for %s", evs, c.ID)
	}
}

// TestInboundMediaEndToEnd: a WhatsApp message with an image and a mislabelled file: the
// webhook answers before the downloads finish; the image is stored and served from
// Switchboard's URL, the mislabelled one refused.
func TestInboundMediaEndToEnd(t *testing.T) {
	t.Parallel()
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "image/png")
		if r.URL.Path == "/photo.png" {
			w.Write(img.Bytes())
			return
		}
		io.WriteString(w, "MZ\x90\x00 definitely not a picture")
	}))
	t.Cleanup(files.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	n := startWANode(t, map[string]string{"SWITCHBOARD_MEDIA_ALLOW_PRIVATE": "true"}, nil) // the files are on loopback
	ctx := context.Background()
	// The control call returns once the node's webhook answered: the downloads are still held.
	n.simControl(t, "POST", "/sim/v1/inbound", map[string]any{"channel": "whatsapp", "from": "+14155550195",
		"to": config.SimulatorFrom, "body": "see attached", "media_urls": []string{files.URL + "/photo.png", files.URL + "/evil.png"}})
	mediaEvents := func() []switchboard.MediaData {
		evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{
			Types: []switchboard.AppEventType{switchboard.AppMediaStored, switchboard.AppMediaRejected}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []switchboard.MediaData
		for _, e := range evs {
			var d switchboard.MediaData
			json.Unmarshal(e.Data, &d)
			out = append(out, d)
		}
		return out
	}
	if got := mediaEvents(); len(got) != 0 {
		t.Fatalf("media events before the downloads could finish: %+v", got)
	}
	close(release)
	waitFor(t, 10*time.Second, "both media events", func() bool { return len(mediaEvents()) == 2 })
	var stored, refused *switchboard.MediaData
	for _, d := range mediaEvents() {
		if d.URL != "" {
			stored = &d
		} else {
			refused = &d
		}
	}
	if stored == nil || refused == nil || stored.Index != 0 || refused.Index != 1 || !strings.Contains(refused.Reason, "not allowed") ||
		!strings.HasPrefix(stored.URL, n.Config().PublicURL+"/media/") || stored.From != "+14155550195" {
		t.Fatalf("media events: stored %+v refused %+v", stored, refused)
	}
	resp, err := http.Get(stored.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, img.Bytes()) {
		t.Fatalf("GET %s: %d %q", stored.URL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// codeWhatsAppWindow is Twilio's code (63016) for the WhatsApp window's class, recorded as the
// detail of a message blocked by it.
const codeWhatsAppWindow = 63016
