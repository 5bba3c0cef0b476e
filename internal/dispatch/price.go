package dispatch

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// PriceRetry is how long the dispatcher waits before it asks again for the price of a finished
// message the provider had not priced yet (Twilio sets a message's price some time after it is
// sent; a failed message may never get one: after switchboard.MaxPriceFetches tries it stops).
const PriceRetry = 5 * time.Minute

// PriceObserver counts the prices fetched (metrics); the dispatcher's Observer is asked for it.
type PriceObserver interface {
	// PriceFetched counts one fetch of a message's price; found says whether the provider had
	// one, micros and unit are what it charged.
	PriceFetched(found bool, micros int64, unit string)
}

// FetchPrices fetches the price of finished messages that have none yet (status callbacks carry
// no price) and records it: the spend that quotas and the usage report count. It returns how
// many prices it recorded. The dispatcher runs it on its status-poll tick; tests call it.
func (d *Dispatcher) FetchPrices(ctx context.Context) int {
	now := d.cfg.Clock()
	msgs, err := d.cfg.Store.DuePrices(ctx, now, 100)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("listing messages due for their price", "err", err)
		}
		return 0
	}
	var n int
	for _, m := range msgs {
		if ctx.Err() != nil {
			return n
		}
		tk := d.breaker.Allow()
		if tk == nil {
			return n // the provider's circuit is open: ask again later
		}
		pctx, cancel := context.WithTimeout(ctx, d.cfg.ProviderTimeout)
		pm, err := d.provider(m.Channel).Fetch(pctx, m.ProviderSID)
		cancel()
		tk.Done(err)
		if err != nil {
			d.cfg.Logger.Warn("fetching price from provider", "message_id", m.ID, "provider_sid", m.ProviderSID, "err", err)
			pm = nil // counts as a try without a price
		}
		if d.recordPrice(ctx, m, pm, now) {
			n++
		}
	}
	return n
}

// recordPrice records the price pm carries for m (or, without one, a try that found none) and
// reports whether it recorded a price.
func (d *Dispatcher) recordPrice(ctx context.Context, m *switchboard.Message, pm *switchboard.ProviderMessage, now time.Time) bool {
	var p *switchboard.Price
	if pm != nil {
		p = pm.Price
	}
	if err := d.cfg.Store.RecordPrice(ctx, m.ID, p, now.Add(PriceRetry)); err != nil {
		d.cfg.Logger.Error("recording price", "message_id", m.ID, "err", err)
		return false
	}
	if po, ok := d.cfg.Observer.(PriceObserver); ok {
		if p != nil {
			po.PriceFetched(true, p.Micros, p.Unit)
		} else {
			po.PriceFetched(false, 0, "")
		}
	}
	return p != nil
}
