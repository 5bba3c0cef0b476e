package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkZZStatusVariant(b *testing.B) {
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v := os.Getenv("SB_VARIANT")
	var drop []string
	if strings.Contains(v, "nochart") {
		drop = append(drop, "chart_message_insert", "chart_message_update", "chart_message_delete", "chart_event_insert", "chart_event_delete")
	}
	if strings.Contains(v, "nousage") {
		drop = append(drop, "usage_message_finished", "usage_message_priced", "usage_message_insert", "usage_quota")
	}
	for _, d := range drop {
		if err := db.write(ctx, func(t *wtx) error { _, err := t.exec("DROP TRIGGER " + d); return err }); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	const msgs = 20000
	for i := range msgs {
		m := &switchboard.Message{ID: fmt.Sprintf("msg_%06d", i), Status: switchboard.StatusSending, Channel: switchboard.ChannelSMS,
			Category: switchboard.CategoryTransactional, To: "+15551230001", From: "+15005550006",
			Body: "Job #42 assigned", Segments: 1, Encoding: switchboard.EncodingGSM7,
			NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0, ProviderSID: fmt.Sprintf("SM%06d", i)}
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
	statuses := []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered}
	var n atomic.Int64
	b.SetParallelism(32)
	c0 := cpuNow()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			sid := fmt.Sprintf("SM%06d", (i/2)%msgs)
			st := statuses[i%2]
			_, err := db.IngestCallback(ctx, &switchboard.Callback{
				ProviderSID: sid, ProviderStatus: fmt.Sprintf("%s-%d", st, i/(2*msgs)), Status: st,
				Payload:    []byte(`{"MessageSid":"` + sid + `","MessageStatus":"` + string(st) + `","AccountSid":"AC123"}`),
				ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond),
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuNow()-c0)/float64(b.N)/1000, "cpu-us/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
}
