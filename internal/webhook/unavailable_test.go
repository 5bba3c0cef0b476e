package webhook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// downStore fails every callback as a database that is down does.
type downStore struct {
	switchboard.Store
	err error
}

func (s downStore) IngestCallback(context.Context, *switchboard.Callback) (switchboard.CallbackResult, error) {
	return switchboard.CallbackResult{}, s.err
}

// TestCallbackStoreDownIs503: a callback that cannot be stored because the store is down gets
// 503 with Retry-After (Twilio retries); another failure stays a 500.
func TestCallbackStoreDownIs503(t *testing.T) {
	t.Parallel()
	db, _, m := setup(t)
	for _, c := range []struct {
		err        error
		status     int
		retryAfter bool
	}{
		{switchboard.Unavailable(switchboard.CodeStoreUnavailable, errors.New("connection refused")), 503, true},
		{errors.New("a bug"), 500, false},
	} {
		h := webhook.New(webhook.Config{Store: downStore{db, c.err}, AuthToken: token, PublicURL: public, Clock: func() time.Time { return t0 }})
		form := statusForm("delivered")
		path := webhook.StatusPath + "?m=" + m.ID
		rec := post(h, path, form, twiliosig.Sign(token, public+path, form))
		if rec.Code != c.status || (rec.Header().Get("Retry-After") != "") != c.retryAfter {
			t.Errorf("%v: %d, Retry-After %q", c.err, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}
