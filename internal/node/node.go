// Package node assembles one Switchboard node: the store, the provider (Twilio, or the built-in
// simulator), the HTTP API, the webhook ingress and the dispatcher, with a graceful shutdown.
// `switchboard serve` runs one; tests and benchmarks boot one on 127.0.0.1:0 with a temporary
// database.
package node

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/alerts"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/clocksync"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/inbound"
	"github.com/switchboard-gw/switchboard/internal/media"
	"github.com/switchboard-gw/switchboard/internal/metrics"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/staging"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/tenantcreds"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
	"github.com/switchboard-gw/switchboard/internal/webhook"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// DevKeyFile is the file in the data directory that holds the development API key.
const DevKeyFile = "dev-api-key"

// Node is one running Switchboard node.
type Node struct {
	cfg    *config.Config
	logger *slog.Logger
	// clock is the cluster's clock (corrected to the database's on PostgreSQL, see openClock);
	// ownClock is this host's, as injected.
	clock    switchboard.Clock
	ownClock switchboard.Clock
	csync    *clocksync.Clock

	store switchboard.Store
	// engine is the store as its engine opened it, before any wrapper (secrets at rest), with
	// what the engine can do beyond switchboard.Store (its clock, shared media, a cluster-wide
	// rate limiter).
	engine     *Engine
	sim        *twiliosim.Simulator
	simSrv     *http.Server
	simSrvAddr string
	provider   *twilio.Provider
	// routes are the providers of the channels (channel_providers); n.provider is one of them.
	routes routes
	api    *api.Server
	// accept is the acceptance service every outbound message is made by.
	accept *accept.Service
	// staging holds staging tenants to their allow-list or the simulator (internal/staging).
	staging *staging.Guard
	// inbound answers inbound messages: keyword replies, routing auto-replies.
	inbound *inbound.Handler
	consent *consent.Service
	metrics *metrics.Metrics
	// templates holds the current catalog; a watcher swaps in good reloads.
	templates atomic.Pointer[templates.Catalog]
	// senders are the current senders (the database's), reloaded when their version moves
	// (senders.go); sendersMu serializes reloads, sendersVersion is the version loaded,
	// sendersKnown the numbers already introduced to the provider, sendersPoke asks for a
	// reload now.
	senders        *switchboard.LiveSenders
	sendersMu      sync.Mutex
	sendersVersion int64
	sendersKnown   map[string]bool
	sendersPoke    chan struct{}
	disp           *dispatch.Dispatcher
	ev             eventsPart
	alerts         *alerts.Evaluator
	verify         *verify.Service
	// verifyDone closes when the verification worker has stopped.
	verifyDone chan struct{}
	vc         voicePart
	wa         *whatsapp.Service
	media      *media.Pipeline
	// creds are the tenants' own Twilio accounts (tenantcreds.go).
	creds *tenantcreds.Cache
	// secretsEncrypted says that stored secrets are encrypted (a secret key is set).
	secretsEncrypted bool
	// bg runs the WhatsApp scans and the media workers; Shutdown waits for them.
	bg sync.WaitGroup

	ln  net.Listener
	srv *http.Server
	// tls says that ln serves TLS (tls_cert_file).
	tls bool

	cancelDispatch context.CancelFunc
	dispatchDone   chan struct{}
	closeOnce      sync.Once
}

// Options adjusts a node beyond its configuration (tests inject a clock or the simulator's
// timings through them).
type Options struct {
	Clock     switchboard.Clock
	SimConfig func(*twiliosim.Config)
	// DispatchConfig adjusts the dispatcher's configuration before it starts.
	DispatchConfig func(*dispatch.Config)
	// EventsConfig adjusts the event worker's configuration before it starts.
	EventsConfig func(*events.Config)
	// VerifyCaller places the voice calls of verifications (nil: no call channel).
	VerifyCaller verify.Caller
	// VerifyConfig adjusts the verification service's configuration before it starts.
	VerifyConfig func(*verify.Config)
	// MediaCheckTLS, when set, is the TLS configuration of the outbound media size checks (tests).
	MediaCheckTLS *tls.Config
	// Providers registers providers beside twilio, by name, for channel_providers to route
	// channels to (docs/architecture.md, "Adding a provider").
	Providers map[string]ProviderSet
}

