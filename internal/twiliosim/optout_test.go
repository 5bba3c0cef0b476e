package twiliosim_test

import (
	"strings"
	"testing"

	twilio "github.com/twilio/twilio-go"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// sendSMS creates a message with twilio-go.
func sendSMS(rc *twilio.RestClient, from, to, body string) (*api.ApiV2010Message, error) {
	p := &api.CreateMessageParams{}
	p.SetTo(to)
	p.SetBody(body)
	if strings.HasPrefix(from, "MG") {
		p.SetMessagingServiceSid(from)
	} else {
		p.SetFrom(from)
	}
	return rc.Api.CreateMessage(p)
}

// repliesTo returns the outbound-reply messages to a number, oldest first.
func repliesTo(sim *twiliosim.Simulator, to string) []twiliosim.Message {
	var out []twiliosim.Message
	for _, m := range sim.Messages() {
		if m.To == to && m.Direction == "outbound-reply" {
			out = append(out, m)
		}
	}
	return out
}

// Twilio's default opt-out handling (twilio-facts.md §5): every opt-out keyword blocks the
// pair with 400/21610 until an opt-in keyword; the sender's other pairs are untouched; HELP is
// answered; the app's TwiML reply to an opted-out person is not delivered.
func TestOptOutKeywords(t *testing.T) {
	t.Parallel()
	const ours, other, phone = "+14155550100", "+14155550101", "+14155550199"
	e := newEnv(t, twiliosim.Config{Numbers: []string{ours, other}})
	rcv := newReceiver(t, e.sim)
	rcv.reply = `<Response><Message>Thanks for your message</Message></Response>`
	if _, err := e.sim.AddNumber(ours, rcv.srv.URL+"/in"); err != nil {
		t.Fatal(err)
	}
	rc := e.account(t)
	if _, err := sendSMS(rc, ours, phone, "hello"); err != nil {
		t.Fatal(err)
	}
	for i, stop := range []string{" stop ", "Unsubscribe", "END", "quit", "STOPALL", "revoke", "OPTOUT", "Cancel"} {
		start := []string{"START", "yes", "Unstop"}[i%3]
		if err := e.sim.Inbound(ctx(t), phone, ours, stop); err != nil {
			t.Fatal(err)
		}
		_, err := sendSMS(rc, ours, phone, "after "+stop)
		restError(t, err, 21610, 400)
		if !e.sim.OptedOut(ours, phone) {
			t.Fatalf("%q: OptedOut = false", stop)
		}
		// Another number of ours, and another person, are not blocked.
		if _, err := sendSMS(rc, other, phone, "from the other number"); err != nil {
			t.Fatalf("%q blocked another sender: %v", stop, err)
		}
		if _, err := sendSMS(rc, ours, "+14155550198", "to someone else"); err != nil {
			t.Fatalf("%q blocked another recipient: %v", stop, err)
		}
		if err := e.sim.Inbound(ctx(t), phone, ours, start); err != nil {
			t.Fatal(err)
		}
		if _, err := sendSMS(rc, ours, phone, "after "+start); err != nil {
			t.Fatalf("send after %q: %v", start, err)
		}
	}
	// The webhook still reached the app, with OptOutType.
	var types []string
	for _, r := range rcv.all() {
		types = append(types, r.Params.Get("OptOutType"))
	}
	if len(types) != 16 || types[0] != "STOP" || types[1] != "START" {
		t.Fatalf("webhooks' OptOutType = %q", types)
	}

	// The app's TwiML replies: delivered while subscribed, failed 21610 once opted out.
	if err := e.sim.Inbound(ctx(t), phone, ours, "STOP"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Inbound(ctx(t), phone, ours, "HELP"); err != nil {
		t.Fatal(err)
	}
	reps := repliesTo(e.sim, phone)
	var twilioSays, appSays []twiliosim.Message
	for _, m := range reps {
		if m.Body == "Thanks for your message" {
			appSays = append(appSays, m)
		} else {
			twilioSays = append(twilioSays, m)
		}
	}
	if len(twilioSays) != 18 { // 9 opt-outs, 8 opt-ins, 1 help
		t.Fatalf("%d keyword confirmations, want 18", len(twilioSays))
	}
	if last := twilioSays[17]; !strings.Contains(last.Body, "STOP") || last.From != ours {
		t.Fatalf("help answer: %+v", last)
	}
	// A reply to a keyword that leaves the person opted out (STOP, then HELP) is never delivered.
	for _, m := range appSays[len(appSays)-2:] {
		if m.Status != "failed" || m.ErrorCode != 21610 {
			t.Fatalf("TwiML reply to an opted-out person: %s %d", m.Status, m.ErrorCode)
		}
	}
	if m := appSays[1]; m.ErrorCode == 21610 { // the reply to the first START
		t.Fatalf("TwiML reply after START failed: %+v", m)
	}

	// A message that merely contains a keyword is no keyword.
	if err := e.sim.Inbound(ctx(t), phone, ours, "START please"); err != nil {
		t.Fatal(err)
	}
	_, err := sendSMS(rc, ours, phone, "still out")
	restError(t, err, 21610, 400)

	// Reset forgets opt-outs.
	e.sim.Reset()
	if _, err := sendSMS(rc, ours, phone, "after reset"); err != nil {
		t.Fatal(err)
	}
}

// OptOutOff models an account whose keyword handling is disabled; OptOutSilent blocks without
// answering; WhatsApp is never subject to the keywords.
func TestOptOutModes(t *testing.T) {
	t.Parallel()
	const ours, phone = "+14155550100", "+14155550199"
	for _, mode := range []string{twiliosim.OptOutOff, twiliosim.OptOutSilent} {
		e := newEnv(t, twiliosim.Config{Numbers: []string{ours}, OptOut: mode})
		if err := e.sim.Inbound(ctx(t), phone, ours, "STOP"); err != nil && !strings.Contains(err.Error(), "SmsUrl") {
			t.Fatal(err)
		}
		_, err := sendSMS(e.account(t), ours, phone, "after STOP")
		if mode == twiliosim.OptOutOff && err != nil {
			t.Fatalf("off: %v", err)
		}
		if mode == twiliosim.OptOutSilent {
			restError(t, err, 21610, 400)
		}
		if n := len(repliesTo(e.sim, phone)); n != 0 {
			t.Fatalf("%s: %d confirmations", mode, n)
		}
	}
	e := newEnv(t, twiliosim.Config{Numbers: []string{ours}})
	if err := e.sim.Inbound(ctx(t), "whatsapp:"+phone, "whatsapp:"+ours, "STOP"); err != nil && !strings.Contains(err.Error(), "SmsUrl") {
		t.Fatal(err)
	}
	if e.sim.OptedOut(ours, "whatsapp:"+phone) || len(repliesTo(e.sim, "whatsapp:"+phone)) != 0 {
		t.Fatal("a WhatsApp STOP acted as an SMS keyword")
	}
}
