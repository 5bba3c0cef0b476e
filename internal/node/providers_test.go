package node_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// acmeProvider is a second messaging provider registered by name (node.Options.Providers),
// written against switchboard.Provider alone: the seam the walkthrough "Adding a provider" in
// docs/architecture.md describes. Its error codes are its own (7xxx) and map into classes.
type acmeProvider struct {
	mu   sync.Mutex
	sent []*switchboard.SendRequest
}

func (p *acmeProvider) Name() string { return "acme" }

func (p *acmeProvider) ErrorClass(code int) switchboard.ErrorClass {
	switch code {
	case 0:
		return switchboard.ClassNone
	case 7001:
		return switchboard.ClassOptedOut
	}
	return switchboard.ClassOther
}

func (p *acmeProvider) ErrorCode(class switchboard.ErrorClass) int {
	if class == switchboard.ClassOptedOut {
		return 7001
	}
	return 0
}

func (p *acmeProvider) Send(_ context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, req)
	return &switchboard.ProviderMessage{SID: fmt.Sprintf("acme-%d", len(p.sent)), To: req.To, From: req.From,
		ProviderStatus: "accepted", Status: switchboard.StatusSent}, nil
}

func (p *acmeProvider) Fetch(_ context.Context, sid string) (*switchboard.ProviderMessage, error) {
	return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, Class: switchboard.ClassNotFound, Message: "not kept"}
}

func (p *acmeProvider) Find(context.Context, switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	return nil, nil
}

func (p *acmeProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// openWithProviders opens (and starts) a node whose channel_providers is routes, with acme
// registered beside twilio.
func openWithProviders(t *testing.T, routes string, acme node.ProviderSet) (*node.Node, error) {
	t.Helper()
	env := map[string]string{
		"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": t.TempDir(),
		"SWITCHBOARD_CHANNEL_PROVIDERS": routes,
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(context.Background(), cfg, testLogger(t), node.Options{Providers: map[string]node.ProviderSet{"acme": acme}})
	if err != nil {
		return nil, err
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return n, nil
}

// TestChannelProvidersRouteSends: with channel_providers sms=acme, an SMS accepted by the API
// goes through the registered provider (its SID, its name on the timeline) and never reaches
// Twilio (the simulator); a recipient who texted STOP is blocked with acme's code for the
// opted-out class. An unknown provider name, or voice routed to a provider without calls,
// stops start-up with one line naming SWITCHBOARD_CHANNEL_PROVIDERS.
func TestChannelProvidersRouteSends(t *testing.T) {
	t.Parallel()
	acme := &acmeProvider{}
	n, err := openWithProviders(t, "sms=acme", node.ProviderSet{Messages: acme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, secret, err := node.CreateAPIKey(ctx, n.Store(), "test", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	api := client.New(n.URL(), secret, client.WithRetries(0))
	tn := &testNode{Node: &testkit.Node{Node: n, Client: api, Secret: secret}, secret: secret, client: api}
	m, err := tn.client.Send(ctx, &client.SendRequest{To: "+14155550191", Body: "through acme"})
	if err != nil {
		t.Fatal(err)
	}
	got := tn.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusSent)
	if got.ProviderSID != "acme-1" || !hasDetail(got, "handing the message to acme") {
		t.Fatalf("sent as %q, timeline %+v: want acme's SID and its name", got.ProviderSID, got.Events)
	}
	if len(tn.simByTo("+14155550191")) != 0 {
		t.Fatal("the SMS also reached the simulator")
	}

	// Accepted for later, then opted out: the dispatcher's consent check blocks it.
	m, err = tn.client.Send(ctx, &client.SendRequest{To: "+14155550192", Body: "not wanted", SendAt: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Store().RecordConsent(ctx, &switchboard.ConsentRecord{Phone: "+14155550192", Scope: switchboard.ScopeAll,
		State: switchboard.ConsentOptedOut, Source: switchboard.ConsentFromKeyword, Evidence: "STOP", Actor: "test", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	got = tn.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusBlocked)
	if got.ErrorCode != 7001 {
		t.Errorf("blocked by consent with code %d, want acme's 7001 for the opted-out class", got.ErrorCode)
	}
	if acme.count() != 1 {
		t.Fatalf("acme got %d messages, want 1", acme.count())
	}

	for routes, want := range map[string]string{"whatsapp=nexmo": `"nexmo"`, "voice=acme": "places no calls"} {
		_, err := openWithProviders(t, routes, node.ProviderSet{Messages: acme})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "SWITCHBOARD_CHANNEL_PROVIDERS") {
			t.Errorf("%s: error %v, want one naming %s and SWITCHBOARD_CHANNEL_PROVIDERS", routes, err, want)
		}
	}
}
