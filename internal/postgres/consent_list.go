package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// ListConsent returns records in [since, until) after afterID, in ID order.
func (db *DB) ListConsent(ctx context.Context, since, until time.Time, afterID int64, limit int) ([]*switchboard.ConsentRecord, error) {
	q := `SELECT ` + consentCols + ` FROM consent_records WHERE id > $1`
	args := []any{afterID}
	if !since.IsZero() {
		args = append(args, since)
		q += fmt.Sprintf(` AND at >= $%d`, len(args))
	}
	if !until.IsZero() {
		args = append(args, until)
		q += fmt.Sprintf(` AND at < $%d`, len(args))
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list consent", err)
	}
	defer rows.Close()
	var out []*switchboard.ConsentRecord
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, wrap("list consent", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list consent", err)
	}
	return out, nil
}
