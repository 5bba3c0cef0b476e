package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// noRetryCodes stands in for the error catalog (node.explainCode, twilio.CodeInfo.Unreachable):
// opted out, invalid number.
func noRetryCodes(c *Config) {
	c.ExplainCode = func(code int) CodeInfo {
		ci := CodeInfo{Code: code, Title: "Title of " + itoa(code)}
		switch code {
		case 21610:
			ci.NoRetry = "The recipient opted out: a retry would be refused the same way."
		case 21211:
			ci.NoRetry = "The number cannot receive this message: a retry would fail the same way."
		}
		return ci
	}
}

// TestRetryOnlyWhereItCanHelp (issue 15): no retry is offered, and the server refuses one, for a
// message that failed because the person opted out or the number is invalid, or a WhatsApp
// message whose SMS fallback reached the person; a retryable WhatsApp message is retried with its
// content template and fallback policy.
func TestRetryOnlyWhereItCanHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		noRetryCodes(c)
		c.Annotate = whatsapp.New(whatsapp.Config{Store: c.Store.(whatsapp.Store), Clock: c.Clock}).Annotate
	})
	c := e.loggedIn()
	token := e.csrf(c)
	count := func() int {
		msgs, _, err := e.store.ListMessages(t.Context(), switchboard.MessageFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}
	refused := func(id, why string) {
		t.Helper()
		before := count()
		page := e.do(c, "GET", "/ui/messages/"+id, nil)
		if strings.Contains(page.body, "/retry") || !strings.Contains(page.text, why) {
			t.Errorf("message %s: the page offers a retry or does not say %q:\n%s", id, why, page.text)
		}
		r := e.do(c, "POST", "/ui/messages/"+id+"/retry", url.Values{"csrf": {token}})
		if r.status != http.StatusConflict || !strings.Contains(r.text, why) {
			t.Errorf("message %s: retry answered %d", id, r.status)
		}
		if n := count(); n != before {
			t.Errorf("message %s: a refused retry stored a message (%d -> %d)", id, before, n)
		}
	}

	optedOut := e.message(nil)
	e.fail(optedOut.ID, switchboard.StatusFailed, 21610)
	refused(optedOut.ID, "opted out")
	invalidNumber := e.message(nil)
	e.fail(invalidNumber.ID, switchboard.StatusFailed, 21211)
	refused(invalidNumber.ID, "cannot receive")

	// A WhatsApp message whose SMS leg was delivered: the person was reached by SMS.
	wa := e.message(func(m *switchboard.Message) {
		m.Channel = switchboard.ChannelWhatsApp
		m.WhatsApp = &switchboard.WhatsAppOptions{ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: `{"1":"Ann"}`,
			Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: 300}
	})
	e.fail(wa.ID, switchboard.StatusUndelivered, 30003)
	leg := e.message(func(m *switchboard.Message) {
		m.WhatsApp = &switchboard.WhatsAppOptions{FallbackOf: wa.ID}
	})
	if ok, err := e.store.SettleFallback(t.Context(), wa.ID, leg.ID, &switchboard.Event{Type: switchboard.EventNote, Actor: "whatsapp", Detail: "fallback sent as " + leg.ID}); !ok || err != nil {
		t.Fatalf("settle: %v %v", ok, err)
	}
	// While the leg is on its way, no retry either.
	refused(wa.ID, "is queued")
	sid := "SM" + strings.Repeat("2", 24) + leg.ID[len(leg.ID)-8:]
	e.update(switchboard.MessageUpdate{ID: leg.ID, Status: switchboard.StatusSending, ProviderSID: &sid, At: e.clock.now()})
	e.update(switchboard.MessageUpdate{ID: leg.ID, Status: switchboard.StatusDelivered, At: e.clock.now()})
	refused(wa.ID, "reached_by sms")
	page := e.do(c, "GET", "/ui/messages/"+wa.ID, nil)
	if !strings.Contains(page.text, "Reached by</dt><dd>sms") || !strings.Contains(page.body, "/ui/messages/"+leg.ID) {
		t.Errorf("the WhatsApp message's page does not show reached_by and its leg:\n%s", page.text)
	}
	if list := e.do(c, "GET", "/ui/messages?q="+url.QueryEscape(wa.To), nil); !strings.Contains(list.text, "reached by sms") {
		t.Errorf("the list does not show reached_by:\n%s", list.text)
	}

	// A WhatsApp message that reached no one and has no leg is retried with its options.
	wa2 := e.message(func(m *switchboard.Message) {
		m.Channel = switchboard.ChannelWhatsApp
		m.WhatsApp = &switchboard.WhatsAppOptions{ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: `{"1":"Ann"}`,
			Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: 300}
	})
	e.fail(wa2.ID, switchboard.StatusUndelivered, 30003)
	r := e.do(c, "POST", "/ui/messages/"+wa2.ID+"/retry", url.Values{"csrf": {token}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("retry of a WhatsApp message: %d\n%s", r.status, r.text)
	}
	rm := e.get(strings.TrimSuffix(strings.TrimPrefix(r.location, "/ui/messages/"), "?done=retried"))
	if rm.Channel != switchboard.ChannelWhatsApp || rm.WhatsApp == nil || rm.WhatsApp.ContentSID != wa2.WhatsApp.ContentSID ||
		rm.WhatsApp.ContentVariables != `{"1":"Ann"}` || rm.WhatsApp.Fallback != switchboard.FallbackSMS ||
		rm.WhatsApp.FallbackAfterSeconds != 300 || rm.WhatsApp.FallbackMessageID != "" {
		t.Errorf("the retry lost the WhatsApp options: %+v", rm.WhatsApp)
	}
}

// TestTimelineMasksNumbers: the timeline text masks the recipient's number as the header does,
// and keeps our own sender's whole (issue 15: the header masked it, the timeline printed it).
func TestTimelineMasksNumbers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	m := e.message(nil)
	e.update(switchboard.MessageUpdate{ID: m.ID, At: e.clock.now(), Events: []*switchboard.Event{{Type: switchboard.EventNote, Actor: "consent",
		Detail: "inbound in_1 texted \"STOP\" from +14155550123 (whatsapp:+14155550123) to " + testSender}}})
	page := e.do(c, "GET", "/ui/messages/"+m.ID, nil)
	if strings.Contains(page.text, "4155550123") {
		t.Errorf("the page prints the recipient's number whole:\n%s", page.text)
	}
	if !strings.Contains(page.text, "from +1415*****23 (whatsapp:+1415*****23) to "+testSender) {
		t.Errorf("the timeline text is not masked as the header is:\n%s", page.text)
	}
}
