package voice_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// The verification fallback depends on this one-method interface.
var _ interface {
	Call(ctx context.Context, to, from, twiml string) (string, error)
} = (*voice.Caller)(nil)

func TestCallerSpeaksFixedTwiML(t *testing.T) {
	t.Parallel()
	sim := twiliosim.New(twiliosim.Config{})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	prov, err := twilio.New(twilio.Config{AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(), BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := &voice.Caller{Provider: prov}
	doc, err := voice.SayTwiML("Your code is 1 2 3 4 5 6 <&>", "en-US", 2)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := c.Call(context.Background(), "+14155550190", twiliosim.MagicFrom, doc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got twiliosim.Call
	for time.Now().Before(deadline) {
		if got, _ = sim.Call(sid); got.Status == "completed" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := []string{"say: Your code is 1 2 3 4 5 6 <&>", "pause: 1", "say: Your code is 1 2 3 4 5 6 <&>", "pause: 1", "hangup"}
	if got.Status != "completed" || !slices.Equal(got.Heard, want) || len(got.Requests) != 0 {
		t.Fatalf("call %+v", got)
	}
	for _, bad := range []struct{ to, from, twiml, code string }{
		{"+14155550190", twiliosim.MagicFrom, "<Say>hi</Say>", "invalid_twiml"},
		{"+14155550190", twiliosim.MagicFrom, "<Response><Say>hi</Response>", "invalid_twiml"},
		{"+14155550190", twiliosim.MagicFrom, "<Response/><Response/>", "invalid_twiml"},
		{"+14155550190", twiliosim.MagicFrom, "<Response>" + strings.Repeat("x", 4000) + "</Response>", "invalid_twiml"},
		{"+14155550190", "me", doc, "invalid_from"},
	} {
		if _, err := c.Call(context.Background(), bad.to, bad.from, bad.twiml); switchboard.ErrorCodeOf(err) != bad.code {
			t.Errorf("%q: %v, want %s", bad.twiml, err, bad.code)
		}
	}
	if _, err := c.Call(context.Background(), "+15005550001", twiliosim.MagicFrom, doc); err == nil {
		t.Error("a magic To the provider refuses was accepted")
	}
}
