package sqlstore

import (
	"slices"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// LiveCallsWhere selects the calls handed to the provider and not over: not final, with a
// provider SID and no attempt waiting (a busy or unanswered attempt to retry has none). Their
// last change lives in the stored document, so both engines filter it with StaleOf.
const LiveCallsWhere = `status IN ('queued', 'ringing', 'in-progress') AND provider_sid IS NOT NULL AND next_attempt_at IS NULL`

// StaleOf keeps the calls whose LastChange is before before, oldest first, at most limit.
func StaleOf(calls []*switchboard.Call, before time.Time, limit int) []*switchboard.Call {
	calls = slices.DeleteFunc(calls, func(c *switchboard.Call) bool { return !c.LastChange().Before(before) })
	slices.SortStableFunc(calls, func(a, b *switchboard.Call) int { return a.LastChange().Compare(b.LastChange()) })
	return calls[:min(len(calls), Limit(limit))]
}
