package twiliosim_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	messaging "github.com/twilio/twilio-go/rest/messaging/v1"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// Messaging Services through twilio-go's MessagingV1: create, fetch, list, add/list/remove
// numbers; unknown services are refused (21701, Twilio's error catalogue); each service sends
// from its own numbers; the sticky sender stays when numbers are added; a STOP to one number
// of a service blocks the whole pool (twilio-facts.md §5).
func TestMessagingServicesResource(t *testing.T) {
	t.Parallel()
	nums := []string{"+14155550101", "+14155550102", "+14155550103", "+14155550104", "+14155550105"}
	e := newEnv(t, twiliosim.Config{Numbers: nums})
	rc := e.account(t)

	pnSID := map[string]string{}
	ipn, err := rc.Api.ListIncomingPhoneNumber(&api.ListIncomingPhoneNumberParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ipn {
		pnSID[*n.PhoneNumber] = *n.Sid
	}

	create := func(name string, numbers ...string) string {
		t.Helper()
		p := &messaging.CreateServiceParams{}
		p.SetFriendlyName(name)
		sv, err := rc.MessagingV1.CreateService(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range numbers {
			pp := &messaging.CreatePhoneNumberParams{}
			pp.SetPhoneNumberSid(pnSID[n])
			got, err := rc.MessagingV1.CreatePhoneNumber(*sv.Sid, pp)
			if err != nil {
				t.Fatal(err)
			}
			if *got.PhoneNumber != n || *got.ServiceSid != *sv.Sid {
				t.Fatalf("added number %+v", got)
			}
		}
		return *sv.Sid
	}
	alerts := create("alerts", nums[0], nums[1])
	billing := create("billing", nums[2])

	sv, err := rc.MessagingV1.FetchService(alerts)
	if err != nil || *sv.FriendlyName != "alerts" || !*sv.StickySender {
		t.Fatalf("fetch: %+v %v", sv, err)
	}
	all, err := rc.MessagingV1.ListService(&messaging.ListServiceParams{})
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %d %v", len(all), err)
	}
	pns, err := rc.MessagingV1.ListPhoneNumber(alerts, &messaging.ListPhoneNumberParams{})
	if err != nil || len(pns) != 2 {
		t.Fatalf("list numbers: %d %v", len(pns), err)
	}
	// A number is in one service at most.
	pp := &messaging.CreatePhoneNumberParams{}
	pp.SetPhoneNumberSid(pnSID[nums[0]])
	_, err = rc.MessagingV1.CreatePhoneNumber(billing, pp)
	restError(t, err, 21710, http.StatusBadRequest)
	_, err = rc.MessagingV1.FetchService(fmt.Sprintf("MG%032x", 99))
	restError(t, err, 20404, http.StatusNotFound)

	// Unknown service: 21701.
	_, err = sendSMS(rc, fmt.Sprintf("MG%032x", 99), "+14155550199", "x")
	restError(t, err, 21701, http.StatusBadRequest)

	// Each service draws from its own numbers; senders are sticky per recipient.
	senders := map[string]string{}
	for i := range 12 {
		to := fmt.Sprintf("+1415555%04d", 300+i)
		m, err := sendSMS(rc, alerts, to, "a")
		if err != nil {
			t.Fatal(err)
		}
		from := waitStatus(t, e.sim, *m.Sid, "delivered").From
		if from != nums[0] && from != nums[1] {
			t.Fatalf("alerts sent from %s", from)
		}
		senders[to] = from
		b, err := sendSMS(rc, billing, to, "b")
		if err != nil {
			t.Fatal(err)
		}
		if from := waitStatus(t, e.sim, *b.Sid, "delivered").From; from != nums[2] {
			t.Fatalf("billing sent from %s", from)
		}
	}
	// Adding numbers moves nobody.
	for _, n := range nums[3:] {
		pp := &messaging.CreatePhoneNumberParams{}
		pp.SetPhoneNumberSid(pnSID[n])
		if _, err := rc.MessagingV1.CreatePhoneNumber(alerts, pp); err != nil {
			t.Fatal(err)
		}
	}
	for to, want := range senders {
		m, err := sendSMS(rc, alerts, to, "again")
		if err != nil {
			t.Fatal(err)
		}
		if got := waitStatus(t, e.sim, *m.Sid, "delivered").From; got != want {
			t.Fatalf("recipient %s moved from %s to %s after numbers were added", to, want, got)
		}
	}

	// A STOP to one number of the service blocks every number of it, and the service itself.
	const phone = "+14155550300"
	if err := e.sim.Inbound(ctx(t), phone, senders[phone], "STOP"); !errors.Is(err, twiliosim.ErrNoSMSURL) {
		t.Fatal(err) // the number has no SmsUrl; the keyword applies all the same
	}
	for _, from := range []string{alerts, nums[0], nums[1], nums[3]} {
		_, err := sendSMS(rc, from, phone, "blocked")
		restError(t, err, 21610, http.StatusBadRequest)
	}
	if _, err := sendSMS(rc, billing, phone, "another service"); err != nil {
		t.Fatalf("another service blocked: %v", err)
	}

	// Removing a number from a service: the service no longer sends from it.
	if err := rc.MessagingV1.DeletePhoneNumber(billing, pnSID[nums[2]]); err != nil {
		t.Fatal(err)
	}
	_, err = sendSMS(rc, billing, "+14155550399", "nobody left")
	restError(t, err, 21704, http.StatusBadRequest)
}

// A service's status callback serves the messages that set none; inbound webhooks to a
// service's number carry MessagingServiceSid.
func TestMessagingServiceStatusCallbackAndInbound(t *testing.T) {
	t.Parallel()
	const ours = "+14155550111"
	e := newEnv(t, twiliosim.Config{Numbers: []string{ours}})
	rcv := newReceiver(t, e.sim)
	rc := e.account(t)
	p := &messaging.CreateServiceParams{}
	p.SetFriendlyName("svc").SetStatusCallback(rcv.srv.URL + "/status")
	sv, err := rc.MessagingV1.CreateService(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.AddService(twiliosim.ServiceConfig{SID: *sv.Sid, Numbers: []string{ours}}); err != nil {
		t.Fatal(err)
	}
	m, err := sendSMS(rc, *sv.Sid, "+14155550199", "hi")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "callbacks to the service's URL", func() bool { return len(rcv.forSID(*m.Sid)) == 4 })
	if _, err := e.sim.AddNumber(ours, rcv.srv.URL+"/in"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Inbound(ctx(t), "+14155550199", ours, "hello"); err != nil {
		t.Fatal(err)
	}
	var in []received
	for _, r := range rcv.all() {
		if r.Path == "/in" {
			in = append(in, r)
		}
	}
	if len(in) != 1 || in[0].Params.Get("MessagingServiceSid") != *sv.Sid {
		t.Fatalf("inbound webhook: %+v", in)
	}
}
