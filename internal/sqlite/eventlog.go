package sqlite

import (
	"context"

	"github.com/switchboard-gw/switchboard"
)

// AppendAppEvent appends ev to the event log.
func (db *DB) AppendAppEvent(ctx context.Context, ev *switchboard.AppEvent) error {
	if err := switchboard.CheckAppEvent(ev); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error { return insertAppEvent(t, ev) })
}
