package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/bench"
)

// newBenchChaosCmd is `switchboard bench chaos`. It shares the bench command's persistent flags
// (cfg, asJSON, logLevel are bound to them).
func newBenchChaosCmd(cfg *bench.Config, asJSON *bool, logLevel *string) *cobra.Command {
	var cc bench.ChaosConfig
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Chaos soak: load with provider faults while serve processes are killed with SIGKILL; counts lost and duplicated messages at the simulator",
		Long: `Run switchboard serve as child processes (one on SQLite, --nodes on PostgreSQL behind a
load balancer) sending to a Twilio simulator in this process with faults on (429s, 500s, timeouts,
duplicated, shuffled and dropped callbacks). Offer --rate messages a second for --duration while a
serve process is killed with SIGKILL and restarted --kills times, then wait for every accepted
message to end and count at the simulator what was sent, delivered, lost and duplicated. Fails
unless lost and duplicated are 0. --duration defaults to 60s here.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := cc
			c.Config = *cfg
			if !cmd.Flags().Changed("duration") {
				c.Duration = time.Minute
			}
			logger, err := newLogger(cmd.ErrOrStderr(), *logLevel, "text")
			if err != nil {
				return err
			}
			c.Logger, c.Progress = logger, cmd.ErrOrStderr()
			r, runErr := bench.Chaos(cmd.Context(), c)
			if r != nil {
				if err := printBenchResult(cmd, r, *asJSON); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if !r.Verified {
				return fmt.Errorf("chaos: check failed: %s", r.Check)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cc.Kills, "kills", 20, "times a serve process is killed with SIGKILL and restarted")
	f.IntVar(&cc.Nodes, "nodes", 1, "serve processes (more than one needs --database postgres://...)")
	f.IntVar(&cc.Rate, "rate", 100, "messages per second offered to the API")
	f.DurationVar(&cc.DrainTimeout, "drain-timeout", 10*time.Minute, "how long to wait after the load for every accepted message to end")
	f.StringVar(&cc.KeepLogs, "keep-logs", "", "when the check fails, copy the nodes' output to this file")
	return cmd
}

// textResult is a bench result that prints itself as text.
type textResult interface{ WriteText(io.Writer) error }

// printBenchResult prints a chaos or outage result as text or as one JSON object.
func printBenchResult(cmd *cobra.Command, r textResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
	}
	return r.WriteText(cmd.OutOrStdout())
}
