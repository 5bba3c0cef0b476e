package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/export"
)

func newExportCmd(getenv env) *cobra.Command {
	var (
		since, until whenFlag
		format, out  string
	)
	cmd := &cobra.Command{
		Use:   "export messages|consent",
		Short: "Audit export from the database: who was contacted and on which consent, or the consent registry",
		Long: `Export for audits, read from the server's database, found as serve finds it (--database-url,
SWITCHBOARD_DATABASE_URL, the config file of --config or SWITCHBOARD_CONFIG, else
sqlite:<data_dir>/switchboard.db); it never creates a database:
  messages  who was contacted, when, from which sender, with which template, the outcome, and the
            consent in force when each message was accepted (newest first)
  consent   every consent change: opt-outs and opt-ins with their source and evidence (oldest first)`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"messages", "consent"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "messages" && args[0] != "consent" {
				return usageErrorf("export messages or export consent, not %q", args[0])
			}
			if format != "csv" && format != "jsonl" {
				return usageErrorf("--format must be csv or jsonl, not %q", format)
			}
			st, err := openServerStore(cmd.Context(), cmd.Flags(), getenv, "export")
			if err != nil {
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
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
				n, err = export.Messages(cmd.Context(), st, w, since.t, until.t, format)
			case "consent":
				n, err = export.Consent(cmd.Context(), st, w, since.t, until.t, format)
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
	f.Var(&since, "since", "from this time (inclusive): "+whenHelp)
	f.Var(&until, "until", "to this time (exclusive): "+whenHelp)
	f.StringVar(&format, "format", "csv", "csv or jsonl")
	f.StringVarP(&out, "output", "o", "", "write to this file (mode 0600) instead of stdout")
	bindStoreFlags(f)
	return cmd
}
