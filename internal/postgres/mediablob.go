package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
)

var _ switchboard.MediaBlobs = (*DB)(nil)

// PutMediaBlob stores data under its SHA-256 (hex); storing the same ID again changes nothing.
func (db *DB) PutMediaBlob(ctx context.Context, sha256 string, data []byte) error {
	if err := switchboard.CheckMediaBlob(sha256, data); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO media_blobs (sha256, data, size) VALUES ($1, $2, $3)
		ON CONFLICT (sha256) DO UPDATE SET created_at = now()`, sha256, data, len(data))
	if err != nil {
		return wrap("store media", err)
	}
	return nil
}

// GetMediaBlob returns the bytes stored under sha256, or ENOTFOUND.
func (db *DB) GetMediaBlob(ctx context.Context, sha256 string) ([]byte, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM media_blobs WHERE sha256 = $1`, sha256).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrMediaNotFound()
	} else if err != nil {
		return nil, wrap("media", err)
	}
	return data, nil
}

// PruneMediaBlobs deletes the media last received before before.
func (db *DB) PruneMediaBlobs(ctx context.Context, before time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM media_blobs WHERE created_at < $1`, before)
	if err != nil {
		return 0, wrap("prune media", err)
	}
	return int(tag.RowsAffected()), nil
}
