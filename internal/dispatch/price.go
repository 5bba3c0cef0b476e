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
//
// Prices are bookkeeping, never worth competing with sends: they are fetched only while the
// provider's circuit is closed, their outcomes are not reported to the circuit (a run of
// successful reads must not hide failing sends, nor failing reads open it), and a round stops at
// its first failure.
func (d *Dispatcher) FetchPrices(ctx context.Context) int {
	if d.breaker.State() != CircuitClosed {
		return 0
	}
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
		if d.breaker.State() != CircuitClosed {
			return n
		}
		pctx, cancel := context.WithTimeout(ctx, d.cfg.ProviderTimeout)
		pm, err := d.provider(m.Channel).Fetch(pctx, m.ProviderSID)
		cancel()
		if err != nil {
			d.cfg.Logger.Warn("fetching price from provider", "message_id", m.ID, "provider_sid", m.ProviderSID, "err", err)
			d.recordPrice(ctx, m, nil, now) // a try without a price
			return n
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
