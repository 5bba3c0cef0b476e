package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var mediaQueueTests = []test{
	{"EnqueueOncePerAttachment", testMediaEnqueueOnce},
	{"ClaimLeaseFinish", testMediaClaimLeaseFinish},
	{"DeadOwnerTakenOver", testMediaDeadOwner},
}

func mediaInbound(sid string, urls ...string) *switchboard.InboundMessage {
	in := inbound("+14155550100", "+15005550006", sid, at(0))
	in.Channel, in.NumMedia, in.MediaURLs = switchboard.ChannelWhatsApp, len(urls), urls
	in.MediaContentTypes = []string{"image/png"}
	return in
}

func claimMedia(t *testing.T, s switchboard.Store, owner string, now time.Time, limit int) []*switchboard.MediaDownload {
	t.Helper()
	ds, err := s.ClaimMedia(t.Context(), switchboard.MediaClaim{Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit})
	if err != nil {
		t.Fatalf("ClaimMedia: %v", err)
	}
	return ds
}

// testMediaEnqueueOnce: each attachment is queued once per provider SID and index, whatever
// inbound ID a repeated webhook carries, before and after the download finished.
func testMediaEnqueueOnce(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	// The message was stored, and its webhook is delivered again (new, unstored inbound ID)
	// before its media were queued: the downloads belong to the stored message.
	in := mediaInbound("MMq1", "https://media.example/0", "https://media.example/1")
	createInbound(t, s, in)
	repeat := mediaInbound("MMq1", "https://media.example/0", "https://media.example/1")
	if n, err := s.EnqueueMedia(ctx, repeat, at(0)); err != nil || n != 2 {
		t.Fatalf("EnqueueMedia = %d, %v; want 2", n, err)
	}
	again := mediaInbound("MMq1", "https://media.example/0", "https://media.example/1")
	if n, err := s.EnqueueMedia(ctx, again, at(time.Second)); err != nil || n != 0 {
		t.Fatalf("EnqueueMedia again = %d, %v; want 0", n, err)
	}
	if n, err := s.EnqueueMedia(ctx, mediaInbound("MMq2"), at(0)); err != nil || n != 0 {
		t.Fatalf("EnqueueMedia without media = %d, %v", n, err)
	}
	if _, err := s.EnqueueMedia(ctx, &switchboard.InboundMessage{MediaURLs: []string{"x"}}, at(0)); err == nil {
		t.Fatal("EnqueueMedia without IDs passed")
	}
	ds := claimMedia(t, s, "n1", at(time.Second), 10)
	if len(ds) != 2 {
		t.Fatalf("claimed %d, want 2", len(ds))
	}
	d := ds[0]
	if d.ProviderSID != "MMq1" || d.Index != 0 || d.InboundID != in.ID || d.Channel != switchboard.ChannelWhatsApp ||
		d.From != in.From || d.To != in.To || d.URL != "https://media.example/0" || d.DeclaredType != "image/png" ||
		d.Attempts != 1 || d.Done || !d.CreatedAt.Equal(at(0)) {
		t.Fatalf("claimed %+v", d)
	}
	if ds[1].Index != 1 || ds[1].DeclaredType != "" {
		t.Fatalf("second %+v", ds[1])
	}
	for _, d := range ds {
		if err := s.FinishMedia(ctx, switchboard.MediaResult{ProviderSID: d.ProviderSID, Index: d.Index, Owner: "n1", At: at(2 * time.Second), Done: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.EnqueueMedia(ctx, again, at(time.Hour)); err != nil || n != 0 {
		t.Fatalf("EnqueueMedia after done = %d, %v; want 0", n, err)
	}
	if got := claimMedia(t, s, "n1", at(2*time.Hour), 10); len(got) != 0 {
		t.Fatalf("a finished download was claimed again: %+v", got[0])
	}
}

// testMediaClaimLeaseFinish: a leased download is not claimed twice; a retry is due at its
// time; only the lease holder records an outcome; released leases are claimable at once.
func testMediaClaimLeaseFinish(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	if _, err := s.EnqueueMedia(ctx, mediaInbound("MMc1", "https://media.example/a", "https://media.example/b", "https://media.example/c"), at(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimMedia(ctx, switchboard.MediaClaim{Now: at(0), Limit: 1}); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Fatalf("claim without owner: %v", err)
	}
	if got := claimMedia(t, s, "n1", at(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed before due: %d", len(got))
	}
	first := claimMedia(t, s, "n1", at(0), 2)
	if len(first) != 2 || first[0].Index != 0 || first[1].Index != 1 {
		t.Fatalf("first claim %+v", first)
	}
	if rest := claimMedia(t, s, "n2", at(time.Second), 10); len(rest) != 1 || rest[0].Index != 2 {
		t.Fatalf("second claim got %d, want the unleased one", len(rest))
	}
	err := s.FinishMedia(ctx, switchboard.MediaResult{ProviderSID: "MMc1", Index: 0, Owner: "n2", At: at(time.Second), Done: true})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
	if err := s.FinishMedia(ctx, switchboard.MediaResult{ProviderSID: "MMc1", Index: 0, Owner: "n1", At: at(time.Second),
		RetryAt: at(10 * time.Minute), Error: "HTTP 503"}); err != nil {
		t.Fatal(err)
	}
	if got := claimMedia(t, s, "n3", at(30*time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed under a lease or before its retry time: %+v", got[0])
	}
	if n, err := s.ReleaseMedia(ctx, "n1"); err != nil || n != 1 {
		t.Fatalf("ReleaseMedia = %d, %v; want 1", n, err)
	}
	if got := claimMedia(t, s, "n3", at(30*time.Second), 10); len(got) != 1 || got[0].Index != 1 || got[0].Attempts != 2 {
		t.Fatalf("after release: %+v", got)
	}
	if err := s.FinishMedia(ctx, switchboard.MediaResult{ProviderSID: "MMc1", Index: 1, Owner: "n3", At: at(31 * time.Second), Done: true}); err != nil {
		t.Fatal(err)
	}
	got := claimMedia(t, s, "n4", at(10*time.Minute), 10)
	if len(got) != 2 || got[0].Index != 2 || got[1].Index != 0 || got[1].Attempts != 2 || got[1].LastError != "HTTP 503" {
		t.Fatalf("after n2's lease expired and the retry time: %+v", got)
	}
	if !got[1].NextAttemptAt.Equal(at(10 * time.Minute)) {
		t.Fatalf("next attempt %v", got[1].NextAttemptAt)
	}
}

// testMediaDeadOwner: a node that died holding a lease loses it when the lease expires; its
// late outcome is refused.
func testMediaDeadOwner(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	if _, err := s.EnqueueMedia(ctx, mediaInbound("MMd1", "https://media.example/a"), at(0)); err != nil {
		t.Fatal(err)
	}
	if got := claimMedia(t, s, "dead", at(0), 10); len(got) != 1 {
		t.Fatalf("claimed %d", len(got))
	}
	if got := claimMedia(t, s, "alive", at(30*time.Second), 10); len(got) != 0 {
		t.Fatal("claimed under a live lease")
	}
	got := claimMedia(t, s, "alive", at(time.Minute), 10)
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("after the lease expired: %+v", got)
	}
	err := s.FinishMedia(ctx, switchboard.MediaResult{ProviderSID: "MMd1", Index: 0, Owner: "dead", At: at(time.Minute), Done: true})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
	if err := s.FinishMedia(ctx, switchboard.MediaResult{ProviderSID: "MMd1", Index: 0, Owner: "alive", At: at(time.Minute), Done: true}); err != nil {
		t.Fatal(err)
	}
}
