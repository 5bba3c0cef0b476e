package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// ErrBackupExists is returned by Backup when the destination exists: a backup never overwrites.
var ErrBackupExists = errors.New("sqlite: backup destination exists")

// BackupResult describes a finished backup.
type BackupResult struct {
	Path     string // the backup file
	Bytes    int64  // its size
	Messages int64  // messages in it (what the backup holds, for the operator to compare)
}

// Backup writes a consistent copy of the database at src to dest while other connections (a
// serving node) keep reading and writing it. The copy is VACUUM INTO run on its own connection:
// it reads one snapshot (a WAL read transaction), so every transaction committed before the
// backup began is in it and none is half in it, and writers are never blocked.
//
// dest must not exist (ErrBackupExists). The copy is written to a temporary file beside dest,
// fsynced, checked with PRAGMA integrity_check, then linked to dest — which fails rather than
// replaces if dest appeared meanwhile — and the directory is fsynced, so that dest, once it
// exists, is a complete backup that survives a crash.
func Backup(ctx context.Context, src, dest string) (*BackupResult, error) {
	if src == "" || dest == "" {
		return nil, errors.New("sqlite: backup needs a database file and a destination")
	}
	absSrc, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(absSrc); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqlite: no database at %s", src)
		}
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlite: %s is not a database file", src)
	}
	absDest, err := filepath.Abs(dest)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(absDest); err == nil {
		return nil, fmt.Errorf("%w: %s (a backup never overwrites; choose a new name)", ErrBackupExists, dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	dir := filepath.Dir(absDest)
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(absDest)+".partial-"+hex.EncodeToString(rnd[:]))
	defer os.Remove(tmp) //nolint:errcheck // gone already after a successful link

	// A file: URI escapes any character of the path that a URI would read otherwise.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(absSrc)}).String() + "?_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: backup: open %s: %w", src, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return nil, fmt.Errorf("sqlite: backup: VACUUM INTO: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	res := &BackupResult{Path: dest}
	if res.Messages, err = verifyBackup(ctx, tmp); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // bodies and phone numbers: owner only
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := os.Link(tmp, absDest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s (a backup never overwrites; choose a new name)", ErrBackupExists, dest)
		}
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncFile(dir); err != nil {
		return nil, err
	}
	fi, err := os.Stat(absDest)
	if err != nil {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	res.Bytes = fi.Size()
	return res, nil
}

// verifyBackup opens the copy read-only, runs PRAGMA integrity_check and counts its messages.
func verifyBackup(ctx context.Context, path string) (int64, error) {
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String() + "?mode=ro"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backup: verify: %w", err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
		return 0, fmt.Errorf("sqlite: backup: integrity_check: %w", err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("sqlite: backup: integrity_check of the copy: %s", check)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM messages").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: backup: verify: %w", err)
	}
	return n, nil
}

// syncFile fsyncs a file or directory.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlite: backup: sync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sqlite: backup: sync %s: %w", path, err)
	}
	return nil
}
