// Package twiliosim is Switchboard's Twilio simulator: an in-memory fake of the parts of Twilio's
// REST API that integrations use (Messages and IncomingPhoneNumbers, 2010-04-01, and more), with Twilio's
// message lifecycle, signed status callbacks and inbound webhooks, Twilio's magic test numbers,
// and fault injection. It is the default provider for local development and the test double for
// every test; the official twilio-go client talks to it unchanged (see the tests).
//
// One http.Handler serves both Twilio's REST paths (/2010-04-01/...) and the simulator's own
// control API (/sim/v1/...):
//
//	GET  /sim/v1/messages   every message the simulated account and its subaccounts hold (filters: to, from, status, direction, account_sid)
//	POST /sim/v1/inbound    a phone texts an owned number: {"from","to","body","media_urls"}
//	GET  /sim/v1/numbers    the owned numbers
//	POST /sim/v1/numbers    add or update an owned number: {"number","sms_url","sms_method",...}
//	GET  /sim/v1/faults     the current fault settings
//	POST /sim/v1/faults     replace the fault settings (see Faults)
//	POST /sim/v1/reset      forget every message, call, call script, fault and opt-out; owned numbers are kept
//	GET  /sim/v1/calls      every call, with the URLs it requested and what its callee heard
//	POST /sim/v1/calls/script        script the calls to a number (outcome, the callee's answers)
//	POST /sim/v1/calls/{sid}/input   the live call's next answer to a Gather
//	GET  /sim/v1/stats      counters of lifecycle steps and callback deliveries (see Stats)
//
// The control API takes JSON or form bodies and is not authenticated: the simulator is a
// development tool and must never face the internet.
//
// Fidelity notes (where Twilio's behaviour was chosen or simplified):
//   - Credentials behave like live credentials, not Twilio's test credentials: messages are
//     stored, move through their lifecycle and produce status callbacks. The magic numbers of
//     Twilio's test credentials (+15005550001 and friends) are still refused at create exactly as
//     Twilio documents them, with HTTP 400 and nothing stored.
//   - A request for another account's path with valid credentials answers 404/20404 ("The
//     requested resource ... was not found"), as Twilio does.
//   - Cancel (POST .../Messages/{Sid}.json Status=canceled) applies only to scheduled messages;
//     any other status answers 400/30409 "This message cannot be canceled", as Twilio documents.
//   - A message still queued when its ValidityPeriod ends fails with 30036 ("Validity Period
//     Expired"; older Twilio material says 30001). Out-of-range ValidityPeriod answers 90007.
//   - A Messaging Service message without From starts "accepted" with from null and
//     num_segments "0", then moves to "queued" (with a callback) once a sender is picked among
//     the service's own numbers, sticky per recipient (services.go).
//   - Status callbacks are posted for every status after the first; date_sent and price are set
//     when the message is sent.
//
// Beyond messages it serves Messaging Services (services.go), the Account resource, API keys and
// subaccounts (account.go), a message's Media and Feedback (media.go), Calls with live control
// (calls.go, callee.go), Verify v2 (verify.go), the Content API (whatsapp.go) and Lookup v2
// (lookup.go); it models opt-out keywords (optout.go), per-sender throughput and carrier error
// mixes (throughput.go) and Twilio's webhook connection overrides (callback.go). The README's
// simulator section lists every behaviour with its source.
package twiliosim

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Development defaults, used when Config leaves the credentials empty. Both are alphanumeric, as
// twilio-go requires of credentials.
const (
	DefaultAccountSID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	DefaultAuthToken  = "simulatordevelopmentauthtoken000"
	// MagicFrom is the number every simulated account owns: Twilio's test "From" that passes.
	MagicFrom = "+15005550006"
)

