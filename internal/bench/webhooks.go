package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// callbackStatuses are the status callbacks Twilio posts for a delivered message, in order.
var callbackStatuses = [3]string{"sending", "sent", "delivered"}

// sidFor is the provider SID of the i-th message of a run.
func sidFor(run string, i int64) string {
	return fmt.Sprintf("SM%s%024x", run, i)
}

// callbackForm is a status callback as the simulator (and Twilio) posts it.
func callbackForm(sid, to, status string, at time.Time) url.Values {
	v := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "SmsStatus": {status},
		"AccountSid": {"AC" + strings.Repeat("a", 32)}, "From": {benchFrom}, "To": {to},
		"ApiVersion": {"2010-04-01"},
	}
	if status == "delivered" {
		v.Set("RawDlrDoneDate", at.UTC().Format("0601021504"))
	}
	return v
}

// callbackSender builds signed status callback requests for one node.
type callbackSender struct {
	token, publicURL string
}

// request returns the body and headers of a callback for message id, signed for its URL under
// the node's public URL (with ?m=, as the dispatcher's callback URLs carry), and that URL's
// path and query.
func (c callbackSender) request(id string, form url.Values) (pathQuery string, body []byte, h http.Header) {
	pathQuery = webhook.StatusPath + "?m=" + url.QueryEscape(id)
	h = http.Header{
		"Content-Type":               {"application/x-www-form-urlencoded"},
		twiliosig.Header:             {twiliosig.Sign(c.token, c.publicURL+pathQuery, form)},
		"I-Twilio-Idempotency-Token": {newRunID() + newRunID()},
		"User-Agent":                 {"TwilioProxy/1.1"},
	}
	return pathQuery, []byte(form.Encode()), h
}

// cbWorker is where one load worker is in its message's sequence of callbacks.
type cbWorker struct {
	idx  int64
	step int
}

