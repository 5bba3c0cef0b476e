package api_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// checkCallAnswers sends real requests to the calls API and the simulator's calls control API
// and checks every answer against the document (part of TestOpenAPIMatchesAnswers).
func checkCallAnswers(t *testing.T, doc *openAPIDoc, seen map[string]bool) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_1", Name: "test", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sim := twiliosim.New(twiliosim.Config{CallInputWait: 5 * time.Second})
	t.Cleanup(sim.Close)
	ssrv := httptest.NewServer(sim.Handler())
	t.Cleanup(ssrv.Close)
	prov, err := twilio.New(twilio.Config{AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(), BaseURL: ssrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	flows, err := voice.Load(filepath.Join("..", "..", "examples", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	svc := voice.New(voice.Config{Store: db, Provider: prov, Flows: func() *voice.Catalog { return flows },
		PublicURL: "https://sb.example.com", AuthToken: sim.AuthToken(), Clock: func() time.Time { return now }})
	s := api.New(api.Config{Store: db, Clock: func() time.Time { return now }, MaxBodyBytes: 4096, Calls: svc,
		Senders: []switchboard.Sender{{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c := &openAPICheck{t: t, doc: doc, base: srv.URL, seen: seen}
	j := "application/json"
	auth := []string{"Authorization", "Bearer " + secret}
	withAuth := func(h ...string) []string { return append(append([]string{}, auth...), h...) }

	full := `{"to":"+14155550100","flow":"appointment_confirmation","locale":"es-MX","machine_detection":true,"ring_timeout":20,
		"max_attempts":2,"retry_delay":600,"metadata":{"appointment":"A-1"},
		"variables":{"clinic":"Northside","date":"Tuesday","front_desk":"+15005550020","patient_name":"Ana"}}`
	created := c.do(call{op: "POST /v1/calls", path: "/v1/calls", body: full, ctype: j, headers: withAuth("Idempotency-Key", "c-1"), status: 202})
	id, _ := created["id"].(string)
	c.do(call{op: "POST /v1/calls", path: "/v1/calls", body: full, ctype: j, headers: withAuth("Idempotency-Key", "c-1"), status: 202})
	c.do(call{op: "POST /v1/calls", path: "/v1/calls", body: strings.Replace(full, "0100", "0101", 1), ctype: j, headers: withAuth("Idempotency-Key", "c-1"), status: 422})
	for _, bad := range []struct {
		body   string
		status int
	}{
		{`{"flow":"appointment_confirmation"}`, 400},
		{`{"to":"+14155550100"}`, 400},
		{`{"to":"+14155550100","flow":"nope"}`, 422},
		{`{"to":"+14155550100","flow":"appointment_confirmation"}`, 400},
		{`{"to":"+14155550100","flow":"appointment_confirmation","from":"+14155550199"}`, 422},
		{`{"to":"+14155550100","flow":"appointment_confirmation","variables":{"x":"` + strings.Repeat("y", 5000) + `"}}`, 413},
	} {
		c.do(call{op: "POST /v1/calls", path: "/v1/calls", body: bad.body, ctype: j, headers: withAuth(), status: bad.status})
	}
	c.do(call{op: "POST /v1/calls", path: "/v1/calls", body: full, ctype: j, status: 401})
	got := c.do(call{op: "GET /v1/calls/{id}", path: "/v1/calls/" + id, headers: auth, status: 200})
	if tl, _ := got["timeline"].([]any); len(tl) == 0 {
		t.Errorf("the call has no timeline: %v", got)
	}
	if _, ok := got["variables"]; ok {
		t.Errorf("the call shows its variables: %v", got)
	}
	c.do(call{op: "GET /v1/calls/{id}", path: "/v1/calls/call_nope", headers: auth, status: 404})
	c.do(call{op: "GET /v1/calls", path: "/v1/calls?limit=1", headers: auth, status: 200})
	c.do(call{op: "GET /v1/calls", path: "/v1/calls?limit=0", headers: auth, status: 400})
	// Calls by metadata: the pair the call was placed with finds it, another does not.
	byMeta := c.do(call{op: "GET /v1/calls", path: "/v1/calls?metadata%5Bappointment%5D=A-1", headers: auth, status: 200})
	if cs, _ := byMeta["calls"].([]any); len(cs) != 1 || cs[0].(map[string]any)["id"] != id {
		t.Errorf("GET /v1/calls?metadata[appointment]=A-1 = %v, want the call %s", byMeta, id)
	}
	byMeta = c.do(call{op: "GET /v1/calls", path: "/v1/calls?metadata%5Bappointment%5D=A-2", headers: auth, status: 200})
	if cs, _ := byMeta["calls"].([]any); len(cs) != 0 {
		t.Errorf("GET /v1/calls?metadata[appointment]=A-2 = %v, want none", byMeta)
	}
	if p := c.do(call{op: "GET /v1/calls", path: "/v1/calls?metadata=appointment:A-1", headers: auth, status: 400}); p["code"] != "invalid_metadata_filter" {
		t.Errorf("GET /v1/calls?metadata=appointment:A-1 = %v, want invalid_metadata_filter", p)
	}
	c.do(call{op: "POST /v1/calls/{id}/cancel", path: "/v1/calls/" + id + "/cancel", headers: auth, status: 200})
	c.do(call{op: "POST /v1/calls/{id}/cancel", path: "/v1/calls/" + id + "/cancel", headers: auth, status: 409})
	c.do(call{op: "POST /v1/calls/{id}/cancel", path: "/v1/calls/call_nope/cancel", headers: auth, status: 404})

	// The voice webhooks, with a call in progress stored as the placer leaves it.
	vc, err := svc.Build(&voice.CreateRequest{To: "+14155550104", Flow: "appointment_confirmation",
		Variables: map[string]string{"clinic": "Northside", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}}, "+15005550006", now)
	if err != nil {
		t.Fatal(err)
	}
	vc.ProviderSID, vc.NextAttemptAt, vc.Attempts = "CA00000000000000000000000000000001", nil, 1
	if _, _, err := db.CreateCall(ctx, vc, nil); err != nil {
		t.Fatal(err)
	}
	vsrv := httptest.NewServer(svc.Handler())
	t.Cleanup(vsrv.Close)
	v := &openAPICheck{t: t, doc: doc, base: vsrv.URL, seen: seen}
	form := url.Values{"CallSid": {vc.ProviderSID}, "AccountSid": {sim.AccountSID()}, "CallStatus": {"in-progress"}}
	signed := func(path string, f url.Values, op string, status int) call {
		return call{op: op, path: path, body: f.Encode(), ctype: "application/x-www-form-urlencoded", status: status,
			headers: []string{twiliosig.Header, twiliosig.Sign(sim.AuthToken(), "https://sb.example.com"+path, f)}}
	}
	step := "POST " + voice.WebhookPath + "{token}/{kind}"
	st := "POST " + voice.WebhookPath + "{token}/status"
	v.do(signed(voice.WebhookPath+vc.Token+"/answer?s=0", form, step, 200))
	v.do(signed(voice.WebhookPath+vc.Token+"/answer?s=0", form, step, 200)) // a repeat: the same document
	v.do(signed(voice.WebhookPath+vc.Token+"/gather", form, step, 400))
	v.do(signed(voice.WebhookPath+"nope/answer?s=0", form, step, 404))
	v.do(signed(voice.WebhookPath+vc.Token+"/gather?s=7", form, step, 409))
	v.do(call{op: step, path: voice.WebhookPath + vc.Token + "/gather?s=1", body: form.Encode(), ctype: "application/x-www-form-urlencoded", status: 403})
	v.do(signed(voice.WebhookPath+vc.Token+"/status", url.Values{"CallSid": {vc.ProviderSID}, "CallStatus": {"completed"}}, st, 204))
	v.do(signed(voice.WebhookPath+vc.Token+"/status", url.Values{"CallSid": {vc.ProviderSID}, "CallStatus": {"gone"}}, st, 400))
	v.do(signed(voice.WebhookPath+"nope/status", url.Values{"CallSid": {vc.ProviderSID}, "CallStatus": {"completed"}}, st, 404))
	v.do(call{op: st, path: voice.WebhookPath + vc.Token + "/status", body: form.Encode(), ctype: "application/x-www-form-urlencoded", status: 403})
	none := api.New(api.Config{Store: db})
	nsrv := httptest.NewServer(none.Handler())
	t.Cleanup(nsrv.Close)
	(&openAPICheck{t: t, doc: doc, base: nsrv.URL, seen: seen}).do(call{op: "POST /v1/calls/{id}/cancel", path: "/v1/calls/" + id + "/cancel", headers: auth, status: 422})

	// The simulator's calls control API, with a live call waiting at a Gather.
	sc := &openAPICheck{t: t, doc: doc, base: ssrv.URL, seen: seen}
	sc.do(call{op: "POST /sim/v1/calls/script", path: "/sim/v1/calls/script", body: `{"number":"+14155550102","outcome":"answer","inputs":[{"digits":"1"},{"timeout":true}]}`, ctype: j, status: 200})
	sc.do(call{op: "POST /sim/v1/calls/script", path: "/sim/v1/calls/script", body: `{"number":"+14155550102","outcome":"maybe"}`, ctype: j, status: 400})
	pc, err := prov.PlaceCall(ctx, &switchboard.PlaceCallRequest{To: "+14155550103", From: "+15005550006",
		TwiML: `<Response><Gather timeout="5"><Say>Press a key</Say></Gather></Response>`})
	if err != nil {
		t.Fatal(err)
	}
	sc.do(call{op: "POST /sim/v1/calls/{sid}/input", path: "/sim/v1/calls/" + pc.SID + "/input", body: `{"digits":"5"}`, ctype: j, status: 200})
	sc.do(call{op: "POST /sim/v1/calls/{sid}/input", path: "/sim/v1/calls/" + pc.SID + "/input", body: `{"digits":"5","speech":"yes"}`, ctype: j, status: 400})
	sc.do(call{op: "POST /sim/v1/calls/{sid}/input", path: "/sim/v1/calls/CA0000/input", body: `{"digits":"5"}`, ctype: j, status: 404})
	sc.do(call{op: "GET /sim/v1/calls", path: "/sim/v1/calls", status: 200})
}