// Default lifecycle delays and limits.
const (
	DefaultSendingDelay   = 50 * time.Millisecond
	DefaultSentDelay      = 50 * time.Millisecond
	DefaultDeliveredDelay = 100 * time.Millisecond
	// DefaultMaxMessages bounds how many messages the simulator keeps; the oldest are forgotten.
	DefaultMaxMessages = 1_000_000
	// DefaultCallbackWorkers is how many callbacks are posted concurrently.
	DefaultCallbackWorkers = 32
	// DefaultCallbackQueue is the capacity of the queue of callbacks waiting for a worker. When it
	// is full the lifecycle waits (back-pressure) rather than using more memory.
	DefaultCallbackQueue = 16384
	// DefaultCallbackRetries is how many times a failed callback is posted again when its
	// failure is one the retry policy retries (by default only a failed connection): Twilio's
	// documented default of one retry. A "#rc=N" fragment on the URL overrides it (callback.go).
	DefaultCallbackRetries = 1
	// DefaultCallRingDelay and DefaultCallAnswerDelay pace a simulated call.
	DefaultCallRingDelay   = 20 * time.Millisecond
	DefaultCallAnswerDelay = 30 * time.Millisecond
	// DefaultCallInputWait caps a silent callee's wait at a Gather.
	DefaultCallInputWait = 10 * time.Second
)

// Config configures a Simulator. The zero value is a working development simulator.
type Config struct {
	// AccountSID is the simulated account (default DefaultAccountSID).
	AccountSID string
	// AuthToken is the account's auth token (default DefaultAuthToken). It authenticates REST
	// requests and signs every callback and webhook.
	AuthToken string
	// APIKeys maps API key SIDs (SK...) to their secrets; these also authenticate REST requests.
	APIKeys map[string]string
	// Numbers are E.164 numbers the account owns besides MagicFrom.
	Numbers []string
	// Subaccounts are subaccounts of the account from the start, each with its own token,
	// numbers and API keys, messages and signed callbacks (account.go).
	Subaccounts []SubaccountConfig
	// SendingDelay, SentDelay and DeliveredDelay are how long a message stays queued, sending
	// and sent (defaults DefaultSendingDelay, DefaultSentDelay, DefaultDeliveredDelay).
	SendingDelay, SentDelay, DeliveredDelay time.Duration
	// HTTPClient posts callbacks and webhooks (default: 5 s connect, 15 s overall timeout, as
	// Twilio's webhook defaults).
	HTTPClient *http.Client
	// Logger receives the simulator's logs (default: discarded). Bodies and tokens are never
	// logged; phone numbers are masked.
	Logger *slog.Logger
	// Now is the clock used for timestamps (default time.Now). Lifecycle timers use real time.
	Now func() time.Time
	// MaxMessages bounds how many messages are kept (default DefaultMaxMessages).
	MaxMessages int
	// CallbackWorkers and CallbackQueue size the callback delivery pool (defaults
	// DefaultCallbackWorkers, DefaultCallbackQueue).
	CallbackWorkers, CallbackQueue int
	// CallbackRetries is how many times a failed callback is retried (default
	// DefaultCallbackRetries; negative means never).
	CallbackRetries int
	// CallRingDelay and CallAnswerDelay are how long a call stays queued and ringing (defaults
	// DefaultCallRingDelay, DefaultCallAnswerDelay).
	CallRingDelay, CallAnswerDelay time.Duration
	// Services are the account's Messaging Services at start (services.go); their numbers
	// become owned numbers. Others can be created through messaging.twilio.com/v1/Services.
	Services []ServiceConfig
	// OptOut is the opt-out keyword handling: OptOutTwilio (the default: Twilio's default
	// handling), OptOutSilent or OptOutOff (see optout.go).
	OptOut string
	// CallInputWait, when set, is how long a silent callee keeps every <Gather> waiting for
	// input, whatever the Gather's timeout; by default it waits the Gather's own timeout, at
	// most DefaultCallInputWait.
	CallInputWait time.Duration
}

