package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qDuePrices = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE price_due_at IS NOT NULL AND price_due_at <= ? ORDER BY price_due_at LIMIT ?`
	qSetPrice = `UPDATE messages SET price = ?, price_unit = ?, price_micros = ?, price_due_at = NULL
		WHERE id = ? AND price_micros IS NULL`
	qPriceMissing = `UPDATE messages SET price_fetches = price_fetches + 1,
			price_due_at = CASE WHEN price_fetches + 1 >= ? THEN NULL ELSE ? END
		WHERE id = ? AND price_micros IS NULL`
)

// ListUsage returns the usage rows of f, by day then tenant; see switchboard.UsageStore.
func (db *DB) ListUsage(ctx context.Context, f switchboard.UsageFilter) ([]*switchboard.Usage, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q := `SELECT tenant, day, messages, segments, calls, verifications, spend_micros, price_unit FROM usage_daily`
	var where []string
	var args []any
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.From != "" {
		where, args = append(where, "day >= ?"), append(args, f.From)
	}
	if f.To != "" {
		where, args = append(where, "day <= ?"), append(args, f.To)
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY day, tenant"
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list usage: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Usage
	for rows.Next() {
		var u switchboard.Usage
		if err := rows.Scan(&u.Tenant, &u.Day, &u.Messages, &u.Segments, &u.Calls, &u.Verifications, &u.SpendMicros, &u.PriceUnit); err != nil {
			return nil, fmt.Errorf("sqlite: list usage: %w", err)
		}
		if u.Messages == 0 && u.Calls == 0 && u.Verifications == 0 && u.SpendMicros == 0 {
			continue // every row counted was taken out again (db copy empties a target)
		}
		out = append(out, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list usage: %w", err)
	}
	return out, nil
}

// DuePrices returns messages whose price is to be fetched; see switchboard.UsageStore.
func (db *DB) DuePrices(ctx context.Context, now time.Time, limit int) ([]*switchboard.Message, error) {
	rows, err := db.r.QueryContext(ctx, qDuePrices, micros(now), sqlstore.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due prices: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: due prices: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due prices: %w", err)
	}
	return out, nil
}

// RecordPrice records a message's price once (or a try that found none); see
// switchboard.UsageStore.
func (db *DB) RecordPrice(ctx context.Context, id string, p *switchboard.Price, next time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		var err error
		if p != nil {
			_, err = t.exec(qSetPrice, p.Text, p.Unit, p.Micros, id)
		} else {
			_, err = t.exec(qPriceMissing, switchboard.MaxPriceFetches, micros(next), id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: record price: %w", err)
		}
		return nil
	})
}
