package twiliosim_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// BenchmarkCreateMessage measures the create path (form parsing, validation, storage, JSON
// answer) and the lifecycle it starts, with and without status callbacks posted to a local
// receiver.
func BenchmarkCreateMessage(b *testing.B) {
	b.Run("callbacks", func(b *testing.B) { benchmarkCreate(b, 1) })
	b.Run("no-callbacks", func(b *testing.B) { benchmarkCreate(b, 0) })
}

func benchmarkCreate(b *testing.B, cb int) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
	}))
	defer rcv.Close()
	sim := twiliosim.New(twiliosim.Config{
		SendingDelay: time.Millisecond, SentDelay: time.Millisecond, DeliveredDelay: time.Millisecond,
		MaxMessages: 100_000,
	})
	defer sim.Close()
	h := sim.Handler()
	path := "/2010-04-01/Accounts/" + sim.AccountSID() + "/Messages.json"
	form := url.Values{
		"To": {"+14155550100"}, "From": {twiliosim.MagicFrom}, "Body": {"Your job #4711 was assigned to Ann."},
	}
	if cb > 0 {
		form.Set("StatusCallback", rcv.URL+"/webhooks/twilio/status?message_id=01HXYZ")
	}
	body := form.Encode()
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(sim.AccountSID(), sim.AuthToken())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.StopTimer()
	deadline := time.Now().Add(30 * time.Second)
	for s := sim.Stats(); s.PendingEvents > 0 || s.CallbackQueue > 0; s = sim.Stats() {
		if time.Now().After(deadline) {
			b.Fatalf("lifecycle did not drain: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(sim.Stats().CallbacksDelivered)/float64(b.N), "callbacks/op")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s_drained")
}
