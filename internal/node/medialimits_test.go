package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// TestMMSMediaOverLimitBlocked: an MMS whose image is over Twilio's 5 MB limit ends blocked
// (30019, the reason naming the URL, its size and the limit) with nothing sent to the
// simulator; one within the limit is delivered with the check on its timeline.
func TestMMSMediaOverLimitBlocked(t *testing.T) {
	t.Parallel()
	files := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := 4 << 20
		if r.URL.Path == "/big.jpg" {
			size = 6 << 20
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(size))
	}))
	t.Cleanup(files.Close)
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true"},
		mediaTLS: files.Client().Transport.(*http.Transport).TLSClientConfig})
	ctx := context.Background()
	const person = "+14155550181"
	m, err := n.client.Send(ctx, &client.SendRequest{To: person, Body: "look", MediaURLs: []string{files.URL + "/small.jpg", files.URL + "/big.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != switchboard.ChannelMMS {
		t.Fatalf("channel %s", m.Channel)
	}
	m = n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusBlocked)
	if m.ErrorCode != 30019 /* Twilio's code for ClassMediaTooLarge */ || !strings.Contains(m.ErrorMessage, "media_urls[1] (image/jpeg) is 6.0 MB") ||
		!strings.Contains(m.ErrorMessage, "limit of 5.0 MB") {
		t.Fatalf("blocked message: code %d %q", m.ErrorCode, m.ErrorMessage)
	}
	if got := n.simByTo(person); len(got) != 0 {
		t.Fatalf("the simulator got %d messages: %+v", len(got), got)
	}

	ok, err := n.client.Send(ctx, &client.SendRequest{To: person, Body: "look", MediaURLs: []string{files.URL + "/small.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	ok = n.waitStatus(t, ok.ID, 10*time.Second, switchboard.StatusDelivered)
	if !hasDetail(ok, "media size checked: 1 of 1 within Twilio's limits") {
		t.Fatalf("timeline does not show the media check: %+v", ok.Events)
	}
	if got := n.simByTo(person); len(got) != 1 || len(got[0].MediaURLs) != 1 {
		t.Fatalf("simulator messages: %+v", got)
	}
}

// TestWhatsAppReadReceipt: a delivered WhatsApp message is read: status read, a read callback
// on its timeline and a message.status_changed event delivered→read in the event log.
func TestWhatsAppReadReceipt(t *testing.T) {
	t.Parallel()
	n := startWANode(t, nil, nil)
	ctx := context.Background()
	const person = "+14155550182"
	n.whatsappIn(t, person)
	m, err := n.client.Send(ctx, &client.SendRequest{To: person, Channel: switchboard.ChannelWhatsApp, Body: "Your table is ready"})
	if err != nil {
		t.Fatal(err)
	}
	m = n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusRead)
	readCallback := slices.ContainsFunc(m.Events, func(e *switchboard.Event) bool {
		return e.Type == switchboard.EventCallback && e.Status == switchboard.StatusRead
	})
	if !readCallback {
		t.Fatalf("no read callback on the timeline: %+v", m.Events)
	}
	// The simulator posts the delivered and read callbacks 10 ms apart on concurrent workers:
	// under load read may arrive first, and then the message moves sent→read (the late
	// delivered callback moves nothing back). Either way the last move is to read.
	var moves []string
	waitFor(t, 5*time.Second, "the move to read in the event log", func() bool {
		evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppMessageStatusChanged}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		moves = moves[:0]
		for _, ev := range evs {
			var d switchboard.MessageStatusChangedData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.MessageID == m.ID {
				moves = append(moves, string(d.OldStatus)+"→"+string(d.Status))
			}
		}
		return len(moves) > 0 && strings.HasSuffix(moves[len(moves)-1], "→read")
	})
	if last := moves[len(moves)-1]; moves[0] != "queued→sending" || (last != "delivered→read" && last != "sent→read") {
		t.Fatalf("moves: %v", moves)
	}
	t.Logf("moves: %v", moves)
}
