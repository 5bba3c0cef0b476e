package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// benchFlow is the flow the TwiML bench drives: a greeting and a menu, then a confirmation.
const benchFlow = `name: bench_appointment
version: 1
variables:
  clinic: {}
  date: {}
start: greeting
states:
  greeting:
    say: {en-US: "Hello, this is {{clinic}} calling about your appointment on {{date}}."}
    next: menu
  menu:
    gather:
      input: dtmf speech
      num_digits: 1
      prompt: {en-US: "Press 1 to confirm, 2 to reschedule."}
    retries: 1
    on:
      digits: {"1": confirmed, "2": rescheduled}
      timeout: menu
      no_input: goodbye
  confirmed:
    say: {en-US: "Your appointment is confirmed. Goodbye."}
    hangup: true
  rescheduled:
    say: {en-US: "We will text you a link. Goodbye."}
    hangup: true
  goodbye:
    say: {en-US: "Goodbye."}
    hangup: true
`

// TwiML measures one step of a flow as Twilio drives it: a signed POST to
// /webhooks/twilio/voice/{token}/..., the call read from the store, the flow advanced, the call
// written back (one durable commit) and its TwiML answered. Each call takes two steps: answered
// (greeting and menu) and the key press (confirmation). Calls are stored in progress beforehand,
// as the placer leaves them. Its ceiling is the engine alone (voice.Advance, no HTTP, no store).
// At the end every call whose second step was answered must be confirmed.
func TwiML(ctx context.Context, cfg Config) (_ *Result, err error) {
	cfg = cfg.withDefaults()
	flowDir, err := os.MkdirTemp("", "switchboard-bench-flows-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(flowDir)
	if err := os.WriteFile(filepath.Join(flowDir, "bench.yaml"), []byte(benchFlow), 0o600); err != nil {
		return nil, err
	}
	n, err := startNode(ctx, cfg, nodeSetup{env: map[string]string{"SWITCHBOARD_FLOWS_DIR": flowDir, "SWITCHBOARD_CALL_QUIET_HOURS": "off"}})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	client := newClient(cfg.Concurrency)
	defer client.CloseIdleConnections()
	res := newResult("twiml", cfg, n.engine)
	res.LatencyOf = "one flow step (POST /webhooks/twilio/voice/{token}/…), client-observed on loopback: an upper bound of server time"
	token, public, base := n.Simulator().AuthToken(), strings.TrimRight(n.Config().PublicURL, "/"), n.URL()
	run := newRunID()

	// Calls to drive: enough for the phase at a generous rate, created before it.
	count := max(200, int(2500*cfg.Duration.Seconds()))
	cfg.progress("twiml: storing %d calls in progress", count)
	now := time.Now().UTC()
	calls := make([]*switchboard.Call, count)
	var made atomic.Int64
	prep := closedLoop(ctx, cfg.Concurrency, 10*time.Minute, func(ctx context.Context, _ int) error {
		i := made.Add(1) - 1
		if i >= int64(count) {
			return errExhausted
		}
		c := &switchboard.Call{ID: fmt.Sprintf("call_%s%024x", run, i), Status: switchboard.CallInProgress, To: recipient(i),
			From: benchFrom, Flow: "bench_appointment", FlowVersion: 1, Locale: "en-US", RingTimeout: 30, MaxAttempts: 1,
			Variables:   map[string]string{"clinic": "Northside Clinic", "date": "Tuesday at 3:30 PM"},
			ProviderSID: fmt.Sprintf("CA%s%024x", run, i), Token: fmt.Sprintf("bench%s%024x", run, i), Attempts: 1,
			CreatedAt: now, UpdatedAt: now}
		c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
		calls[i] = c
		_, _, err := n.Store().CreateCall(ctx, c, nil)
		return err
	})
	if prep.errors > 0 {
		return nil, fmt.Errorf("storing calls: %s", prep.firstErr)
	}

	step := func(ctx context.Context, c *switchboard.Call, kind string, s int, extra url.Values) error {
		pq := voice.WebhookPath + c.Token + "/" + kind + "?s=" + fmt.Sprint(s)
		form := url.Values{"CallSid": {c.ProviderSID}, "AccountSid": {n.Simulator().AccountSID()}, "From": {c.From}, "To": {c.To},
			"CallStatus": {"in-progress"}, "Direction": {"outbound-api"}, "ApiVersion": {"2010-04-01"}}
		for k, v := range extra {
			form[k] = v
		}
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, twiliosig.Header: {twiliosig.Sign(token, public+pq, form)}}
		return post(ctx, client, base+pq, []byte(form.Encode()), http.StatusOK, h)
	}

	cfg.progress("twiml: empty handler ceiling (%s, %d clients)", cfg.Duration, cfg.Concurrency)
	hp, err := emptyHandlerPhase(ctx, cfg, client, func(i int64) ([]byte, http.Header) {
		form := url.Values{"CallSid": {"CA" + run}, "Digits": {"1"}}
		return []byte(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			twiliosig.Header: {twiliosig.Sign(token, public+voice.WebhookPath+"t/gather?s=1", form)}}
	})
	if err != nil {
		return nil, err
	}
	cfg.progress("twiml: raw store insert ceiling (%s)", cfg.Duration)
	sp := storeInsert(ctx, n.Store(), cfg, run, n.rawKeyID, 0, cfg.Duration, func(int, string) {})

	cfg.progress("twiml: engine ceiling, voice.Advance alone (%s)", cfg.Duration)
	flows, err := voice.Load(flowDir)
	if err != nil {
		return nil, err
	}
	f := flows.Get("bench_appointment", 0)
	var ei atomic.Int64
	ep := closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, _ int) error {
		c := *calls[ei.Add(1)%int64(count)]
		c.Timeline = nil
		_, err := voice.Advance(f, &c, voice.Input{Kind: voice.KindAnswer, Step: 0, At: now}, public+voice.WebhookPath+c.Token)
		return err
	})

	cfg.progress("twiml: flow steps over HTTP (%s, %d clients)", cfg.Duration, cfg.Concurrency)
	type worker struct {
		idx  int64
		step int
	}
	var (
		next      atomic.Int64
		confirmed atomic.Int64
		workers   = make([]worker, cfg.Concurrency)
	)
	var p *phase
	u, err := measure(cfg.CPUProfile, func() {
		p = closedLoop(ctx, cfg.Concurrency, cfg.Duration, func(ctx context.Context, w int) error {
			s := &workers[w]
			if s.step == 0 {
				s.idx = next.Add(1) - 1
				if s.idx >= int64(count) {
					return errExhausted
				}
			}
			c := calls[s.idx]
			var err error
			if s.step == 0 {
				err = step(ctx, c, voice.KindAnswer, 0, nil)
			} else {
				err = step(ctx, c, voice.KindGather, 1, url.Values{"Digits": {"1"}})
				if err == nil {
					confirmed.Add(1)
				}
			}
			s.step = (s.step + 1) % 2
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	if p.exhausted {
		res.Notes = append(res.Notes, fmt.Sprintf("the %d prepared calls ran out before the time did", count))
	}
	res.Ceilings = []Ceiling{
		ceilingOf(CeilingStoreInsert, "the raw store insert", sp),
		ceilingOf(CeilingEmptyHandler, "an empty handler", hp),
		ceilingOf("engine", "the flow engine alone", ep),
	}
	res.finish(p, u)

	// Every call whose key press was answered is confirmed in the store.
	var bad int
	checked := 0
	for i := int64(0); i < next.Load() && i < int64(count); i++ {
		c, err := n.Store().GetCall(ctx, calls[i].ID)
		if err != nil {
			return res, err
		}
		if c.Step == 2 {
			checked++
			if c.Outcome != "confirmed" {
				bad++
			}
		}
	}
	res.Verified = bad == 0 && int64(checked) == confirmed.Load()
	res.Check = fmt.Sprintf("%d calls took both steps (%d answered 2xx), %d of them not confirmed", checked, confirmed.Load(), bad)
	return res, nil
}
