package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/bench"
)

// newBenchOutageCmd is `switchboard bench outage`, with the bench command's persistent flags.
func newBenchOutageCmd(cfg *bench.Config, asJSON *bool, logLevel *string) *cobra.Command {
	var oc bench.OutageConfig
	cmd := &cobra.Command{
		Use:   "outage",
		Short: "Provider outage drill: the simulator refuses connections, then answers 503, under load; reports the calls that reached it and the drain",
		Long: `Boot a node in-process sending to a simulator on its own address, offer --rate messages a
second, then take the provider down for --outage: first its address refuses connections, then it
answers 503 to every request. Reports the provider calls made during the outage (the circuit
breaker holds them to its probes), that the API kept accepting and nothing failed, how fast the
backlog drained when the provider returned (the sender runs at --sender-rate), and lost and
duplicated messages counted at the simulator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := oc
			c.Config = *cfg
			logger, err := newLogger(cmd.ErrOrStderr(), *logLevel, "text")
			if err != nil {
				return err
			}
			c.Logger, c.Progress = logger, cmd.ErrOrStderr()
			r, runErr := bench.Outage(cmd.Context(), c)
			if r != nil {
				if err := printBenchResult(cmd, r, *asJSON); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if !r.Verified {
				return fmt.Errorf("outage: check failed: %s", r.Check)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&oc.Outage, "outage", 2*time.Minute, "how long the provider is down (first half connection refused, second half 503)")
	f.DurationVar(&oc.Before, "before", 5*time.Second, "normal operation before the outage")
	f.IntVar(&oc.Rate, "rate", 50, "messages per second offered to the API")
	f.IntVar(&oc.SenderRate, "sender-rate", 0, "the sender's rate in segments per second (default twice --rate)")
	f.DurationVar(&oc.DrainTimeout, "drain-timeout", 5*time.Minute, "how long to wait for the backlog after the outage")
	f.DurationVar(&oc.Breaker.MinOpen, "breaker-min-open", 0, "the circuit's first wait before a probe (default 1s)")
	f.DurationVar(&oc.Breaker.MaxOpen, "breaker-max-open", 0, "the circuit's longest wait between probes (default 30s)")
	f.IntVar(&oc.Breaker.Threshold, "breaker-threshold", 0, "failed calls in a row that open the circuit (default 5; a huge value shows the drill without a breaker)")
	return cmd
}
