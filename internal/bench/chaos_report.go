package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the chaos soak's figures.
func (r *ChaosResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos soak: %d node(s) on %s, %d cores (load average %.2f)\n", r.Nodes, r.Database, r.Cores, r.LoadAvg1m)
	fmt.Fprintf(&b, "  load        %d msg/s offered for %s, %d SIGKILLs (restart to ready: p50 %s, max %s), drained in %s\n",
		r.RatePerS, seconds(r.LoadS), r.Kills, millis(r.RestartP50MS), millis(r.RestartMaxMS), seconds(r.DrainS))
	fmt.Fprintf(&b, "  faults      429 %.0f%%, 500 %.0f%%, timeout %.0f%% (%d ms), callbacks: %d duplicate(s), shuffled %v, %.0f%% dropped\n",
		100*r.Faults.Status429Ratio, 100*r.Faults.Status500Ratio, 100*r.Faults.TimeoutRatio, r.Faults.TimeoutMS,
		r.Faults.CallbackDuplicates, r.Faults.CallbackShuffle, 100*r.Faults.CallbackDropRatio)
	fmt.Fprintf(&b, "  API         %d offered, %d accepted, %d unconfirmed, %d requests retried\n", r.Offered, r.Accepted, r.Unconfirmed, r.APIRetries)
	fmt.Fprintf(&b, "  simulator   %d sent, %d delivered, %d failed at the provider (%d callbacks answered 2xx, %d failed attempts)\n",
		r.Sent, r.Delivered, r.FailedAtProvider, r.SimStats.CallbacksDelivered, r.SimStats.CallbackAttemptsFailed)
	fmt.Fprintf(&b, "  outcome     lost %d, duplicated %d, failed as entitled %d, idempotency mismatches %d\n",
		r.Lost, r.Duplicated, r.FailedEntitled, r.IdempotencyMismatches)
	fmt.Fprintf(&b, "  check       %s\n", r.Check)
	for _, e := range r.Examples {
		fmt.Fprintf(&b, "  example     %s\n", e)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
