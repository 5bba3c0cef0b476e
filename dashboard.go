package switchboard

import (
	"context"
	"time"
)

// DashboardStore is the state the dashboard (/ui) needs beyond the rest of the Store: its login
// sessions, a message search with more criteria than MessageFilter, and aggregates for its
// failure and delivery pages.
type DashboardStore interface {
	// CreateSession stores a new dashboard session (its hash is unique).
	CreateSession(ctx context.Context, s *DashboardSession) error
	// GetSession returns the session with this hash that has not expired at now, or ENOTFOUND.
	GetSession(ctx context.Context, hash string, now time.Time) (*DashboardSession, error)
	// DeleteSession removes a session (logout); removing one that does not exist is no error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes the sessions expired at now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// SearchMessages lists messages newest first, without timelines, like ListMessages with the
	// criteria of a MessageSearch; next is the cursor of the following page, or "" at the end.
	SearchMessages(ctx context.Context, q MessageSearch) (msgs []*Message, next string, err error)
	// FailuresByCode counts the messages that failed, were undelivered or were blocked (by an
	// opt-out, for example), updated in [since, until), by error code (0: none given), most
	// frequent first.
	FailuresByCode(ctx context.Context, since, until time.Time) ([]FailureCount, error)
	// DeliveryStats aggregates the messages created in [since, until) by sender, category and
	// time bucket (bucket-long intervals aligned to the Unix epoch), ordered by bucket, sender
	// and category.
	DeliveryStats(ctx context.Context, since, until time.Time, bucket time.Duration) ([]DeliveryStat, error)
	// OptedOut lists the recipients whose latest consent record for a scope is an opt-out, most
	// recent first, at most limit.
	OptedOut(ctx context.Context, limit int) ([]*ConsentRecord, error)
}

// DashboardSession is a signed-in dashboard user. Only a hash of the cookie's secret is stored,
// so a copy of the database does not let anyone in.
type DashboardSession struct {
	// Hash is the hex SHA-256 of the session cookie's secret.
	Hash string
	// Subject says who signed in: "user:NAME" or "key:KEY_ID".
	Subject string
	// APIKeyHash is the hash of the API key the session was opened with, empty for a user: the
	// session ends when that key is revoked.
	APIKeyHash string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// MessageSearch selects messages for the dashboard. Zero fields do not filter.
type MessageSearch struct {
	MessageFilter
	// ErrorCode selects messages with this provider error code.
	ErrorCode int
	// ToSuffix selects recipients whose number ends with these digits (the visible end of a
	// masked number).
	ToSuffix string
}

// FailureCount is the number of failed messages with one error code.
type FailureCount struct {
	ErrorCode int
	Count     int
	// Last is when the most recent of them changed.
	Last time.Time
}

// LatencyBounds are the upper bounds of the delivery latency buckets of DeliveryStat; the last
// bucket holds everything slower.
var LatencyBounds = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// DeliveryStat aggregates the messages of one sender and category created in one time bucket.
type DeliveryStat struct {
	Bucket    time.Time
	From      string
	Category  Category
	Total     int
	Delivered int // delivered or read
	Failed    int // failed or undelivered
	// Latency counts the delivered messages by time from acceptance to the first delivery
	// receipt: Latency[i] those under LatencyBounds[i] (and not under the bound before), the last
	// those slower than every bound.
	Latency [6]int
	// LatencySum is the total of those latencies, for an average.
	LatencySum time.Duration
}
