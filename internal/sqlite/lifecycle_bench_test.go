package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMessageLifecycle measures what one message costs the store from accept to delivery,
// in the dispatcher's and the webhook handler's order of calls: CreateMessage, ClaimMessages,
// the attempt (UpdateMessage, in flight), the provider's acceptance (UpdateMessage with the
// provider SID, the lease released), and the sent and delivered callbacks. 32 goroutines, each
// with its own sender, share the one writer as the node's dispatchers and handlers do. cpu-us/op
// is the process's CPU per message, the figure to compare between builds: the wall time is bound
// by the disk's fsyncs, which group commit amortises differently from run to run.
func BenchmarkMessageLifecycle(b *testing.B) {
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	var n, senders atomic.Int64
	b.SetParallelism(16) // 32 goroutines on 2 cores
	c0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		from := fmt.Sprintf("+1500555%04d", senders.Add(1))
		owner := "bench" + from
		for pb.Next() {
			i := n.Add(1)
			at := t0.Add(time.Duration(i) * time.Millisecond)
			m := &switchboard.Message{ID: fmt.Sprintf("msg_%09d", i), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
				Category: switchboard.CategoryTransactional, To: fmt.Sprintf("+1415555%04d", i%10000), From: from,
				Body: "Job #42 assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.", Segments: 1,
				Encoding: switchboard.EncodingGSM7, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
			if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
				b.Error(err)
				return
			}
			claimed, err := db.ClaimMessages(ctx, switchboard.ClaimParams{From: from, Owner: owner, Now: at, LeaseUntil: at.Add(time.Minute), Limit: 10})
			if err != nil || len(claimed) != 1 {
				b.Errorf("claim: %d messages, %v", len(claimed), err)
				return
			}
			inFlight, notInFlight, lease := true, false, at.Add(time.Minute)
			if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: owner,
				RequireStatus:            []switchboard.Status{switchboard.StatusQueued, switchboard.StatusScheduled},
				RequireNoAttemptInFlight: true, AttemptInFlight: &inFlight, AttemptStartedAt: &at, IncAttempts: true, LeaseUntil: &lease, At: at,
				Events: []*switchboard.Event{{Type: switchboard.EventAttempt, Actor: owner, At: at, Detail: "attempt 1: handing the message to twilio"}},
			}); err != nil {
				b.Error(err)
				return
			}
			sid := fmt.Sprintf("SM%032d", i)
			if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending, ProviderSID: &sid,
				AttemptInFlight: &notInFlight, ReleaseLease: true, At: at,
				Events: []*switchboard.Event{{Type: switchboard.EventStatusChanged, Status: switchboard.StatusSending, Actor: owner, At: at,
					Payload: []byte(`{"sid":"` + sid + `","status":"queued"}`), Detail: "handed to twilio as " + sid}},
			}); err != nil {
				b.Error(err)
				return
			}
			for k, st := range []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered} {
				if _, err := db.IngestCallback(ctx, &switchboard.Callback{ProviderSID: sid, ProviderStatus: string(st), Status: st,
					Payload:    []byte(`{"MessageSid":"` + sid + `","MessageStatus":"` + string(st) + `","AccountSid":"AC123"}`),
					ReceivedAt: at.Add(time.Duration(k+1) * time.Second)}); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1000, "cpu-us/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
