package verify

import (
	"context"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Verifications lists the verifications f selects, newest first, and the cursor of the next
// page; with f.Metadata the store answers from its index of metadata pairs.
func (s *Service) Verifications(ctx context.Context, f switchboard.VerificationFilter) ([]*switchboard.Verification, string, error) {
	return s.cfg.Store.ListVerifications(ctx, f)
}
