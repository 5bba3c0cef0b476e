package postgres

import (
	"context"

	"github.com/switchboard-gw/switchboard"
)

// qAppendAppEvent appends an event on its own and returns its position.
const qAppendAppEvent = qInsertAppEvent + ` RETURNING seq`

// AppendAppEvent appends ev to the event log.
func (db *DB) AppendAppEvent(ctx context.Context, ev *switchboard.AppEvent) error {
	if err := switchboard.CheckAppEvent(ev); err != nil {
		return err
	}
	if err := db.pool.QueryRow(ctx, qAppendAppEvent, appEventArgs(ev)...).Scan(&ev.Seq); err != nil {
		return wrap("append event", err)
	}
	return nil
}
