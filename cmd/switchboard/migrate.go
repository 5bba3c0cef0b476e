package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/postgres"
)

func newMigrateCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (serve does this at start unless SWITCHBOARD_MIGRATE=false)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			engine, dsn, err := config.ParseDatabaseURL(cfg.DatabaseURL)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if engine == "postgres" {
				db, err := postgres.Open(cmd.Context(), dsn, postgres.WithoutMigrate(), postgres.WithMaxConns(2))
				if err != nil {
					return err
				}
				defer db.Close()
				n, err := db.Migrate(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "applied %d migration(s); the schema is up to date\n", n)
				return nil
			}
			// SQLite migrates when it opens: one process owns the file.
			st, err := node.OpenStore(cmd.Context(), cfg.DatabaseURL, node.StoreOptions{Migrate: true})
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintln(out, "the schema is up to date")
			return nil
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}
