package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// errPostgresBackup answers `db backup` on PostgreSQL: its own tools do it better.
var errPostgresBackup = errors.New("db backup makes SQLite backups; back PostgreSQL up with its own tools: " +
	"pg_dump --format=custom (a logical snapshot, restored with pg_restore) or pg_basebackup with WAL " +
	"archiving for point-in-time recovery — commands in docs/production.md, section Backups")

func newDBBackupCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup PATH",
		Short: "Write a consistent copy of the SQLite database to PATH, while serve keeps running",
		Long: `Write a consistent online backup of the SQLite database (SWITCHBOARD_DATABASE_URL, default
data/switchboard.db) to PATH, a new file: serve may keep accepting and sending meanwhile. The copy
holds every message accepted before the backup began and none half-written (SQLite's VACUUM INTO
reads one snapshot); it is fsynced, checked with PRAGMA integrity_check, and only then appears at
PATH. An existing PATH is never overwritten.

Restore: stop serve, move the backup to the database's path (removing its -wal and -shm files),
start serve. For PostgreSQL use pg_dump or pg_basebackup (docs/production.md).

  switchboard db backup backups/switchboard-$(date -u +%Y%m%dT%H%M%SZ).db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			engine, dsn, err := config.ParseDatabaseURL(cfg.DatabaseURL)
			if err != nil {
				return err
			}
			if engine != "sqlite" {
				return errPostgresBackup
			}
			began := time.Now()
			res, err := sqlite.Backup(cmd.Context(), dsn, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s to %s: %d bytes, %d messages, integrity ok, in %s\n",
				dsn, res.Path, res.Bytes, res.Messages, time.Since(began).Round(time.Millisecond))
			return nil
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}