// Open opens the store, starts the in-process simulator when configured, and listens on the
// configured address, so that a port already in use fails here. Serving starts with Start.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (_ *Node, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, logger: logger, clock: opts.Clock}
	if n.clock == nil {
		n.clock = switchboard.SystemClock
	}
	n.ownClock = n.clock
	defer func() {
		if err != nil {
			n.closeResources()
		}
	}()

	n.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (set SWITCHBOARD_ADDR): %w", cfg.Addr, err)
	}
	if err := n.listenTLS(); err != nil {
		return nil, err
	}
	if cfg.PublicURLDefaulted {
		cfg.PublicURL = n.URL()
	}
	if cfg.Provider == config.ProviderSimulator && !cfg.Input.SimAllowRemote && !isLoopback(n.ln.Addr()) {
		return nil, fmt.Errorf("the simulator provider listens only on loopback addresses, and %s is not one: set SWITCHBOARD_ADDR=127.0.0.1:8080, or SWITCHBOARD_SIM_ALLOW_REMOTE=true for a shared test environment", cfg.Addr)
	}

	n.metrics = metrics.New()
	storeOpts := StoreOptionsOf(cfg)
	storeOpts.OnCommit = n.metrics.StoreCommit
	if n.engine, err = OpenEngine(ctx, cfg.DatabaseURL, storeOpts); err != nil {
		return nil, err
	}
	n.store = n.engine.Store
	if err := n.openSecrets(ctx); err != nil {
		return nil, err
	}
	n.openClock(ctx)
	if err := n.openSenders(ctx); err != nil {
		return nil, err
	}
	if err := n.openEvents(ctx, opts); err != nil {
		return nil, err
	}

	tcfg := twilio.Config{
		AccountSID: cfg.TwilioAccount, AuthToken: cfg.TwilioToken, APIKey: cfg.TwilioAPIKey, APISecret: cfg.TwilioAPISecret,
		BaseURL: cfg.TwilioBaseURL, Timeout: cfg.ProviderTimeout, Logger: logger.With("component", "twilio"),
		Clock: n.ownClock,
	}
	if cfg.Provider == config.ProviderSimulator {
		if err := n.startSimulator(opts); err != nil {
			return nil, err
		}
		tcfg.AccountSID, tcfg.AuthToken, tcfg.APIKey, tcfg.APISecret = n.sim.AccountSID(), n.sim.AuthToken(), "", ""
		tcfg.BaseURL = "http://" + n.simAddr()
	}
	if n.provider, err = twilio.New(tcfg); err != nil {
		return nil, fmt.Errorf("twilio provider: %w", err)
	}
	if n.routes, err = n.routeChannels(opts); err != nil {
		return nil, err
	}
	if err := n.openTenantCredentials(ctx, tcfg); err != nil {
		return nil, err
	}
	if cfg.SyncWebhooks {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.syncWebhooks(sctx, n.senderList(), cfg.PublicURL+webhook.InboundPath)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("pointing the senders' SmsUrl at %s (set SWITCHBOARD_SYNC_WEBHOOKS=false to skip): %w", cfg.PublicURL, err)
		}
	}
	for _, s := range n.senderList() {
		n.sendersKnown[s.From] = true // the simulator has them, and their webhooks are synced
	}

	if n.media, err = n.newMedia(tcfg.AuthToken); err != nil {
		return nil, err
	}
	n.consent = consent.New(n.store, n.clock, cfg.OptInRequired...)
	// A stored code is classed by the SMS channel's provider: the metric is the same for every
	// channel while they all go through one provider (the default).
	n.metrics.SetErrorClasses(func(code int) string { return string(n.routes.provider(switchboard.ChannelSMS).ErrorClass(code)) })
	n.metrics.Registry().MustRegister(n.secretsGauge())
	n.openObserve()
	n.staging = staging.New(n.store, n.simulated(), n.clock)
	n.accept = accept.New(accept.Config{
		Store: n.store, LiveSenders: n.senders, Clock: n.clock, Logger: logger.With("component", "accept"), Consent: n.consent,
		Staging:    n.staging,
		QuietHours: cfg.QuietHours, Templates: n.templates.Load, Observer: n.metrics, DefaultValidity: cfg.DefaultValidity,
		OnAccepted: func() {
			if n.disp != nil {
				n.disp.Notify()
			}
		},
	})
	n.inbound = inbound.New(inbound.Config{
		Messages: n.accept, Keywords: n.consent, Rules: cfg.Keywords, Routes: cfg.InboundRoutes, LiveSenders: n.senders,
		EnqueueMedia: n.enqueueMedia, OnOptOut: n.metrics.OptOut, Logger: logger.With("component", "inbound"),
	})
	n.wa = n.newWhatsApp()
	if n.wa != nil {
		n.accept.UseWhatsApp(n.wa)
	}
	n.disp = n.newDispatcher(opts)
	if cfg.TemplatesDir != "" {
		cat, err := templates.Load(cfg.TemplatesDir, templates.WithDefaultLocale(cfg.TemplatesLocale))
		if err != nil {
			return nil, fmt.Errorf("template catalog %s (run `switchboard templates lint %s`): %w", cfg.TemplatesDir, cfg.TemplatesDir, err)
		}
		n.templates.Store(cat)
		registerContent(n.sim, cat)
	}
	if err := n.openVoice(tcfg.AuthToken); err != nil {
		return nil, err
	}
	if err := n.openVerify(ctx, opts); err != nil {
		return nil, err
	}
	n.api = api.New(api.Config{
		Store: n.store, LiveSenders: n.senders, OnSendersChanged: n.sendersChanged, Clock: n.clock, Logger: logger.With("component", "api"),
		Observer: n.metrics, Messages: n.accept, MaxBodyBytes: cfg.MaxBodyBytes, Staging: n.staging,
		Endpoints:   n.endpointsAPI(),
		Verify:      n.verify,
		Calls:       n.vc.svc,
		WhatsApp:    n.wa,
		Health:      n.health,
		Credentials: n.creds,
	})
	wh := webhook.New(webhook.Config{
		Store: n.store, AuthToken: tcfg.AuthToken, Tokens: n.creds.SigningToken, PublicURL: cfg.PublicURL, Clock: n.clock,
		Logger: logger.With("component", "webhook"), OnInbound: n.inbound.Handle, Observer: n.metrics,
		Prepare: n.inbound.Prepare,
	})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", wh)
	if n.vc.svc != nil {
		mux.Handle(voice.WebhookPath, n.vc.svc.Handler())
	}
	mux.Handle("GET /metrics", n.metrics.Handler())
	mux.Handle("GET "+media.Path, n.media.Handler())
	if n.sim != nil {
		// The control API reads every body and code and can fake a STOP: API key and JSON only.
		mux.Handle("/sim/", n.api.KeyedJSON(n.sim.Handler()))
	}
	if cfg.Dashboard.Enabled {
		ui, err := n.dashboard()
		if err != nil {
			return nil, err
		}
		mux.Handle("/ui", ui)
		mux.Handle("/ui/", ui)
		// A person who opens the node's address lands on the dashboard, not on a bare 404.
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
	mux.Handle("/", n.api.Handler())
	n.srv = &http.Server{
		Handler:           n.clientCertGate(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return n, nil
}

func (n *Node) newDispatcher(opts Options) *dispatch.Dispatcher {
	pub := n.cfg.PublicURL
	dcfg := dispatch.Config{
		Store: n.store, Provider: n.routes.provider(switchboard.ChannelSMS), Providers: n.routes.others(), LiveSenders: n.senders,
		ProviderFor: n.tenantProvider,
		Lease:       n.cfg.Lease, Concurrency: n.cfg.Concurrency, ProviderTimeout: n.cfg.ProviderTimeout,
		ReconcileDelay: n.cfg.ReconcileDelay, StatusPollAfter: n.cfg.StatusPollAfter,
		CallbackURL: func(id string) string {
			return pub + webhook.StatusPath + "?m=" + url.QueryEscape(id)
		},
		// The send policies, in order: consent (an opt-out since acceptance), quiet hours, then
		// WhatsApp's window and the media limits.
		Check:    n.consent.CheckSend,
		Hold:     n.cfg.QuietHours.Hold,
		Observer: n.metrics,
		Prepare:  n.preparer(opts),
		OnOptOut: func(ctx context.Context, m *switchboard.Message, code int) error {
			n.metrics.OptOut(switchboard.ConsentFromProviderError)
			return n.consent.RecordProviderOptOut(ctx, m, code)
		},
		Clock: n.clock, Logger: n.logger.With("component", "dispatch"),
		Pause: n.clockPause,
	}
	// An engine that rate-limits senders itself (PostgreSQL: one row per sender) makes each
	// sender's limit hold across the cluster; otherwise the limit is per process.
	dcfg.Limiter = n.engine.Limiter
	if opts.DispatchConfig != nil {
		opts.DispatchConfig(&dcfg)
	}
	return dispatch.New(dcfg)
}

func (n *Node) startSimulator(opts Options) error {
	token := n.cfg.TwilioToken
	if token == "" {
		// The simulator's default token is public; webhooks signed with it would let anyone who
		// reaches the port fake an inbound STOP. A node's own simulator gets a random one.
		var b [20]byte
		_, _ = rand.Read(b[:])
		token = hex.EncodeToString(b[:])
	}
	scfg := twiliosim.Config{
		AccountSID: n.cfg.TwilioAccount, AuthToken: token,
		Logger: n.logger.With("component", "simulator"), Now: n.clock,
		// When Switchboard answers the keywords itself, the simulated account has Twilio's own
		// keyword handling disabled; otherwise Twilio blocks and answers (twiliosim/optout.go).
		OptOut: twiliosim.OptOutOff,
	}
	if !n.cfg.Keywords.SwitchboardReplies() {
		scfg.OptOut = twiliosim.OptOutTwilio
	}
	var services []string
	for _, s := range n.senderList() {
		if strings.HasPrefix(s.From, "MG") {
			services = append(services, s.From)
		} else {
			scfg.Numbers = append(scfg.Numbers, s.From)
		}
	}
	// A Messaging Service sender exists at the simulated Twilio (which refuses unknown ones),
	// sending from the simulator's own number.
	for _, sid := range services {
		scfg.Services = append(scfg.Services, twiliosim.ServiceConfig{SID: sid, FriendlyName: sid, Numbers: []string{twiliosim.MagicFrom}})
	}
	if opts.SimConfig != nil {
		opts.SimConfig(&scfg)
	}
	n.sim = twiliosim.New(scfg)
	ln, err := net.Listen("tcp", n.cfg.SimAddr)
	if err != nil {
		return fmt.Errorf("simulator: listen on %s (set SWITCHBOARD_SIM_ADDR): %w", n.cfg.SimAddr, err)
	}
	if !n.cfg.Input.SimAllowRemote && !isLoopback(ln.Addr()) {
		_ = ln.Close()
		return fmt.Errorf("simulator: %s is not a loopback address: set SWITCHBOARD_SIM_ADDR=127.0.0.1:0, or SWITCHBOARD_SIM_ALLOW_REMOTE=true for a shared test environment", n.cfg.SimAddr)
	}
	// The simulator's own address serves Twilio's REST API to this node's provider; its control
	// API is served only under /sim/v1 of the API address, behind an API key.
	simREST := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sim/") {
			http.Error(w, "the in-process simulator's control API is at /sim/v1 of the API address, with an API key", http.StatusNotFound)
			return
		}
		n.sim.Handler().ServeHTTP(w, r)
	})
	n.simSrv = &http.Server{Handler: simREST, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.simSrv.Serve(ln) }()
	n.simSrvAddr = ln.Addr().String()
	return nil
}

