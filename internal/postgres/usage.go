package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qDuePrices = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE price_due_at IS NOT NULL AND price_due_at <= $1 ORDER BY price_due_at LIMIT $2`
	qSetPrice = `UPDATE messages SET price = $2, price_unit = $3, price_micros = $4, price_due_at = NULL
		WHERE id = $1 AND price_micros IS NULL`
	qPriceMissing = `UPDATE messages SET price_fetches = price_fetches + 1,
			price_due_at = CASE WHEN price_fetches + 1 >= $2 THEN NULL ELSE $3::timestamptz END
		WHERE id = $1 AND price_micros IS NULL`
)

// ListUsage returns the usage rows of f, by day then tenant: the sum of each day's shards; see
// switchboard.UsageStore.
func (db *DB) ListUsage(ctx context.Context, f switchboard.UsageFilter) ([]*switchboard.Usage, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Tenant != "" {
		where = append(where, "tenant = "+arg(f.Tenant))
	}
	for _, b := range []struct{ day, op string }{{f.From, ">="}, {f.To, "<="}} {
		if b.day == "" {
			continue
		}
		d, _ := time.Parse(time.DateOnly, b.day) // checked by Validate
		where = append(where, "day "+b.op+" "+arg(d)+"::date")
	}
	q := `SELECT tenant, to_char(day, 'YYYY-MM-DD'), sum(messages)::bigint, sum(segments)::bigint, sum(calls)::bigint,
		sum(verifications)::bigint, sum(spend_micros)::bigint, max(price_unit) FROM usage_daily`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` GROUP BY tenant, day
		HAVING sum(messages) <> 0 OR sum(calls) <> 0 OR sum(verifications) <> 0 OR sum(spend_micros) <> 0
		ORDER BY day, tenant`
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list usage", err)
	}
	defer rows.Close()
	var out []*switchboard.Usage
	for rows.Next() {
		var u switchboard.Usage
		if err := rows.Scan(&u.Tenant, &u.Day, &u.Messages, &u.Segments, &u.Calls, &u.Verifications, &u.SpendMicros, &u.PriceUnit); err != nil {
			return nil, wrap("list usage", err)
		}
		out = append(out, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list usage", err)
	}
	return out, nil
}

// DuePrices returns messages whose price is to be fetched; see switchboard.UsageStore.
func (db *DB) DuePrices(ctx context.Context, now time.Time, limit int) ([]*switchboard.Message, error) {
	msgs, err := scanMessages(db.pool.Query(ctx, qDuePrices, now, sqlstore.Limit(limit)))
	if err != nil {
		return nil, wrap("due prices", err)
	}
	return msgs, nil
}

// RecordPrice records a message's price once (or a try that found none); see
// switchboard.UsageStore.
func (db *DB) RecordPrice(ctx context.Context, id string, p *switchboard.Price, next time.Time) error {
	var err error
	if p != nil {
		_, err = db.pool.Exec(ctx, qSetPrice, id, p.Text, p.Unit, p.Micros)
	} else {
		_, err = db.pool.Exec(ctx, qPriceMissing, id, switchboard.MaxPriceFetches, next)
	}
	if err != nil {
		return wrap("record price", err)
	}
	return nil
}
