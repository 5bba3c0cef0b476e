package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/web"
)

// BenchDashboardPages serves every dashboard page from db, which the caller filled with its
// 1,000,000 messages from sender from, through HTTP with a logged-in session: the time per page is
// the store's queries plus rendering. It adds one message, call, endpoint, conversation and API key
// for the pages that show one, and reports each page's worst time (worst-ms) beside ns/op. The
// SQLite and PostgreSQL stores' BenchmarkDashboardPages call it after their own fill.
func BenchDashboardPages(b *testing.B, db switchboard.Store, from string) {
	ctx := b.Context()
	now := time.Now().UTC()
	// One message of each kind the pages link to, made through the store as the API would.
	m := &switchboard.Message{ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550123", From: from, Body: "Your technician is on the way",
		Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, BodyLength: 29}
	if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
		b.Fatal(err)
	}
	c := &switchboard.Call{ID: switchboard.NewID("call"), Status: switchboard.CallQueued, To: "+14155550177", From: from,
		Flow: "appointment", FlowVersion: 1, Token: "tok", MaxAttempts: 2, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
	if _, _, err := db.CreateCall(ctx, c, nil); err != nil {
		b.Fatal(err)
	}
	if err := db.CreateEndpoint(ctx, &switchboard.Endpoint{ID: "ep_a", URL: "https://a.example.com/hooks", EventTypes: []string{"*"},
		Source: "api", Secrets: []switchboard.EndpointSecret{{Secret: "whsec_" + strings.Repeat("A", 32)}}, CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	convs, _, err := db.ListConversations(ctx, switchboard.ConversationFilter{TheirNumber: m.To})
	if err != nil || len(convs) != 1 {
		b.Fatalf("conversation: %v %v", convs, err)
	}
	secret := "sb_bench_" + strings.Repeat("k", 40)
	if err := db.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_bench", Name: "bench", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	w, err := web.New(web.Config{Store: db, Logger: slog.New(slog.DiscardHandler), Senders: []switchboard.Sender{{From: from}},
		QueueStats: func(ctx2 context.Context) ([]web.SenderQueue, error) {
			// As the node wires it: bounded at switchboard.QueueCountLimit.
			qs, err := db.QueueStats(ctx2, time.Now(), switchboard.QueueCountLimit)
			out := make([]web.SenderQueue, 0, len(qs))
			for _, q := range qs {
				out = append(out, web.SenderQueue{From: q.Sender, Ready: q.Ready, Deferred: q.Deferred,
					ReadyCapped: q.ReadyCapped, DeferredCapped: q.DeferredCapped, OldestDue: q.OldestDueAt})
			}
			return out, err
		}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		resp, err := cl.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, login := get("/ui/login")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(login)
	if csrf == nil {
		b.Fatal("no CSRF token on the login page")
	}
	resp, err := cl.PostForm(srv.URL+"/ui/login", url.Values{"csrf": {csrf[1]}, "api_key": {secret}})
	if err != nil {
		b.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("login: %s", resp.Status)
	}
	pages := []string{"/ui/", "/ui/messages", "/ui/messages?q=0123", "/ui/messages?status=failed", "/ui/messages/" + m.ID,
		"/ui/failures", "/ui/charts", "/ui/charts?range=7d", "/ui/inbound", "/ui/optouts", "/ui/calls", "/ui/calls/" + c.ID,
		"/ui/verifications", "/ui/conversations", "/ui/conversations/" + convs[0].ID, "/ui/endpoints", "/ui/endpoints/ep_a", "/ui/senders"}
	for _, p := range pages {
		b.Run(strings.TrimPrefix(fmt.Sprintf("%q", p), "\"/ui/"), func(b *testing.B) {
			var worst time.Duration
			for b.Loop() {
				t0 := time.Now()
				if code, body := get(p); code != http.StatusOK {
					b.Fatalf("GET %s: %d\n%s", p, code, body)
				}
				worst = max(worst, time.Since(t0))
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		})
	}
}