// Faults are the failures the simulator injects. The zero value injects nothing. Ratios are
// probabilities between 0 and 1, drawn independently per request or per callback.
//
// The REST faults (429, 500, timeout) apply to message creates (POST .../Messages.json), in this
// order, each an independent draw:
//   - 429: answered at once with HTTP 429 / 20429; no message is created.
//   - 500: answered with HTTP 500 / 20500. A coin flip per request decides whether the message
//     was created (and runs its lifecycle, callbacks included) before the 500, since both happen
//     with real providers: a client must treat a 5xx as ambiguous and reconcile.
//   - timeout: the message is created and its lifecycle runs, but the answer is held for
//     TimeoutMS (default 15 s) or until the client goes away; a client still waiting then gets
//     the normal, late answer.
//
// LatencyMS delays every REST request (not the control API).
type Faults struct {
	Status429Ratio float64 `json:"status_429_ratio"`
	Status500Ratio float64 `json:"status_500_ratio"`
	TimeoutRatio   float64 `json:"timeout_ratio"`
	// TimeoutMS is how long a "timeout" answer is held (default 15000).
	TimeoutMS int `json:"timeout_ms"`
	LatencyMS int `json:"latency_ms"`
	// CallbackDuplicates posts every status callback this many extra times (same payload, same
	// signature, same I-Twilio-Idempotency-Token).
	CallbackDuplicates int `json:"callback_duplicates"`
	// CallbackShuffle holds a message's status callbacks until it reaches a final status, then
	// posts them all in random order.
	CallbackShuffle bool `json:"callback_shuffle"`
	// CallbackDropRatio is the probability that a status callback is never posted.
	CallbackDropRatio float64 `json:"callback_drop_ratio"`
	// CallbackDelayMS delays every status callback.
	CallbackDelayMS int `json:"callback_delay_ms"`
	// FailedRatio is the probability that a message fails while sending (status failed,
	// error FailedCode, default 30008) instead of being sent.
	FailedRatio float64 `json:"failed_ratio"`
	FailedCode  int     `json:"failed_code,omitempty"`
	// UndeliveredRatio is the probability that a sent message ends undelivered (error
	// UndeliveredCode, default 30003) instead of delivered.
	UndeliveredRatio float64 `json:"undelivered_ratio"`
	UndeliveredCode  int     `json:"undelivered_code,omitempty"`
	// CarrierErrors is the carrier error mix: for each error code (30003, 30005, 30006,
	// 30007, 30008...), the probability that a sent message ends undelivered with it. The
	// probabilities add up to at most 1 (throughput.go).
	CarrierErrors map[int]float64 `json:"carrier_errors,omitempty"`
	// PartiallyDeliveredRatio is the probability that a multi-segment message that would be
	// delivered ends partially_delivered instead.
	PartiallyDeliveredRatio float64 `json:"partially_delivered_ratio"`
	// ThroughputScale turns the per-sender throughput model on (throughput.go): 0 is off (the
	// default), 1 is Twilio's rates (long code 1 segment/s, toll-free 3, short code 100, outside
	// +1 10), N is N times faster.
	ThroughputScale float64 `json:"throughput_scale"`
	// SenderMPS overrides the rate (segments per second, before scaling) of given senders.
	SenderMPS map[string]float64 `json:"sender_mps,omitempty"`
	// QueueHours is how many hours of segments a sender queues before overflowing (default 10).
	QueueHours float64 `json:"queue_hours,omitempty"`
	// Carriers are per-carrier faults by destination prefix: slow delivery receipts, their
	// own error mix (carriers.go).
	Carriers []CarrierFaults `json:"carriers,omitempty"`
	// WhatsAppErrors is the WhatsApp channel's error mix: for each 63xxx error code (63018
	// channel rate limit, 63003 no WhatsApp account…), the probability that a WhatsApp message
	// fails with it while sending instead of being sent. The probabilities add up to at most 1;
	// SMS and MMS are unaffected.
	WhatsAppErrors map[int]float64 `json:"whatsapp_errors,omitempty"`
}

// Message is the simulator's view of one message, outbound or inbound. It is also the JSON shape
// of GET /sim/v1/messages. ErrorCode 0 means no error.
type Message struct {
	SID                 string     `json:"sid"`
	AccountSID          string     `json:"account_sid"`
	MessagingServiceSID string     `json:"messaging_service_sid,omitempty"`
	Direction           string     `json:"direction"`
	From                string     `json:"from"`
	To                  string     `json:"to"`
	Body                string     `json:"body"`
	MediaURLs           []string   `json:"media_urls,omitempty"`
	ContentSID          string     `json:"content_sid,omitempty"`
	Status              string     `json:"status"`
	ErrorCode           int        `json:"error_code"`
	ErrorMessage        string     `json:"error_message,omitempty"`
	NumSegments         int        `json:"num_segments"`
	NumMedia            int        `json:"num_media"`
	StatusCallback      string     `json:"status_callback,omitempty"`
	ValidityPeriod      int        `json:"validity_period,omitempty"` // seconds
	SendAt              *time.Time `json:"send_at,omitempty"`
	DateCreated         time.Time  `json:"date_created"`
	DateUpdated         time.Time  `json:"date_updated"`
	DateSent            *time.Time `json:"date_sent,omitempty"`
}

