package switchboard

import (
	"context"
	"slices"
	"strings"
	"time"
)

// MediaQueueStore is the durable queue of inbound media downloads: each attachment of an
// inbound message is a row, written before the webhook answers and claimed with a lease like
// the other background work, so that a crash, a restart or a dead node loses no download.
type MediaQueueStore interface {
	// EnqueueMedia queues the download of every attachment of in (MediaURLs, with the types of
	// MediaContentTypes), once per provider SID and index: enqueueing the same message again
	// (Twilio delivers a webhook again when it got no answer) changes nothing, even after the
	// downloads finished. The downloads belong to the stored inbound message of in's provider
	// SID when there is one (a repeated webhook carries a new, unstored ID). It returns how many
	// rows it added.
	EnqueueMedia(ctx context.Context, in *InboundMessage, now time.Time) (int, error)
	// ClaimMedia leases up to p.Limit due downloads to p.Owner (pending, NextAttemptAt <= p.Now,
	// no live lease), oldest due first, and counts an attempt on each.
	ClaimMedia(ctx context.Context, p MediaClaim) ([]*MediaDownload, error)
	// FinishMedia records the outcome of an attempt and releases the lease: done, or due again
	// at r.RetryAt. It fails with ECONFLICT when r.Owner no longer holds the lease.
	FinishMedia(ctx context.Context, r MediaResult) error
	// ReleaseMedia drops every media lease owner holds (graceful shutdown) and returns how many.
	ReleaseMedia(ctx context.Context, owner string) (int, error)
}

// MediaDownload is one queued attachment of an inbound message.
type MediaDownload struct {
	// ProviderSID and Index (MediaUrl0 is 0) identify the attachment.
	ProviderSID string
	Index       int
	InboundID   string
	// Channel, From and To are read from the stored inbound message when the download is
	// claimed (not copied into the queue, so that the message's retention covers them); empty
	// when the message is not stored.
	Channel  Channel
	From, To string
	URL      string
	// DeclaredType is the content type the provider declared ("" when none).
	DeclaredType string
	// Attempts counts the claims, this one included.
	Attempts      int
	Done          bool
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}

// Inbound returns the inbound message the download belongs to, as far as the row knows it
// (enough to record the media events and to reply to its sender).
func (d *MediaDownload) Inbound() *InboundMessage {
	in := &InboundMessage{ID: d.InboundID, ProviderSID: d.ProviderSID, Channel: d.Channel, From: d.From, To: d.To,
		MediaURLs: make([]string, d.Index+1), MediaContentTypes: make([]string, d.Index+1)}
	in.MediaURLs[d.Index], in.MediaContentTypes[d.Index] = d.URL, d.DeclaredType
	return in
}

// MediaClaim asks for due media downloads.
type MediaClaim struct {
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// MediaResult is the outcome of one download attempt.
type MediaResult struct {
	ProviderSID string
	Index       int
	// Owner fences the write: it applies only while Owner holds the lease.
	Owner string
	At    time.Time
	// Done ends the download (stored or refused: its event is recorded); otherwise it is due
	// again at RetryAt.
	Done    bool
	RetryAt time.Time
	Error   string
}

// SortClaimedMedia puts claimed downloads in the order a claim hands them out: oldest due first,
// then by message and index (a claim's RETURNING keeps no order).
func SortClaimedMedia(ds []*MediaDownload) {
	slices.SortFunc(ds, func(a, b *MediaDownload) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.ProviderSID, b.ProviderSID); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
}
