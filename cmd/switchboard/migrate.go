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
		Long: `Apply the pending migrations to the database serve uses, found as serve finds it (--database-url,
SWITCHBOARD_DATABASE_URL, the config file of --config or SWITCHBOARD_CONFIG, else
sqlite:<data_dir>/switchboard.db). Unlike keys and export, it creates the schema (and a SQLite
file) when there is none: that is what it is for.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := config.Resolve(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			dbURL, source := r.DatabaseURL()
			engine, dsn, err := config.ParseDatabaseURL(dbURL)
			if err != nil {
				return &usageError{err}
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
				fmt.Fprintf(out, "%s (from %s): applied %d migration(s); the schema is up to date\n", redactURL(dbURL), source, n)
				return nil
			}
			// SQLite migrates when it opens: one process owns the file.
			st, err := node.OpenStore(cmd.Context(), dbURL, node.StoreOptions{Migrate: true})
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(out, "%s (from %s): the schema is up to date\n", dbURL, source)
			return nil
		},
	}
	bindStoreFlags(cmd.Flags())
	return cmd
}
