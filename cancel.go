package switchboard

import (
	"context"
	"time"
)

// CancelMessage cancels a message that has not been handed to the provider (queued or scheduled,
// no attempt in flight), appending an event that names actor and says why (detail). A message
// already at the provider or finished fails with ECONFLICT/not_cancelable; an unknown one with
// ENOTFOUND. The API and the dashboard both cancel through it.
func CancelMessage(ctx context.Context, st MessageStore, id, actor, detail string, now time.Time) (*Message, error) {
	m, err := st.UpdateMessage(ctx, MessageUpdate{
		ID:                       id,
		RequireStatus:            []Status{StatusQueued, StatusScheduled},
		RequireNoAttemptInFlight: true,
		Status:                   StatusCanceled,
		At:                       now,
		Events: []*Event{{
			Type: EventStatusChanged, Status: StatusCanceled, Actor: actor, Detail: detail, At: now,
		}},
	})
	if err != nil {
		if IsKind(err, ECONFLICT) {
			return nil, Errorf(ECONFLICT, "not_cancelable", "message %s was already handed to the provider or is finished", id)
		}
		return nil, err
	}
	return m, nil
}