// StoreOptions say how to open a store.
type StoreOptions struct {
	// Migrate applies pending migrations (SQLite always migrates: one process owns its file).
	Migrate bool
	// MaxConns sizes a PostgreSQL pool.
	MaxConns int
	// OnCommit, when set, is told of every commit of the store (metrics.Metrics.StoreCommit):
	// engine "sqlite" or "postgres", its duration, and the write requests it carried (0 when the
	// engine does not batch them).
	OnCommit func(engine string, took time.Duration, requests int)
}

// OpenStore opens the store a database URL names.
func OpenStore(ctx context.Context, databaseURL string, o StoreOptions) (switchboard.Store, error) {
	e, err := OpenEngine(ctx, databaseURL, o)
	if err != nil {
		return nil, err
	}
	return e.Store, nil
}

// Engine is a store as its engine opened it, with what that engine can do beyond
// switchboard.Store named where the engines are opened (OpenEngine), not discovered later by
// type assertions: the compiler checks that each engine has what it is wired as.
type Engine struct {
	Store switchboard.Store
	// Limiter holds each sender's rate across every node sharing the database (PostgreSQL: one
	// row per sender); nil leaves the dispatcher its per-process limiter (SQLite: one process).
	Limiter dispatch.Limiter
	// Blobs keeps media in the database, where every node reaches it (media_store=database).
	Blobs switchboard.MediaBlobs
	// Now reads the database's clock (PostgreSQL), so that a cluster's nodes share one time
	// scale; nil when the node's own clock is the database's (SQLite).
	Now func(ctx context.Context) (time.Time, error)
}

