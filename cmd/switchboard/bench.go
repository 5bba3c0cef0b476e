package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/bench"
)

// newBenchCmd is `switchboard bench`: the benches of internal/bench, run in-process.
func newBenchCmd() *cobra.Command {
	var (
		cfg      bench.Config
		asJSON   bool
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput, latency, CPU and memory of a node run in-process",
		Long: `Boot a full node in-process on 127.0.0.1 with the real store (a fresh SQLite file unless
--database says otherwise) and the built-in simulator, load it with concurrent clients, and print
throughput, latency percentiles, CPU and peak memory, with the ceilings measured in the same run:
the store's raw insert rate and an empty handler's rate on an identically configured HTTP server.
Nothing leaves the machine; settings come from the flags only, not the environment.

With --database postgres://..., each node runs in a fresh schema of that database
(switchboard_bench_ and random hex digits; a chaos cluster's nodes share one), dropped when the
node stops, so runs do not see each other's rows and leave none behind. The user needs the
CREATE privilege on the database. A bench killed outright leaves its schema: drop it by name.`,
	}
	f := cmd.PersistentFlags()
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the measured phase and each ceiling run")
	f.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent clients (dispatch: provider calls in flight)")
	f.StringVar(&cfg.DatabaseURL, "database", "", "sqlite:PATH, or postgres://... where each node gets a fresh schema, dropped at its end (default: a fresh SQLite file in a temporary directory)")
	f.IntVar(&cfg.Messages, "messages", 0, "messages the dispatch bench enqueues (default 5000 per second of --duration)")
	f.IntVar(&cfg.Backlog, "backlog", bench.DefaultBacklog, "messages the backlog bench queues before it measures")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the measured phase to this file (all: one per bench, FILE-<bench>; dispatch adds FILE-no-callbacks)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per bench")
	f.StringVar(&logLevel, "log-level", "warn", "the node's log level (logs go to stderr); info adds serve's per-message lines")

	for _, name := range append(append([]string{}, bench.Names...), "all", "backlog", "rate") {
		short := map[string]string{
			"accept":   "POST /v1/messages: durable accepts per second",
			"webhooks": "signed Twilio status callbacks ingested per second",
			"dispatch": "queued messages handed to the simulator per second, with and without status callbacks",
			"twiml":    "IVR flow steps (signed TwiML requests) per second and their latency",
			"all":      "every bench in turn, as a table",
			"backlog":  "memory and claim cost with a backlog (default 1,000,000 queued): peak RSS while dispatching from it, claim time at 1,000 and at the full backlog (minutes; not part of all)",
			"rate":     "per-sender rate limits: three senders' achieved rates against their configured rates (±3%) and bursts (not part of all)",
		}[name]
		cmd.AddCommand(&cobra.Command{
			Use:   name,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				logger, err := newLogger(cmd.ErrOrStderr(), logLevel, "text")
				if err != nil {
					return err
				}
				c := cfg
				c.Logger = logger
				c.Progress = cmd.ErrOrStderr()
				rs, runErr := bench.Run(cmd.Context(), name, c)
				if err := printResults(cmd, rs, asJSON, name == "all"); err != nil {
					return err
				}
				if runErr != nil {
					return runErr
				}
				for _, r := range rs {
					if !r.Verified {
						return fmt.Errorf("%s: check failed: %s", r.Bench, r.Check)
					}
				}
				return nil
			},
		})
	}
	cmd.AddCommand(newBenchChaosCmd(&cfg, &asJSON, &logLevel))
	cmd.AddCommand(newBenchOutageCmd(&cfg, &asJSON, &logLevel))
	return cmd
}

func printResults(cmd *cobra.Command, rs []*bench.Result, asJSON, table bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if table && len(rs) > 0 {
		return bench.WriteTable(out, rs)
	}
	var errs []error
	for i, r := range rs {
		if i > 0 {
			fmt.Fprintln(out)
		}
		errs = append(errs, r.WriteText(out))
	}
	return errors.Join(errs...)
}
