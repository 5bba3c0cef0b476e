package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/pflag"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

// The commands that work on the server's database directly (keys, export, migrate) take only
// the settings that name it; they resolve them as serve does (flag, environment, config file).
var storeSettings = []string{"database_url", "data_dir"}

func bindStoreFlags(f *pflag.FlagSet) { config.BindFlagsOf(f, storeSettings...) }

// openServerStore opens the database serve uses with the same settings, and refuses to create
// one: a command run in the wrong directory would otherwise make a new, empty SQLite database
// next to it, where a key it creates is unknown to the running server.
func openServerStore(ctx context.Context, flags *pflag.FlagSet, getenv env, what string) (switchboard.Store, error) {
	r, err := config.Resolve(flags, getenv)
	if err != nil {
		return nil, err
	}
	dbURL, source := r.DatabaseURL()
	engine, dsn, err := config.ParseDatabaseURL(dbURL)
	if err != nil {
		return nil, &usageError{err}
	}
	notFound := func(why string) error {
		return &codedError{exit: exitNotFound, code: "database_not_found", err: fmt.Errorf("%s: %s (database %s, from %s). "+
			"%s works on the server's database and does not create one: run it where 'switchboard serve' runs, or name the server's "+
			"database with --database-url or SWITCHBOARD_DATABASE_URL, or its config file with --config or SWITCHBOARD_CONFIG",
			what, why, redactURL(dbURL), source, what)}
	}
	switch engine {
	case "sqlite":
		if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
			abs, _ := filepath.Abs(dsn)
			return nil, notFound("no database at " + abs)
		}
	case "postgres":
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot connect to %s (from %s): %w", what, redactURL(dbURL), source, err)
		}
		var reg *string
		err = conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations')::text").Scan(&reg)
		conn.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if reg == nil {
			return nil, notFound("the PostgreSQL database has no Switchboard schema (run 'switchboard migrate' or 'switchboard serve' on it first)")
		}
	}
	// Never migrate here: a server of another version may own the schema.
	return node.OpenStore(ctx, dbURL, node.StoreOptions{MaxConns: 2})
}

// redactURL hides a database URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the database URL"
	}
	return u.Redacted()
}