// OpenEngine opens the store a database URL names, with its engine's capabilities.
func OpenEngine(ctx context.Context, databaseURL string, o StoreOptions) (*Engine, error) {
	engine, dsn, err := config.ParseDatabaseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	switch engine {
	case "sqlite":
		var opts []sqlite.Option
		if o.OnCommit != nil {
			opts = append(opts, sqlite.WithCommitObserver(func(d time.Duration, n int) { o.OnCommit("sqlite", d, n) }))
		}
		db, err := sqlite.Open(ctx, dsn, opts...)
		if err != nil {
			return nil, fmt.Errorf("opening sqlite database %s: %w", dsn, err)
		}
		return &Engine{Store: db, Blobs: db}, nil
	case "postgres":
		opts := []postgres.Option{}
		if !o.Migrate {
			opts = append(opts, postgres.WithoutMigrate())
		}
		if o.MaxConns > 0 {
			opts = append(opts, postgres.WithMaxConns(int32(o.MaxConns)))
		}
		if o.OnCommit != nil {
			opts = append(opts, postgres.WithCommitObserver(func(d time.Duration) { o.OnCommit("postgres", d, 0) }))
		}
		db, err := postgres.Open(ctx, dsn, opts...)
		if err != nil {
			return nil, fmt.Errorf("opening postgres database %s: %w", redactURL(dsn), err)
		}
		return &Engine{Store: db, Limiter: db, Blobs: db, Now: db.Now}, nil
	}
	return nil, fmt.Errorf("database engine %s is not available in this build", engine)
}