// Simulator is a simulated Twilio account. It is safe for concurrent use.
type Simulator struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	client *http.Client

	// faults are the fault settings, or a running traffic profile's (profile_run.go).
	faults faultSource

	// mu guards the message store. Lock order: mu, then numMu or sched.mu; never the reverse.
	mu       sync.RWMutex
	msgs     map[string]*message
	order    []*message // creation order, oldest first
	seq      uint64
	maxMsgs  int
	gen      atomic.Uint64 // bumped by Reset; stale callbacks are skipped
	numMu    sync.RWMutex
	numbers  map[string]*number // by E.164 number
	numOrder []*number

	sched scheduler
	voice voiceState
	wa    whatsapp
	cbq   chan *callbackPost
	stats struct {
		delivered, failedAttempts, abandoned, dropped atomic.Uint64
	}

	// acct holds API keys and subaccounts (account.go).
	acct accountState
	// svc holds the Messaging Services (services.go).
	svc serviceStore
	// queues is the throughput model's per-sender queues (throughput.go).
	queues senderQueues
	// opt is the set of opted-out pairs (optout.go).
	opt optOuts

	// verifyData is the Verify v2 state (verify.go).
	verifyData verifyState

	ctx       context.Context // canceled by Close; in-flight callbacks stop
	cancel    context.CancelFunc
	done      chan struct{}
	mux       *http.ServeMux // routes.go
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns a running simulator. Call Close to stop its background work.
func New(cfg Config) *Simulator {
	if cfg.AccountSID == "" {
		cfg.AccountSID = DefaultAccountSID
	}
	if cfg.AuthToken == "" {
		cfg.AuthToken = DefaultAuthToken
	}
	if cfg.SendingDelay <= 0 {
		cfg.SendingDelay = DefaultSendingDelay
	}
	if cfg.SentDelay <= 0 {
		cfg.SentDelay = DefaultSentDelay
	}
	if cfg.DeliveredDelay <= 0 {
		cfg.DeliveredDelay = DefaultDeliveredDelay
	}
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.CallbackWorkers <= 0 {
		cfg.CallbackWorkers = DefaultCallbackWorkers
	}
	if cfg.CallbackQueue <= 0 {
		cfg.CallbackQueue = DefaultCallbackQueue
	}
	if cfg.CallRingDelay <= 0 {
		cfg.CallRingDelay = DefaultCallRingDelay
	}
	if cfg.CallAnswerDelay <= 0 {
		cfg.CallAnswerDelay = DefaultCallAnswerDelay
	}
	if cfg.OptOut == "" {
		cfg.OptOut = OptOutTwilio
	}
	if cfg.CallbackRetries == 0 {
		cfg.CallbackRetries = DefaultCallbackRetries
	} else if cfg.CallbackRetries < 0 {
		cfg.CallbackRetries = 0
	}
	s := &Simulator{
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Now,
		client:  cfg.HTTPClient,
		msgs:    make(map[string]*message),
		maxMsgs: cfg.MaxMessages,
		numbers: make(map[string]*number),
		cbq:     make(chan *callbackPost, cfg.CallbackQueue),
		done:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = defaultHTTPClient(cfg.CallbackWorkers)
	}
	s.faults.Store(&Faults{})
	s.mux = s.newMux()
	s.sched.init()
	s.voice.init()
	s.wa.init()
	s.svc.init()
	s.acct.made = s.now()
	s.ctx, s.cancel = context.WithCancel(context.Background())

	// Subaccounts first: a number a subaccount owns stays its own when Numbers lists it too.
	s.addSubaccounts()
	for _, n := range append([]string{MagicFrom}, cfg.Numbers...) {
		if _, err := s.AddNumber(n, ""); err != nil {
			s.log.Warn("twiliosim: ignoring configured number", "number", maskNumber(n), "err", err)
		}
	}
	for _, sc := range cfg.Services {
		if _, err := s.AddService(sc); err != nil {
			s.log.Warn("twiliosim: ignoring configured Messaging Service", "sid", sc.SID, "err", err)
		}
	}

	s.wg.Add(1 + cfg.CallbackWorkers)
	go s.runScheduler()
	for range cfg.CallbackWorkers {
		go s.runCallbackWorker()
	}
	return s
}

