package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Schema is a schema created for one run (a test, a bench) in a database shared with others, so
// that the run starts empty and leaves nothing behind.
type Schema struct {
	// Name is the schema's name: the prefix and 16 random hex digits.
	Name string
	// URL is the database URL with its connections' search_path set to the schema, for Open or
	// for a separate process (SWITCHBOARD_DATABASE_URL).
	URL  string
	base string
}

// CreateSchema creates a fresh, empty schema in the database baseURL names (a postgres:// URL or
// a key=value connection string), named prefix followed by random hex digits. prefix is lower
// case letters, digits and underscores, starting with a letter or an underscore. The caller
// drops the schema with Drop when done with it.
func CreateSchema(ctx context.Context, baseURL, prefix string) (*Schema, error) {
	if err := checkSchemaPrefix(prefix); err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	s := &Schema{Name: prefix + hex.EncodeToString(b[:]), base: baseURL}
	if err := adminExec(ctx, baseURL, "CREATE SCHEMA "+s.Name); err != nil {
		return nil, fmt.Errorf("postgres: create schema %s: %w", s.Name, err)
	}
	s.URL = withSearchPath(baseURL, s.Name)
	return s, nil
}

// Drop drops the schema and everything in it. Connections to it should be closed first: the
// drop waits for the locks they hold. Dropping a schema already gone is not an error.
func (s *Schema) Drop(ctx context.Context) error {
	if err := adminExec(ctx, s.base, "DROP SCHEMA IF EXISTS "+s.Name+" CASCADE"); err != nil {
		return fmt.Errorf("postgres: drop schema %s: %w", s.Name, err)
	}
	return nil
}

// checkSchemaPrefix keeps a schema name an identifier that needs no quoting, in SQL and in the
// search_path option alike, with room for the random suffix in PostgreSQL's 63 bytes.
func checkSchemaPrefix(prefix string) error {
	ok := prefix != "" && len(prefix) <= 63-16 && (prefix[0] == '_' || 'a' <= prefix[0] && prefix[0] <= 'z')
	for _, c := range []byte(prefix) {
		ok = ok && (c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9')
	}
	if !ok {
		return fmt.Errorf("postgres: schema prefix %q: want 1 to 47 lower case letters, digits and underscores, not starting with a digit", prefix)
	}
	return nil
}

// withSearchPath returns base with its connections' search_path set to schema, in the libpq
// "options" parameter that pgx, psql and other clients understand.
func withSearchPath(base, schema string) string {
	opt := "-c search_path=" + schema
	if u, err := url.Parse(base); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("options", opt)
		// Spaces as %20: pgx, like libpq, does not read "+" as a space.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String()
	}
	return strings.TrimSpace(base) + " options='" + opt + "'" // key=value form
}

func adminExec(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