// StoreOptionsOf returns the store options a configuration asks for.
func StoreOptionsOf(cfg *config.Config) StoreOptions {
	return StoreOptions{Migrate: cfg.Migrate, MaxConns: cfg.DBMaxConns}
}

// Start serves HTTP and runs the dispatcher until Shutdown.
func (n *Node) Start(ctx context.Context) error {
	if n.cfg.Provider == config.ProviderSimulator {
		if _, err := EnsureDevKey(ctx, n.store, n.cfg.DataDir, n.clock()); err != nil {
			return fmt.Errorf("development API key: %w", err)
		}
	}
	go func() {
		if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("http server stopped", "err", err)
		}
	}()
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancelDispatch = cancel
	if n.cfg.Retention > 0 || !n.cfg.StoreBodies || n.cfg.EventRetention > 0 {
		go n.retentionLoop(dctx)
	}
	if n.cfg.TemplatesDir != "" {
		go templates.Watch(dctx, n.cfg.TemplatesDir, func(c *templates.Catalog, err error) {
			if err != nil {
				n.logger.Error("template catalog reload failed; keeping the previous one", "dir", n.cfg.TemplatesDir, "err", err)
				return
			}
			if c != nil && c != n.templates.Load() {
				n.templates.Store(c)
				registerContent(n.sim, c)
				n.logger.Info("template catalog loaded", "dir", n.cfg.TemplatesDir, "templates", len(c.Templates()), "tenants_with_overrides", len(c.Tenants()))
			}
		}, templates.WithDefaultLocale(n.cfg.TemplatesLocale))
	}
	n.dispatchDone = make(chan struct{})
	go func() {
		defer close(n.dispatchDone)
		_ = n.disp.Run(dctx)
	}()
	n.startEvents(dctx)
	n.startAlerts(dctx)
	n.bg.Go(func() { n.healthLoop(dctx) })
	n.verifyDone = make(chan struct{})
	go func() {
		defer close(n.verifyDone)
		n.verify.Run(dctx, time.Second)
	}()
	n.startVoice(dctx)
	if n.wa != nil {
		n.bg.Go(func() { n.wa.Run(dctx) })
	}
	n.bg.Go(func() { n.media.Run(dctx) })
	n.bg.Go(func() { n.senderRefreshLoop(dctx) })
	n.bg.Go(func() { n.creds.Run(dctx) })
	n.logger.Info("switchboard serving", "addr", n.Addr(), "public_url", n.cfg.PublicURL,
		"provider", n.cfg.Provider, "database", redactURL(n.cfg.DatabaseURL), "version", switchboard.Version)
	return nil
}