// defaultHTTPClient mirrors Twilio's webhook timeouts (5 s connect, 15 s read) and keeps enough
// idle connections for every callback worker, so that a busy receiver is not hit by a new TCP
// connection per callback.
func defaultHTTPClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          workers * 4,
			MaxIdleConnsPerHost:   workers * 2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close stops the lifecycle timers and the callback workers, abandons callbacks in flight and
// waits for the background goroutines to end. The handler keeps answering REST requests, but
// messages no longer progress. Close is idempotent.
func (s *Simulator) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		close(s.done)
		s.wg.Wait()
	})
}

// AccountSID returns the simulated account's SID.
func (s *Simulator) AccountSID() string { return s.cfg.AccountSID }

// AuthToken returns the account's auth token, which signs callbacks and webhooks.
func (s *Simulator) AuthToken() string { return s.cfg.AuthToken }

// SetFaults replaces the fault settings and stops a running traffic profile.
func (s *Simulator) SetFaults(f Faults) {
	f.CarrierErrors, f.SenderMPS = maps.Clone(f.CarrierErrors), maps.Clone(f.SenderMPS)
	f.Carriers = slices.Clone(f.Carriers)
	s.faults.Store(&f)
}

// Faults returns the fault settings in force (a running profile's, if one runs).
func (s *Simulator) Faults() Faults { return *s.faults.Load() }

// Messages returns a snapshot of every message the account holds, oldest first.
func (s *Simulator) Messages() []Message {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Message, len(s.order))
	for i, m := range s.order {
		out[i] = m.snapshot()
	}
	return out
}

// Message returns one message by SID.
func (s *Simulator) Message(sid string) (Message, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.msgs[sid]
	if !ok {
		return Message{}, false
	}
	return m.snapshot(), true
}

// Reset forgets every message, pending lifecycle step and callback, and clears the faults.
// Owned numbers and their webhook URLs are kept.
func (s *Simulator) Reset() {
	s.mu.Lock()
	s.gen.Add(1)
	s.msgs = make(map[string]*message)
	s.order = nil
	s.mu.Unlock()
	s.sched.clear()
	s.resetCalls()
	s.faults.Store(&Faults{})
	s.verifyData.reset()
	s.opt.reset()
	s.queues.reset()
	s.wa.mu.Lock()
	s.wa.windows = map[string]time.Time{} // the windows come from messages; content templates stay
	s.wa.mu.Unlock()
}

// Stats are counters of the simulator's background work.
type Stats struct {
	Messages int `json:"messages"`
	// PendingEvents counts lifecycle steps and callback posts waiting for their time.
	PendingEvents int `json:"pending_events"`
	// CallbackQueue counts callback posts waiting for a worker.
	CallbackQueue int `json:"callback_queue"`
	// CallbacksDelivered counts callback posts answered 2xx (duplicates included).
	CallbacksDelivered uint64 `json:"callbacks_delivered"`
	// CallbackAttemptsFailed counts callback posts that failed (non-2xx or connection error).
	CallbackAttemptsFailed uint64 `json:"callback_attempts_failed"`
	// CallbacksAbandoned counts callback posts given up after their last retry.
	CallbacksAbandoned uint64 `json:"callbacks_abandoned"`
	// CallbacksDropped counts status callbacks never posted because of callback_drop_ratio.
	CallbacksDropped uint64 `json:"callbacks_dropped"`
}

// Stats returns the simulator's counters.
func (s *Simulator) Stats() Stats {
	s.mu.RLock()
	n := len(s.msgs)
	s.mu.RUnlock()
	s.sched.mu.Lock()
	pending := len(s.sched.h)
	s.sched.mu.Unlock()
	return Stats{
		Messages:               n,
		PendingEvents:          pending,
		CallbackQueue:          len(s.cbq),
		CallbacksDelivered:     s.stats.delivered.Load(),
		CallbackAttemptsFailed: s.stats.failedAttempts.Load(),
		CallbacksAbandoned:     s.stats.abandoned.Load(),
		CallbacksDropped:       s.stats.dropped.Load(),
	}
}

func (s *Simulator) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
