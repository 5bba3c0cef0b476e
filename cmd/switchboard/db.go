package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/dbcopy"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

func newDBCmd(getenv env) *cobra.Command {
	db := &cobra.Command{
		Use:   "db",
		Short: "Database tools (copy a database to another engine, back SQLite up)",
	}
	var from, to string
	var force bool
	cp := &cobra.Command{
		Use:   "copy --from URL --to URL",
		Short: "Copy every table of one database into another, e.g. an embedded SQLite file into PostgreSQL",
		Long: `Copy every table of one Switchboard database into another: messages with their timelines,
API keys, idempotency keys, senders and sticky senders, inbound messages, provider callbacks
(pending ones included) and consent history, keeping every ID.

The source is only read, from one consistent snapshot (a SQLite file is opened read-only); stop
serve on it first, or messages accepted during the copy stay behind. The target is migrated, then
filled in one transaction: a copy that fails leaves it as it was. A target that holds any row is
refused unless --force, which deletes its rows first. Row counts are compared afterwards.

  switchboard db copy --from sqlite:data/switchboard.db --to postgres://user@host/switchboard`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return errors.New("--from and --to are both required")
			}
			return copyDB(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), from, to, force)
		},
	}
	cp.Flags().StringVar(&from, "from", "", "the database to copy: sqlite:PATH or postgres://...")
	cp.Flags().StringVar(&to, "to", "", "the database to copy into: postgres://... or sqlite:PATH")
	cp.Flags().BoolVar(&force, "force", false, "delete the target's rows first when it is not empty")
	db.AddCommand(cp, newDBBackupCmd(getenv))
	return db
}

// copyDB runs `db copy`.
func copyDB(ctx context.Context, stdout, stderr io.Writer, from, to string, force bool) error {
	srcEngine, srcDSN, err := config.ParseDatabaseURL(from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	dstEngine, dstDSN, err := config.ParseDatabaseURL(to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if same, err := sameDatabase(srcEngine, srcDSN, dstEngine, dstDSN); err != nil {
		return err
	} else if same {
		return errors.New("--from and --to name the same database")
	}

	src, srcPG, closeSrc, err := openSource(ctx, srcEngine, srcDSN)
	if err != nil {
		return err
	}
	defer closeSrc()
	dst, dstPG, closeDst, err := openTarget(ctx, dstEngine, dstDSN)
	if err != nil {
		return err
	}
	defer closeDst()
	if dstPG != nil {
		if srcPG != nil {
			a, err := srcPG.Identity(ctx)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			b, err := dstPG.Identity(ctx)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if a == b {
				return errors.New("--from and --to name the same database")
			}
		}
		if _, err := dstPG.Migrate(ctx); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}

	fmt.Fprintf(stdout, "copying %s to %s\n", redact(from), redact(to))
	began := time.Now()
	rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{
		Force: force,
		BeforeEmpty: func(held []dbcopy.TableCount) {
			fmt.Fprintf(stderr, "WARNING: --force: %s is not empty; DELETING its rows before the copy:\n", redact(to))
			for _, h := range held {
				fmt.Fprintf(stderr, "WARNING:   %s: %d\n", h.Table, h.Rows)
			}
		},
	})
	var notEmpty *dbcopy.NotEmptyError
	if errors.As(err, &notEmpty) {
		return fmt.Errorf("refusing to copy into %s: it already holds data (%s). Nothing was copied. "+
			"To replace its data with the source's, run again with --force, which deletes it", redact(to), formatHeld(notEmpty.Held))
	}
	if rep != nil {
		printReport(stdout, rep)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %d rows in %s; the target's row counts match the source's\n",
		rep.Rows(), time.Since(began).Round(time.Millisecond))
	return nil
}

func formatHeld(held []dbcopy.TableCount) string {
	parts := make([]string, len(held))
	for i, h := range held {
		parts[i] = fmt.Sprintf("%s: %d", h.Table, h.Rows)
	}
	return strings.Join(parts, ", ")
}

// printReport prints the row counts as a table: names left, numbers right.
func printReport(w io.Writer, rep *dbcopy.Report) {
	width := len("TABLE")
	for _, t := range rep.Tables {
		width = max(width, len(t.Table))
	}
	fmt.Fprintf(w, "%-*s  %10s  %10s  %10s\n", width, "TABLE", "SOURCE", "COPIED", "TARGET")
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "%-*s  %10d  %10d  %10d\n", width, t.Table, t.Source, t.Copied, t.Target)
	}
}

// openSource opens the database to copy from, read-only. A PostgreSQL source's store is returned
// too.
func openSource(ctx context.Context, engine, dsn string) (dbcopy.Source, *postgres.DB, func(), error) {
	switch engine {
	case "sqlite":
		r, err := sqlite.OpenReader(ctx, dsn)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--from: %w", err)
		}
		return r, nil, func() { r.Close() }, nil
	case "postgres":
		// Not migrated: the source is never written.
		db, err := postgres.Open(ctx, dsn, postgres.WithoutMigrate(), postgres.WithMaxConns(2))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--from: %w", err)
		}
		r, err := db.OpenReader(ctx)
		if err != nil {
			db.Close()
			return nil, nil, nil, fmt.Errorf("--from: %w", err)
		}
		return r, db, func() { r.Close(); db.Close() }, nil
	}
	return nil, nil, nil, fmt.Errorf("--from: database engine %s is not available in this build", engine)
}

// openTarget opens the database to copy into. SQLite is migrated as it opens; a PostgreSQL
// store is returned too, not migrated yet, so that it is told apart from the source first.
func openTarget(ctx context.Context, engine, dsn string) (dbcopy.Target, *postgres.DB, func(), error) {
	switch engine {
	case "sqlite":
		db, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--to: %w", err)
		}
		return db, nil, func() { db.Close() }, nil
	case "postgres":
		db, err := postgres.Open(ctx, dsn, postgres.WithoutMigrate(), postgres.WithMaxConns(4))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--to: %w", err)
		}
		return db, db, func() { db.Close() }, nil
	}
	return nil, nil, nil, fmt.Errorf("--to: database engine %s is not available in this build", engine)
}

// sameDatabase reports whether two database URLs name one database, as far as can be told
// without connecting: one SQLite file, or one PostgreSQL URL. (Two spellings of one PostgreSQL
// database are told by postgres.DB.Identity once connected.)
func sameDatabase(engineA, dsnA, engineB, dsnB string) (bool, error) {
	if engineA != engineB {
		return false, nil
	}
	if engineA != "sqlite" {
		return dsnA == dsnB, nil
	}
	a, err := os.Stat(dsnA)
	if err != nil {
		return false, nil //nolint:nilerr // not the same database: OpenReader reports the missing file
	}
	b, err := os.Stat(dsnB)
	if err != nil {
		return false, nil //nolint:nilerr // a file not made yet is not the source
	}
	return os.SameFile(a, b), nil
}

// redact drops the password from a database URL, for output.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