// Retain redacts what the retention settings say is too old (every finished message's body with
// store_bodies=false) and returns how many messages it redacted.
func (n *Node) Retain(ctx context.Context) (int, error) {
	now := n.clock()
	cutoff := now.Add(-n.cfg.Retention)
	if !n.cfg.StoreBodies {
		cutoff = now.Add(time.Microsecond)
	} else if n.cfg.Retention <= 0 {
		return 0, nil
	}
	return drain(func() (int, error) { return n.store.Redact(ctx, cutoff, now, 1000) })
}

// drain calls batch until it returns 0 or an error and returns the sum of its answers: the
// store's retention methods work in batches.
func drain(batch func() (int, error)) (int, error) {
	total := 0
	for {
		k, err := batch()
		total += k
		if err != nil || k == 0 {
			return total, err
		}
	}
}

// PruneRefusals deletes the verification refusals older than the retention and returns how many.
// store_bodies=false does not shorten it: a refusal's ID is the support reference a person quotes.
func (n *Node) PruneRefusals(ctx context.Context) (int, error) {
	if n.cfg.Retention <= 0 {
		return 0, nil
	}
	before := n.clock().Add(-n.cfg.Retention)
	return drain(func() (int, error) { return n.store.PruneRefusals(ctx, before, 1000) })
}

// PruneMedia deletes the stored media files last received before the retention cutoff and
// returns how many. store_bodies=false does not shorten it: an application must still fetch a
// file after media.stored.
func (n *Node) PruneMedia() (int, error) {
	if n.cfg.Retention <= 0 || n.media == nil {
		return 0, nil
	}
	return n.media.Prune(n.clock().Add(-n.cfg.Retention))
}

// PruneEvents deletes the events older than the event retention that were fanned out and have
// no pending delivery, with their deliveries, and returns how many events it deleted.
func (n *Node) PruneEvents(ctx context.Context) (int, error) {
	if n.cfg.EventRetention <= 0 {
		return 0, nil
	}
	before := n.clock().Add(-n.cfg.EventRetention)
	return drain(func() (int, error) { return n.store.PruneEvents(ctx, before, 1000) })
}

func (n *Node) retentionLoop(ctx context.Context) {
	every := time.Minute
	if !n.cfg.StoreBodies {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if k, err := n.Retain(ctx); err != nil && ctx.Err() == nil {
				n.logger.Error("retention", "err", err)
			} else if k > 0 {
				n.logger.Info("retention redacted message bodies and calls", "redacted", k)
			}
			if k, err := n.PruneMedia(); err != nil && ctx.Err() == nil {
				n.logger.Error("media retention", "err", err)
			} else if k > 0 {
				n.logger.Info("retention deleted media files", "files", k)
			}
			if k, err := n.PruneRefusals(ctx); err != nil && ctx.Err() == nil {
				n.logger.Error("refusal retention", "err", err)
			} else if k > 0 {
				n.logger.Info("retention deleted verification refusals", "refusals", k)
			}
			if k, err := n.PruneEvents(ctx); err != nil && ctx.Err() == nil {
				n.logger.Error("event retention", "err", err)
			} else if k > 0 {
				n.logger.Info("event retention deleted delivered events", "events", k)
			}
		}
	}
}

