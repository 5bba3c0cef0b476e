package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var _ switchboard.MediaBlobs = (*DB)(nil)

// PutMediaBlob stores data under its SHA-256 (hex); storing the same ID again changes nothing.
func (db *DB) PutMediaBlob(ctx context.Context, sha256 string, data []byte) error {
	if err := switchboard.CheckMediaBlob(sha256, data); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error {
		_, err := t.exec(`INSERT INTO media_blobs (sha256, data, size, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at`, sha256, data, len(data), micros(time.Now()))
		if err != nil {
			return fmt.Errorf("sqlite: store media: %w", err)
		}
		return nil
	})
}

// GetMediaBlob returns the bytes stored under sha256, or ENOTFOUND.
func (db *DB) GetMediaBlob(ctx context.Context, sha256 string) ([]byte, error) {
	var data []byte
	err := db.r.QueryRowContext(ctx, `SELECT data FROM media_blobs WHERE sha256 = ?`, sha256).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrMediaNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: media: %w", err)
	}
	return data, nil
}

// PruneMediaBlobs deletes the media last received before before.
func (db *DB) PruneMediaBlobs(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		r, err := t.exec(`DELETE FROM media_blobs WHERE created_at < ?`, micros(before))
		if err != nil {
			return fmt.Errorf("sqlite: prune media: %w", err)
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}