// Webhooks measures POST /webhooks/twilio/status: correctly signed status callbacks (sending,
// sent, delivered for each message, in order) for messages the store holds with provider SIDs.
// The messages are those the raw store insert ceiling created, given SIDs before the measured
// phase as the dispatcher gives them; the measured phase may use the first half of them. Besides
// the two ceilings it measures the store's raw IngestCallback rate on the remaining messages, the
// store limit of this path. At the end it checks that every message whose delivered callback was
// answered 2xx is delivered.
func Webhooks(ctx context.Context, cfg Config) (_ *Result, err error) {
	cfg = cfg.withDefaults()
	n, err := startNode(ctx, cfg, nodeSetup{})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	client := newClient(cfg.Concurrency)
	defer client.CloseIdleConnections()
	run := newRunID()
	cs := callbackSender{token: n.Simulator().AuthToken(), publicURL: strings.TrimRight(n.Config().PublicURL, "/")}
	res := newResult("webhooks", cfg, n.engine)
	res.LatencyOf = "POST /webhooks/twilio/status, client-observed"

	cfg.progress("webhooks: empty handler ceiling (%s, %d clients)", cfg.Duration, cfg.Concurrency)
	hp, err := emptyHandlerPhase(ctx, cfg, client, func(i int64) ([]byte, http.Header) {
		form := callbackForm(sidFor("ffffffff", i), recipient(i), callbackStatuses[i%3], time.Now())
		_, body, h := cs.request("msg_ceiling", form)
		return body, h
	})
	if err != nil {
		return nil, err
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("webhooks: raw store insert ceiling, creating the messages (%s)", cfg.Duration)
	byWorker := make([][]string, cfg.Concurrency)
	sp := storeInsert(ctx, n.Store(), cfg, run, n.rawKeyID, 0, cfg.Duration, func(w int, id string) {
		byWorker[w] = append(byWorker[w], id)
	})
	var pool []string
	for _, ids := range byWorker {
		pool = append(pool, ids...)
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("the raw store insert created no message: %s", sp.firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("webhooks: giving %d messages provider SIDs", len(pool))
	if err := assignSIDs(ctx, n.Store(), cfg, run, pool); err != nil {
		return nil, err
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("webhooks: POST /webhooks/twilio/status (%s)", cfg.Duration)
	var (
		next                     atomic.Int64
		deliveredHTTP, deliverIn atomic.Int64
		workers                  = make([]cbWorker, cfg.Concurrency)
		base                     = n.URL()
	)
	// The HTTP phase may use the first half of the messages; the ingest ceiling gets the rest,
	// so that a slow insert phase (a loaded machine) still leaves it messages to measure.
	half := int64(len(pool)+1) / 2
	limit := half
	// take advances worker w to its next callback: a new message after delivered.
	take := func(w int) (*cbWorker, error) {
		s := &workers[w]
		if s.step == 0 {
			s.idx = next.Add(1) - 1
			if s.idx >= limit {
				return nil, errExhausted
			}
		}
		return s, nil
	}
	var p *phase
	u, err := measure(cfg.CPUProfile, func() {
		p = closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, w int) error {
			s, err := take(w)
			if err != nil {
				return err
			}
			status := callbackStatuses[s.step]
			s.step = (s.step + 1) % 3
			form := callbackForm(sidFor(run, s.idx), recipient(s.idx), status, time.Now())
			pq, body, h := cs.request(pool[s.idx], form)
			if err := post(ctx, client, base+pq, body, anyStatus2xx, h); err != nil {
				return err
			}
			if status == "delivered" {
				deliveredHTTP.Add(1)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if p.exhausted {
		res.Notes = append(res.Notes, fmt.Sprintf("the %d prepared messages ran out before the time did", half))
	}
	// Workers that stopped mid-message leave it; the ingest ceiling starts on fresh ones, after
	// the HTTP phase's half at the least.
	for i := range workers {
		workers[i].step = 0
	}
	if next.Load() < half {
		next.Store(half)
	}
	limit = int64(len(pool))

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("webhooks: raw store IngestCallback ceiling (%s)", cfg.Duration)
	ip := closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, w int) error {
		s, err := take(w)
		if err != nil {
			return err
		}
		status := callbackStatuses[s.step]
		s.step = (s.step + 1) % 3
		cb, err := twilio.ParseStatusCallback(callbackForm(sidFor(run, s.idx), recipient(s.idx), status, time.Now()), time.Now().UTC())
		if err != nil {
			return err
		}
		cb.MessageID = pool[s.idx]
		if _, err := n.Store().IngestCallback(ctx, cb); err != nil {
			return err
		}
		if status == "delivered" {
			deliverIn.Add(1)
		}
		return nil
	})
	res.Ceilings = []Ceiling{
		ceilingOf(CeilingStoreInsert, "the raw store insert", sp),
		ceilingOf(CeilingEmptyHandler, "an empty handler", hp),
		ceilingOf(CeilingStoreIngest, "the raw store ingest", ip),
	}
	if ip.ops == 0 {
		res.Notes = append(res.Notes, "the raw store ingest ceiling had no prepared messages left")
	}
	res.finish(p, u)
	res.Check, res.Verified = verifyDelivered(ctx, n, deliveredHTTP.Load()+deliverIn.Load())
	return res, nil
}

// assignSIDs records each pool message as handed to the provider, as the dispatcher does when
// Twilio answers: status sending, its SID, the attempt no longer in flight.
func assignSIDs(ctx context.Context, st switchboard.Store, cfg Config, run string, pool []string) error {
	var next atomic.Int64
	p := closedLoop(ctx, cfg.Concurrency, time.Hour, func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		if i >= int64(len(pool)) {
			return errExhausted
		}
		now := time.Now().UTC()
		sid, inFlight := sidFor(run, i), false
		_, err := st.UpdateMessage(ctx, switchboard.MessageUpdate{
			ID: pool[i], Status: switchboard.StatusSending, ProviderSID: &sid, AttemptInFlight: &inFlight,
			ReleaseLease: true, At: now,
			Events: []*switchboard.Event{{
				Type: switchboard.EventStatusChanged, Status: switchboard.StatusSending, Actor: "bench", At: now,
				Detail: "handed to twilio as " + sid + ` (provider status "queued")`,
			}},
		})
		return err
	})
	if p.errors > 0 {
		return fmt.Errorf("giving messages provider SIDs: %d failed, the first: %s", p.errors, p.firstErr)
	}
	if int(p.ops) != len(pool) {
		return fmt.Errorf("gave %d of %d messages provider SIDs", p.ops, len(pool))
	}
	return nil
}

// verifyDelivered counts the delivered messages of the run (those the raw ceiling created): one
// for each delivered callback that was answered 2xx or ingested.
func verifyDelivered(ctx context.Context, n *benchNode, want int64) (string, bool) {
	var count int64
	f := switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusDelivered}, CreatedAfter: &n.started, Limit: 500}
	for range 100_000 { // bounded: 500 per page
		msgs, next, err := n.Store().ListMessages(ctx, f)
		if err != nil {
			return "listing delivered messages: " + err.Error(), false
		}
		for _, m := range msgs {
			if m.APIKeyID == n.rawKeyID {
				count++
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	check := fmt.Sprintf("%d messages delivered for %d delivered callbacks answered 2xx or ingested", count, want)
	if count != want {
		return "FAILED: " + check, false
	}
	return check, true
}