// Addr is the address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL is the node's base URL on loopback (https when the listener serves TLS).
func (n *Node) URL() string {
	if n.tls {
		return "https://" + n.Addr()
	}
	return "http://" + n.Addr()
}

// Config is the node's resolved configuration.
func (n *Node) Config() *config.Config { return n.cfg }

// Store is the node's store.
func (n *Node) Store() switchboard.Store { return n.store }

// Simulator is the in-process simulator, or nil with provider twilio.
func (n *Node) Simulator() *twiliosim.Simulator { return n.sim }

// Shutdown drains the node: /readyz answers 503, the dispatcher stops claiming and lets provider
// calls in flight finish, leases are released, then HTTP stops and the store closes. It returns
// when done or when ctx ends.
func (n *Node) Shutdown(ctx context.Context) error {
	var err error
	n.closeOnce.Do(func() {
		n.api.SetDraining(true)
		if n.cancelDispatch != nil {
			n.cancelDispatch()
			select {
			case <-n.dispatchDone:
			case <-ctx.Done():
				err = fmt.Errorf("dispatcher did not drain in time: %w", ctx.Err())
			}
			if eerr := n.waitEvents(ctx); eerr != nil && err == nil {
				err = eerr
			}
			if verr := n.waitVoice(ctx); verr != nil && err == nil {
				err = verr
			}
			if n.verifyDone != nil {
				select {
				case <-n.verifyDone:
				case <-ctx.Done():
				}
			}
			if werr := n.waitBackground(ctx); werr != nil && err == nil {
				err = werr
			}
		}
		if serr := n.srv.Shutdown(ctx); serr != nil && err == nil {
			err = serr
		}
		n.closeResources()
	})
	return err
}

func (n *Node) closeResources() {
	if n.ln != nil {
		_ = n.ln.Close()
	}
	if n.simSrv != nil {
		_ = n.simSrv.Close()
	}
	if n.sim != nil {
		n.sim.Close()
	}
	n.closeEvents()
	if n.store != nil {
		_ = n.store.Close()
	}
}

// EnsureDevKey makes sure the data directory holds a working development API key (mode 0600)
// and returns its secret: the key a newcomer's CLI uses with no configuration.
func EnsureDevKey(ctx context.Context, store switchboard.KeyStore, dataDir string, now time.Time) (string, error) {
	path := filepath.Join(dataDir, DevKeyFile)
	if raw, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(raw))
		if _, err := store.GetAPIKeyByHash(ctx, switchboard.HashAPIKeySecret(secret)); err == nil {
			return secret, nil
		}
	}
	key, secret, err := CreateAPIKey(ctx, store, "development", now)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	_ = key
	return secret, nil
}

// CreateAPIKey creates an admin API key of the default tenant and returns it with its secret,
// which is shown only once.
func CreateAPIKey(ctx context.Context, store switchboard.KeyStore, name string, now time.Time) (*switchboard.APIKey, string, error) {
	return CreateKey(ctx, store, name, switchboard.DefaultTenant, switchboard.RoleAdmin, now)
}

// CreateKey creates an API key of tenant with role and returns it with its secret, which is
// shown only once. It is how the first platform key is made (switchboard keys create --role
// platform): whoever writes the database needs no key to make one.
func CreateKey(ctx context.Context, store switchboard.KeyStore, name, tenant string, role switchboard.Role, now time.Time) (*switchboard.APIKey, string, error) {
	if !role.Valid() {
		return nil, "", switchboard.Errorf(switchboard.EINVALID, "invalid_role", "role %q must be send, read, admin or platform", role)
	}
	key, secret, err := switchboard.NewAPIKey(name, now)
	if err != nil {
		return nil, "", err
	}
	key.Tenant, key.Role = tenant, role
	if err := store.CreateAPIKey(ctx, key); err != nil {
		return nil, "", err
	}
	return key, secret, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

func (n *Node) simAddr() string { return n.simSrvAddr }

// isLoopback reports whether a listener's address is a loopback address (not the unspecified
// address, which listens on every interface).
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
