package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// benchFrom is the sender every bench uses: the simulator's own number.
const benchFrom = "+15005550006"

// newRunID returns a short random tag that makes a run's idempotency keys and bodies its own.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// messageBody is the i-th distinct body of a run: a realistic one-segment GSM-7 text.
func messageBody(run string, i int64) string {
	return "Job #" + run + "-" + itoa(i) + " assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help."
}

// acceptRequest is the JSON body of the i-th POST /v1/messages of a run.
func acceptRequest(run string, i int64) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"to":"`...)
	b = append(b, recipient(i)...)
	b = append(b, `","body":"`...)
	b = append(b, messageBody(run, i)...)
	b = append(b, `","metadata":{"job":"`...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `"}}`...)
	return b
}

// newMessage builds the i-th message of a run as the API builds an accepted one (queued, due
// now, sticky default sender, segments counted, default validity).
func newMessage(run string, i int64, keyID string, now time.Time) *switchboard.Message {
	body := messageBody(run, i)
	until := now.Add(10 * time.Hour)
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued,
		Channel: switchboard.ChannelSMS, Category: switchboard.CategoryTransactional,
		To: recipient(i), From: benchFrom, Pool: switchboard.DefaultPool, Body: body,
		Metadata:      map[string]string{"job": itoa(i)},
		NextAttemptAt: now, ValidUntil: &until, APIKeyID: keyID, CreatedAt: now, UpdatedAt: now,
	}
	m.Segments, m.Encoding = switchboard.Segments(body)
	return m
}

// storeInsert is the raw store ceiling: CreateMessage called directly, with an idempotency
// record as the API writes one, from the same number of workers. Every created message's ID is
// passed to created (when set), by worker. With limit > 0 it stops after that many messages.
func storeInsert(ctx context.Context, st switchboard.Store, cfg Config, run, keyID string, limit int64, d time.Duration,
	created func(worker int, id string)) *phase {
	var next atomic.Int64
	return closedLoop(ctx, cfg.Concurrency, d, func(ctx context.Context, w int) error {
		i := next.Add(1) - 1
		if limit > 0 && i >= limit {
			return errExhausted
		}
		m := newMessage(run, i, keyID, time.Now().UTC())
		sum := sha256.Sum256([]byte(m.Body))
		idem := &switchboard.Idempotency{APIKeyID: keyID, Key: "raw-" + run + "-" + itoa(i), RequestHash: hex.EncodeToString(sum[:])}
		stored, replayed, err := st.CreateMessage(ctx, m, idem)
		if err != nil {
			return err
		}
		if replayed {
			return errors.New("raw insert replayed an idempotency key")
		}
		if created != nil {
			created(w, stored.ID)
		}
		return nil
	})
}

// emptyHandlerPhase is the HTTP ceiling: the same requests, from the same client and workers,
// to a handler that does nothing.
func emptyHandlerPhase(ctx context.Context, cfg Config, client *http.Client, request func(i int64) ([]byte, http.Header)) (*phase, error) {
	es, err := startEmptyServer()
	if err != nil {
		return nil, err
	}
	defer es.close()
	var next atomic.Int64
	return closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, _ int) error {
		body, h := request(next.Add(1) - 1)
		return post(ctx, client, es.url+"/", body, http.StatusNoContent, h)
	}), nil
}

// Accept measures POST /v1/messages: distinct bodies, a distinct recipient and Idempotency-Key on
// each call, answered 202 once the message is committed. The dispatcher is held back for the
// whole run so that it does not compete for the CPU; the accepted messages stay queued.
func Accept(ctx context.Context, cfg Config) (_ *Result, err error) {
	cfg = cfg.withDefaults()
	n, err := startNode(ctx, cfg, nodeSetup{})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	client := newClient(cfg.Concurrency)
	defer client.CloseIdleConnections()
	run := newRunID()
	auth := "Bearer " + n.secret
	request := func(i int64) ([]byte, http.Header) {
		return acceptRequest(run, i), http.Header{
			"Authorization":   {auth},
			"Content-Type":    {"application/json"},
			"Idempotency-Key": {"bench-" + run + "-" + itoa(i)},
		}
	}
	res := newResult("accept", cfg, n.engine)
	res.LatencyOf = "POST /v1/messages, client-observed"

	cfg.progress("accept: empty handler ceiling (%s, %d clients)", cfg.Duration, cfg.Concurrency)
	hp, err := emptyHandlerPhase(ctx, cfg, client, request)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("accept: raw store insert ceiling (%s)", cfg.Duration)
	sp := storeInsert(ctx, n.Store(), cfg, run, n.rawKeyID, 0, cfg.Duration, nil)
	res.Ceilings = []Ceiling{
		ceilingOf(CeilingStoreInsert, "the raw store insert", sp),
		ceilingOf(CeilingEmptyHandler, "an empty handler", hp),
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.progress("accept: POST /v1/messages (%s)", cfg.Duration)
	url := n.URL() + "/v1/messages"
	var next atomic.Int64
	var p *phase
	u, err := measure(cfg.CPUProfile, func() {
		p = closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, _ int) error {
			body, h := request(next.Add(1) - 1)
			return post(ctx, client, url, body, http.StatusAccepted, h)
		})
	})
	if err != nil {
		return nil, err
	}
	res.finish(p, u)
	res.Check, res.Verified = verifyAccepted(ctx, n, p.ops)
	res.Notes = append(res.Notes, "the dispatcher was held back for the whole run (accepted messages stay queued)")
	if p.ops > int64(len(recipients())) {
		res.Notes = append(res.Notes, "recipients repeat after "+strconv.Itoa(len(recipients()))+" messages (the fictional 555-01xx range is that large)")
	}
	return res, nil
}

// verifyAccepted counts the queued messages created through the API with the bench's key: there
// must be one for every 202 (more only if a request timed out after its commit).
func verifyAccepted(ctx context.Context, n *benchNode, accepted int64) (string, bool) {
	var count int64
	f := switchboard.MessageFilter{Statuses: []switchboard.Status{switchboard.StatusQueued}, CreatedAfter: &n.started, Limit: 500}
	for range 100_000 { // bounded: 500 per page
		msgs, next, err := n.Store().ListMessages(ctx, f)
		if err != nil {
			return "listing the accepted messages: " + err.Error(), false
		}
		for _, m := range msgs {
			if m.APIKeyID == n.keyID {
				count++
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	check := "the store holds " + itoa(count) + " queued messages from the API for " + itoa(accepted) + " answers 202"
	if count < accepted {
		return "FAILED: " + check, false
	}
	return check, true
}
