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
	fmt.Fprintf(&b, "  dispatch    %.1f msg/s reached the simulator, first to last; the circuit breaker opened %d time(s)\n", r.DispatchRatePerS, r.CircuitOpens)
	fmt.Fprintf(&b, "  outcome     lost %d, duplicated %d, failed as entitled %d, still pending %d, idempotency mismatches %d\n",
		r.Lost, r.Duplicated, r.FailedEntitled, r.Pending, r.IdempotencyMismatches)
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

// WriteText prints the outage drill's figures.
func (r *OutageResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "provider outage drill: one node on %s, %d cores (load average %.2f)\n", r.Database, r.Cores, r.LoadAvg1m)
	fmt.Fprintf(&b, "  outage      %s: connection refused for %s, then 503 for %s; %d msg/s offered, sender at %d/s\n",
		seconds(r.OutageS), seconds(r.RefusedS), seconds(r.Status503S), r.RatePerS, r.SenderRate)
	fmt.Fprintf(&b, "  before      %.1f provider calls/s\n", r.CallsBeforePerS)
	fmt.Fprintf(&b, "  circuit     opened %.2fs into the outage after %d calls; closed %.2fs after the provider returned; events %v\n",
		r.OpenAfterS, r.CallsToOpen, r.ClosedAfterS, r.CircuitEvents)
	fmt.Fprintf(&b, "  during      %d provider calls (%.3f/s); %d while open (%.3f/s, probes); %d requests reached the 503 answer (%.3f/s)\n",
		r.CallsOutage, r.CallsOutagePerS, r.CallsWhileOpen, r.CallsWhileOpenPerS, r.Requests503, r.Requests503PerS)
	fmt.Fprintf(&b, "  API         %d offered, %d accepted (%d during the outage), %d never accepted; %d ended during the outage\n",
		r.Offered, r.Accepted, r.AcceptedDuringOutage, r.AcceptFailures, r.EndedDuringOutage)
	fmt.Fprintf(&b, "  drain       backlog %d drained in %s at %.1f msg/s (%.0f%% of the sender's %d/s)\n",
		r.Backlog, seconds(r.DrainS), r.DrainRatePerS, 100*r.DrainRatio, r.SenderRate)
	fmt.Fprintf(&b, "  simulator   %d sent, %d delivered; lost %d, duplicated %d\n", r.Sent, r.Delivered, r.Lost, r.Duplicated)
	fmt.Fprintf(&b, "  check       %s\n", r.Check)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
