package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// exampleGateway stands in for a Switchboard gateway so that the examples run on their own; in an
// application the base URL is the gateway's, such as os.Getenv("SWITCHBOARD_URL").
func exampleGateway() *httptest.Server {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	m := &switchboard.Message{
		ID: "msg_0190b6f2a1c07e8a9b3c4d5e6f708192", Status: switchboard.StatusQueued,
		Channel: switchboard.ChannelSMS, Category: switchboard.CategoryTransactional,
		To: "+14155550100", From: "+15005550006", Body: "Your technician is on the way.",
		Segments: 1, Encoding: switchboard.EncodingGSM7, CreatedAt: at, UpdatedAt: at,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(m)
	})
	mux.HandleFunc("GET /v1/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != m.ID {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"type":"urn:switchboard:error:message_not_found","title":"Not Found","status":404,"detail":"message msg_unknown not found","code":"message_not_found"}`)
			return
		}
		delivered := *m
		delivered.Status, delivered.ProviderSID = switchboard.StatusDelivered, "SM0123456789abcdef0123456789abcdef"
		delivered.Events = []*switchboard.Event{
			{ID: 1, MessageID: m.ID, Type: switchboard.EventCreated, Status: switchboard.StatusQueued, Actor: "api:billing", At: at},
			{ID: 2, MessageID: m.ID, Type: switchboard.EventStatusChanged, Status: switchboard.StatusSent, Actor: "dispatch", At: at.Add(time.Second)},
			{ID: 3, MessageID: m.ID, Type: switchboard.EventCallback, Status: switchboard.StatusDelivered, Actor: "twilio", At: at.Add(3 * time.Second)},
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&delivered)
	})
	return httptest.NewServer(mux)
}

// Send a message, then look it up with its timeline.
func Example() {
	gw := exampleGateway()
	defer gw.Close()
	ctx := context.Background()

	c := client.New(gw.URL, "sk_live_example")
	m, err := c.Send(ctx, &client.SendRequest{
		To:   "+14155550100",
		Body: "Your technician is on the way.",
		// A key of your own makes the send safe to repeat, even from another process: the
		// gateway answers a repeat with the message it already accepted.
		IdempotencyKey: "job-4711/on-the-way",
		Metadata:       map[string]string{"job": "4711"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.ID, m.Status, m.Segments, "segment")

	m, err = c.Get(ctx, m.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("now", m.Status)
	for _, e := range m.Events {
		fmt.Println(e.At.Format(time.TimeOnly), e.Type, e.Status, "by", e.Actor)
	}

	if _, err := c.Get(ctx, "msg_unknown"); client.IsNotFound(err) {
		fmt.Println("msg_unknown:", err)
	}
	// Output:
	// msg_0190b6f2a1c07e8a9b3c4d5e6f708192 queued 1 segment
	// now delivered
	// 15:04:05 created queued by api:billing
	// 15:04:06 status_changed sent by dispatch
	// 15:04:08 callback delivered by twilio
	// msg_unknown: switchboard: 404 Not Found (message_not_found): message msg_unknown not found
}

// Telling errors apart by their stable code.
func ExampleIsCode() {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"type":"urn:switchboard:error:not_cancelable","title":"Conflict","status":409,`+
			`"detail":"message msg_1 was already handed to the provider or is finished","code":"not_cancelable"}`)
	}))
	defer gw.Close()

	c := client.New(gw.URL, "sk_live_example")
	_, err := c.Cancel(context.Background(), "msg_1")
	switch {
	case client.IsCode(err, "not_cancelable"):
		fmt.Println("too late to cancel")
	case err != nil:
		fmt.Println("error:", err)
	}
	// Output: too late to cancel
}
