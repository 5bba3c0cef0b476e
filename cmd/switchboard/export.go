package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/export"
	"github.com/switchboard-gw/switchboard/internal/node"
)

func newExportCmd(getenv env) *cobra.Command {
	var (
		since, until time.Time
		format, out  string
	)
	cmd := &cobra.Command{
		Use:   "export messages|consent",
		Short: "Audit export from the database: who was contacted and on which consent, or the consent registry",
		Long: `Export for audits, read from the database (SWITCHBOARD_DATABASE_URL):
  messages  who was contacted, when, from which sender, with which template, the outcome, and the
            consent in force when each message was accepted (newest first)
  consent   every consent change: opt-outs and opt-ins with their source and evidence (oldest first)`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"messages", "consent"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			st, err := node.OpenStore(cmd.Context(), cfg.DatabaseURL, node.StoreOptionsOf(cfg))
			if err != nil {
				return err
			}
			defer st.Close()
			var w io.Writer = cmd.OutOrStdout()
			if out != "" {
				f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			var n int
			switch args[0] {
			case "messages":
				n, err = export.Messages(cmd.Context(), st, w, since, until, format)
			case "consent":
				n, err = export.Consent(cmd.Context(), st, w, since, until, format)
			default:
				return fmt.Errorf("export messages or export consent, not %q", args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d row(s)\n", n)
			return nil
		},
	}
	f := cmd.Flags()
	f.TimeVar(&since, "since", time.Time{}, []string{time.RFC3339, time.DateOnly}, "from this time (inclusive)")
	f.TimeVar(&until, "until", time.Time{}, []string{time.RFC3339, time.DateOnly}, "to this time (exclusive)")
	f.StringVar(&format, "format", "csv", "csv or jsonl")
	f.StringVarP(&out, "output", "o", "", "write to this file (mode 0600) instead of stdout")
	config.BindFlags(f)
	return cmd
}
