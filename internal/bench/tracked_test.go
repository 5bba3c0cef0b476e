package bench

import (
	"context"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

type okProvider struct{ switchboard.Provider }

func (okProvider) Send(context.Context, *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	return &switchboard.ProviderMessage{SID: "SM1"}, nil
}

// TestTrackedProviderFindsDuplicates: the backlog bench's check of "handed over once" rests on
// the provider wrapper counting sends and distinct bodies.
func TestTrackedProviderFindsDuplicates(t *testing.T) {
	tp := &timedProvider{Provider: okProvider{}, track: true}
	for _, body := range []string{"Job #r-1", "Job #r-2", "Job #r-1"} {
		if _, err := tp.Send(t.Context(), &switchboard.SendRequest{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if sent, distinct := tp.handedOnce(); sent != 3 || distinct != 2 {
		t.Fatalf("handedOnce = %d sent, %d distinct; want 3, 2", sent, distinct)
	}
}
