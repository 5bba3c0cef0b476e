// Package config loads Switchboard's settings. Every setting is a command-line flag, an
// environment variable and a key of the YAML file named by SWITCHBOARD_CONFIG; a flag wins over
// the environment, which wins over the file, which wins over the built-in default.
//
// Secrets (Twilio's auth token and API secret) are read only from the environment or from files
// named by a *_file setting, never from the YAML file itself, so that a config file can be
// committed and shared without leaking credentials.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/routing"
)

// Provider names.
const (
	ProviderSimulator = "simulator"
	ProviderTwilio    = "twilio"
)

// Channels that route to a provider (channel_providers), and the provider every one of them
// goes through unless configured otherwise.
const (
	ChannelVoice            = "voice"
	DefaultChannelProvider  = "twilio"
	DefaultChannelProviders = "sms=twilio,mms=twilio,whatsapp=twilio,voice=twilio"
)

// RoutedChannels are the channels channel_providers routes.
var RoutedChannels = []string{string(switchboard.ChannelSMS), string(switchboard.ChannelMMS), string(switchboard.ChannelWhatsApp), ChannelVoice}

// SimulatorFrom is the number the simulator's account owns and the default sender with it.
const SimulatorFrom = "+15005550006"

// Config is the resolved configuration of a Switchboard node.
type Config struct {
	Addr            string
	DatabaseURL     string
	DataDir         string
	PublicURL       string
	Provider        string
	TwilioBaseURL   string
	TwilioAccount   string
	TwilioToken     string
	TwilioAPIKey    string
	TwilioAPISecret string
	From            string
	SyncWebhooks    bool
	SimAddr         string
	LogLevel        string
	LogFormat       string
	Lease           time.Duration
	ShutdownTimeout time.Duration
	Concurrency     int
	ProviderTimeout time.Duration
	ReconcileDelay  time.Duration
	StatusPollAfter time.Duration
	// SenderRefreshInterval is how often a node checks whether the stored senders changed (an
	// edit through another node's API) and reloads them.
	SenderRefreshInterval time.Duration

	// ChannelProviders names the provider of each of RoutedChannels (channel_providers).
	ChannelProviders map[string]string
	// ClockSkewWarn and ClockSkewMax bound this node's clock offset to the database's (and, for
	// the warning, the provider's): above ClockSkewWarn it warns, above ClockSkewMax it stops
	// dispatching and /readyz fails.
	ClockSkewWarn   time.Duration
	ClockSkewMax    time.Duration
	DefaultValidity time.Duration
	MaxBodyBytes    int64
	Migrate         bool
	DBMaxConns      int
	Senders         []switchboard.Sender
	// Retention is how long bodies and raw payloads are kept (0: forever).
	Retention time.Duration
	// EventRetention is how long finished events and their deliveries are kept (0: forever).
	EventRetention time.Duration
	// StoreBodies false redacts bodies as soon as messages are finished.
	StoreBodies bool
	// TemplatesDir is the template catalog's directory ("" = none).
	TemplatesDir string
	// TemplatesLocale is the locale templates fall back to.
	TemplatesLocale string
	// FlowsDir is the directory of the voice flows ("" = none).
	FlowsDir string
	// CallsPerSecond limits how fast one sender places calls.
	CallsPerSecond float64
	// CallQuietHours is the window of the callee's local time in which no call is placed (nil:
	// none).
	CallQuietHours *consent.Window
	// OptInRequired are the categories that need a recorded opt-in.
	OptInRequired []switchboard.Category
	// QuietHours hold messages of some categories outside the recipient's daytime.
	QuietHours consent.QuietHours
	// Keywords are the inbound keyword rules (STOP/START/HELP) from the YAML file.
	Keywords consent.Keywords
	// InboundRoutes are the inbound routing rules of the YAML file, checked and normalized.
	InboundRoutes routing.Rules
	// Endpoints are the event endpoints of the YAML file, their secrets read from the
	// environment or files (Source config, ID "ep_" + name).
	Endpoints []*switchboard.Endpoint
	// EndpointsAllowPrivate lets endpoints point at private, loopback and link-local addresses.
	EndpointsAllowPrivate bool
	// EndpointsTimeout bounds one delivery attempt.
	EndpointsTimeout time.Duration
	// EndpointsRetrySchedule is the wait before each retry of a failed delivery.
	EndpointsRetrySchedule []time.Duration
	// EndpointsDisableAfter disables an endpoint failing this long without a success (0: never).
	EndpointsDisableAfter time.Duration
	// EndpointsConcurrency bounds the deliveries in flight per node.
	EndpointsConcurrency int
	// NATSURL, when set, publishes every event to JetStream on NATSSubject + "." + type, in the
	// stream NATSStream.
	NATSURL     string
	NATSSubject string
	NATSStream  string
	// Alerts are the built-in alerts' settings (alerts.go).
	Alerts Alerts
	// MetricsQueueMaxAge is how old the queue gauges may be when /metrics is scraped.
	MetricsQueueMaxAge time.Duration
	// Dashboard holds the settings of the dashboard at /ui.
	Dashboard DashboardConfig
	// PublicURLDefaulted is true when no public URL was configured and PublicURL was derived
	// from Addr; a node listening on port 0 then fills in its real port.
	PublicURLDefaulted bool
	// ConfigFile is the YAML file the settings were read from, if any.
	ConfigFile string
	// Verify are the settings of one-time-code verifications.
	Verify VerifyConfig
	// WhatsApp and Media are the WhatsApp channel's and the inbound media pipeline's settings.
	WhatsApp WhatsAppConfig
	Media    MediaConfig
	// Input holds the input-policy settings (simulator address, trusted proxies, dialing).
	Input InputConfig
	// Security holds the settings of secrets at rest and TLS.
	Security SecurityConfig
}

// setting describes one setting: its YAML key (the flag is the key with dashes), its environment
// variable, its default and its help text.
type setting struct {
	key, env, def, help string
	// secret settings are never read from the YAML file.
	secret bool
}

var settings = []setting{
	{key: "addr", env: "SWITCHBOARD_ADDR", def: "127.0.0.1:8080", help: "address the HTTP server listens on"},
	{key: "database_url", env: "SWITCHBOARD_DATABASE_URL", help: "sqlite:PATH or postgres://... (default sqlite:<data_dir>/switchboard.db)"},
	{key: "migrate", env: "SWITCHBOARD_MIGRATE", def: "true", help: "apply database migrations at start-up (false: run 'switchboard migrate' yourself)"},
	{key: "db_max_conns", env: "SWITCHBOARD_DB_MAX_CONNS", def: "20", help: "PostgreSQL connections per node"},
	{key: "data_dir", env: "SWITCHBOARD_DATA_DIR", def: "data", help: "directory for the embedded database and the development API key"},
	{key: "public_url", env: "SWITCHBOARD_PUBLIC_URL", help: "absolute base URL Twilio uses to reach this node (default http://<addr>)"},
	{key: "provider", env: "SWITCHBOARD_PROVIDER", def: ProviderSimulator, help: "simulator (built-in, offline) or twilio"},
	{key: "channel_providers", env: "SWITCHBOARD_CHANNEL_PROVIDERS", def: DefaultChannelProviders, help: "which provider each channel goes through, comma-separated channel=provider (channels sms, mms, whatsapp, voice; a channel not named goes through twilio, and mms follows sms): twilio is Twilio or, with provider simulator, the built-in simulator"},
	{key: "twilio_base_url", env: "SWITCHBOARD_TWILIO_BASE_URL", help: "send Twilio API calls to this base URL instead (e.g. a 'switchboard sim')"},
	{key: "twilio_account_sid", env: "TWILIO_ACCOUNT_SID", help: "Twilio account SID"},
	{key: "twilio_auth_token", env: "TWILIO_AUTH_TOKEN", secret: true, help: "Twilio auth token (environment only; or twilio_auth_token_file)"},
	{key: "twilio_auth_token_file", env: "TWILIO_AUTH_TOKEN_FILE", help: "file holding the Twilio auth token"},
	{key: "twilio_api_key", env: "TWILIO_API_KEY", help: "Twilio API key SID (SK...), used instead of the auth token for REST calls"},
	{key: "twilio_api_secret", env: "TWILIO_API_SECRET", secret: true, help: "Twilio API key secret (environment only; or twilio_api_secret_file)"},
	{key: "twilio_api_secret_file", env: "TWILIO_API_SECRET_FILE", help: "file holding the Twilio API key secret"},
	{key: "from", env: "SWITCHBOARD_FROM", help: "default sender (number or Messaging Service SID) when no senders are configured (+15005550006 with the simulator)"},
	{key: "sync_webhooks", env: "SWITCHBOARD_SYNC_WEBHOOKS", help: "point the senders' SmsUrl at this node at start-up, and new senders' when they are added (default true with the simulator, false with twilio)"},
	{key: "sender_refresh_interval", env: "SWITCHBOARD_SENDER_REFRESH_INTERVAL", def: "2s", help: "how often a node checks (one row read) whether the senders changed through another node's API and reloads them: a change reaches every node within this interval"},
	{key: "sim_addr", env: "SWITCHBOARD_SIM_ADDR", def: "127.0.0.1:0", help: "address the in-process simulator listens on (provider simulator)"},
	{key: "opt_in_required", env: "SWITCHBOARD_OPT_IN_REQUIRED", def: "marketing", help: "categories that need a recorded opt-in, comma-separated (marketing, transactional, otp; \"none\" for none)"},
	{key: "templates_dir", env: "SWITCHBOARD_TEMPLATES_DIR", help: "directory of the template catalog (reloaded on change); empty: no templates"},
	{key: "templates_default_locale", env: "SWITCHBOARD_TEMPLATES_DEFAULT_LOCALE", def: "en", help: "locale a template falls back to"},
	{key: "flows_dir", env: "SWITCHBOARD_FLOWS_DIR", help: "directory of the voice flows (IVR, YAML); empty: no calls"},
	{key: "calls_per_second", env: "SWITCHBOARD_CALLS_PER_SECOND", def: "1", help: "calls placed per second per sender"},
	{key: "call_quiet_hours", env: "SWITCHBOARD_CALL_QUIET_HOURS", def: "21:00-08:00", help: "no call is placed, nor retried, in this window of the callee's local time (the call's timezone, else the zones of the number): start-end, or off"},
	{key: "retention", env: "SWITCHBOARD_RETENTION", def: "30d", help: "after this long (e.g. 30d, 72h), finished messages' bodies and raw provider payloads are redacted (hash, length and segments kept), as are finished calls' variables and inputs, finished verifications' codes and call.completed inputs, and stored media files and verification refusals deleted; 0 keeps them"},
	{key: "event_retention", env: "SWITCHBOARD_EVENT_RETENTION", def: "30d", help: "after this long, events of the event log that every endpoint has received (or dead-lettered) are deleted with their deliveries; 0 keeps them"},
	{key: "store_bodies", env: "SWITCHBOARD_STORE_BODIES", def: "true", help: "false: redact each body as soon as its message is finished"},
	{key: "log_level", env: "SWITCHBOARD_LOG_LEVEL", def: "info", help: "debug, info, warn or error"},
	{key: "log_format", env: "SWITCHBOARD_LOG_FORMAT", def: "text", help: "text or json"},
	{key: "lease", env: "SWITCHBOARD_LEASE", def: "30s", help: "how long a node holds claimed work before another may take it over"},
	{key: "shutdown_timeout", env: "SWITCHBOARD_SHUTDOWN_TIMEOUT", def: "20s", help: "how long a SIGTERM drain may take"},
	{key: "concurrency", env: "SWITCHBOARD_CONCURRENCY", def: "64", help: "provider calls in flight at once per node"},
	{key: "provider_timeout", env: "SWITCHBOARD_PROVIDER_TIMEOUT", def: "10s", help: "timeout of one provider call"},
	{key: "reconcile_delay", env: "SWITCHBOARD_RECONCILE_DELAY", def: "5s", help: "wait after an ambiguous attempt before asking the provider whether it arrived"},
	{key: "status_poll_after", env: "SWITCHBOARD_STATUS_POLL_AFTER", def: "10m", help: "fetch a message's or a call's status from the provider when no callback came for this long"},
	{key: "clock_skew_warn", env: "SWITCHBOARD_CLOCK_SKEW_WARN", def: "2s", help: "warn when this node's clock is off the database's or the provider's by more than this"},
	{key: "clock_skew_max", env: "SWITCHBOARD_CLOCK_SKEW_MAX", def: "30s", help: "stop dispatching (and fail /readyz) while this node's clock is off the database's by more than this"},
	{key: "default_validity", env: "SWITCHBOARD_DEFAULT_VALIDITY", def: "10h", help: "validity of a message that sets no validity_seconds"},
	{key: "max_body_bytes", env: "SWITCHBOARD_MAX_BODY_BYTES", def: "65536", help: "largest API request body accepted"},
	{key: "endpoints_allow_private", env: "SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE", def: "false", help: "let event endpoints point at private, loopback and link-local addresses (development and tests)"},
	{key: "endpoints_timeout", env: "SWITCHBOARD_ENDPOINTS_TIMEOUT", def: "10s", help: "timeout of one event delivery to an endpoint"},
	{key: "endpoints_retry_schedule", env: "SWITCHBOARD_ENDPOINTS_RETRY_SCHEDULE", def: "5s,5m,30m,2h,5h,10h", help: "waits before each retry of a failed delivery, comma-separated (jitter of up to 10% added); then it is a dead letter"},
	{key: "endpoints_disable_after", env: "SWITCHBOARD_ENDPOINTS_DISABLE_AFTER", def: "5d", help: "disable an endpoint whose deliveries have failed this long without a success (e.g. 5d, 12h; 0 never)"},
	{key: "endpoints_concurrency", env: "SWITCHBOARD_ENDPOINTS_CONCURRENCY", def: "16", help: "event deliveries in flight at once per node"},
	{key: "nats_url", env: "SWITCHBOARD_NATS_URL", help: "publish every event to NATS JetStream at this URL (e.g. nats://127.0.0.1:4222); empty: no bus"},
	{key: "nats_subject", env: "SWITCHBOARD_NATS_SUBJECT", def: "switchboard", help: "subject prefix of published events: <prefix>.<event type>"},
	{key: "nats_stream", env: "SWITCHBOARD_NATS_STREAM", def: "SWITCHBOARD_EVENTS", help: "JetStream stream that captures <prefix>.> (created when missing)"},
	{key: "alerts_delivery_rate_threshold", env: "SWITCHBOARD_ALERTS_DELIVERY_RATE_THRESHOLD", def: "0", help: "emit alert.delivery_rate_low when a sender's delivery rate over the window falls below this share (e.g. 0.9); 0 disables"},
	{key: "alerts_delivery_rate_recover", env: "SWITCHBOARD_ALERTS_DELIVERY_RATE_RECOVER", def: "0.02", help: "a firing delivery-rate alert recovers only at threshold + this margin (at most 1), so a sender hovering at the threshold does not flap"},
	{key: "alerts_delivery_rate_window", env: "SWITCHBOARD_ALERTS_DELIVERY_RATE_WINDOW", def: "15m", help: "sliding window of delivery outcomes the delivery rate is computed over"},
	{key: "alerts_delivery_rate_min_samples", env: "SWITCHBOARD_ALERTS_DELIVERY_RATE_MIN_SAMPLES", def: "20", help: "outcomes (delivered + failed) a sender needs in the window before its rate fires or recovers an alert"},
	{key: "alerts_interval", env: "SWITCHBOARD_ALERTS_INTERVAL", def: "1m", help: "how often each node evaluates the built-in alerts"},
	{key: "metrics_queue_max_age", env: "SWITCHBOARD_METRICS_QUEUE_MAX_AGE", def: "5s", help: "queue depth gauges are recomputed on a /metrics scrape when older than this"},
	{key: "dashboard", env: "SWITCHBOARD_DASHBOARD", def: "true", help: "serve the dashboard at /ui (login with an API key, or dashboard_user and its password)"},
	{key: "dashboard_user", env: "SWITCHBOARD_DASHBOARD_USER", help: "user name of the dashboard's password login (empty: API keys only)"},
	{key: "dashboard_user_tenant", env: "SWITCHBOARD_DASHBOARD_USER_TENANT", help: "the tenant whose data dashboard_user sees (empty: every tenant)"},
	{key: "dashboard_user_role", env: "SWITCHBOARD_DASHBOARD_USER_ROLE", def: "admin", help: "what dashboard_user may do: read (look only), admin (also cancel, retry, reply, record consent, replay, rotate) or platform"},
	{key: "dashboard_password", env: "SWITCHBOARD_DASHBOARD_PASSWORD", secret: true, help: "password of dashboard_user, at least 12 characters (environment only; or dashboard_password_file)"},
	{key: "dashboard_password_file", env: "SWITCHBOARD_DASHBOARD_PASSWORD_FILE", help: "file holding the password of dashboard_user"},
	{key: "dashboard_session_ttl", env: "SWITCHBOARD_DASHBOARD_SESSION_TTL", def: "12h", help: "how long a dashboard login lasts"},
	{key: "dashboard_login_rate", env: "SWITCHBOARD_DASHBOARD_LOGIN_RATE", def: "10", help: "failed dashboard password logins per user name and client address before each further one doubles the wait for the next (1 s up to 1 min; forgotten after 10 quiet minutes; per node; API keys are never throttled)"},
}

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// fileConfig is the YAML file: the flat settings plus the structured ones.
type fileConfig struct {
	Senders    []switchboard.Sender `yaml:"senders"`
	Keywords   consent.Keywords     `yaml:"keywords"`
	QuietHours *consent.QuietHours  `yaml:"quiet_hours"`
	Endpoints  []EndpointConfig     `yaml:"endpoints"`
	Routes     routing.Rules        `yaml:"inbound_routes"`
}

// EndpointConfig is an event endpoint listed in the YAML file. Its secret comes from the
// environment variable SecretEnv or the file SecretFile, never from the file itself; the value
// may hold several secrets separated by spaces (a rotation), each "whsec_" and base64.
type EndpointConfig struct {
	Name        string   `yaml:"name"`
	URL         string   `yaml:"url"`
	EventTypes  []string `yaml:"event_types"`
	Description string   `yaml:"description"`
	SecretEnv   string   `yaml:"secret_env"`
	SecretFile  string   `yaml:"secret_file"`
	// Secret is refused: it is here to say so rather than ignore it.
	Secret string `yaml:"secret"`
}

// resolve layers the flat settings: a flag (fs may be nil) over the environment over the YAML
// file named by --config or SWITCHBOARD_CONFIG over the default. It also returns the file's
// structured settings and its path.
func resolve(fs *pflag.FlagSet, getenv func(string) string) (map[string]string, fileConfig, string, error) {
	r, err := resolveFrom(fs, getenv)
	if err != nil {
		return nil, fileConfig{}, "", err
	}
	return r.vals, r.fc, r.path, nil
}

// resolved is the layered flat settings with where each value came from.
type resolved struct {
	vals, from map[string]string
	fc         fileConfig
	path       string
}

func resolveFrom(fs *pflag.FlagSet, getenv func(string) string) (*resolved, error) {
	vals, from := map[string]string{}, map[string]string{}
	flagVal := func(name string) (string, bool) {
		if fs == nil {
			return "", false
		}
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			return "", false
		}
		return f.Value.String(), true
	}

	path, ok := flagVal("config")
	if !ok {
		path = getenv("SWITCHBOARD_CONFIG")
	}
	var fc fileConfig
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: cannot read SWITCHBOARD_CONFIG file: %w", err)
		}
		var flat map[string]any
		if err := yaml.Unmarshal(raw, &flat); err != nil {
			return nil, fmt.Errorf("config: %s is not valid YAML: %w", path, err)
		}
		if err := yaml.Unmarshal(raw, &fc); err != nil {
			return nil, fmt.Errorf("config: %s: senders: %w", path, err)
		}
		known := map[string]setting{"senders": {}, "keywords": {}, "quiet_hours": {}, "endpoints": {}, "inbound_routes": {}}
		for _, s := range settings {
			known[s.key] = s
		}
		var keys []string
		for k := range flat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, ok := known[k]
			if !ok {
				return nil, fmt.Errorf("config: %s: unknown key %q", path, k)
			}
			if s.secret {
				return nil, fmt.Errorf("config: %s: %q is a secret and may not be in the config file; set %s or %s_file instead", path, k, s.env, k)
			}
			if k == "senders" || k == "keywords" || k == "quiet_hours" || k == "endpoints" || k == "inbound_routes" {
				continue
			}
			switch v := flat[k].(type) {
			case map[string]any, []any:
				return nil, fmt.Errorf("config: %s: %q must be a single value", path, k)
			case nil:
			default:
				vals[k] = fmt.Sprint(v)
				from[k] = "the config file " + path
			}
		}
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			vals[s.key], from[s.key] = v, s.env
		}
		if v, ok := flagVal(flagName(s.key)); ok {
			vals[s.key], from[s.key] = v, "--"+flagName(s.key)
		}
		if _, ok := vals[s.key]; !ok && s.def != "" {
			vals[s.key], from[s.key] = s.def, "the default"
		}
	}
	return &resolved{vals: vals, from: from, fc: fc, path: path}, nil
}

// Load resolves the configuration from flags (may be nil), the environment (getenv) and the YAML
// file. The error is one line saying what to set.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	vals, fc, path, err := resolve(fs, getenv)
	if err != nil {
		return nil, err
	}
	c, err := build(vals, fc)
	if err != nil {
		return nil, err
	}
	if c.Endpoints, err = resolveEndpoints(fc.Endpoints, getenv); err != nil {
		return nil, err
	}
	var names []string
	for _, e := range fc.Endpoints {
		names = append(names, e.Name)
	}
	if err := fc.Routes.Prepare(names, c.complianceKeyword); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.InboundRoutes = fc.Routes
	c.ConfigFile = path
	return c, nil
}

func build(v map[string]string, fc fileConfig) (*Config, error) {
	c := &Config{
		Addr:          v["addr"],
		DataDir:       v["data_dir"],
		DatabaseURL:   v["database_url"],
		PublicURL:     strings.TrimRight(v["public_url"], "/"),
		Provider:      strings.ToLower(v["provider"]),
		TwilioBaseURL: strings.TrimRight(v["twilio_base_url"], "/"),
		TwilioAccount: v["twilio_account_sid"],
		TwilioAPIKey:  v["twilio_api_key"],
		From:          v["from"],
		SimAddr:       v["sim_addr"],
		LogLevel:      v["log_level"],
		LogFormat:     v["log_format"],
		Senders:       fc.Senders,
		Keywords:      fc.Keywords,

		TemplatesDir:    v["templates_dir"],
		TemplatesLocale: v["templates_default_locale"],
		FlowsDir:        v["flows_dir"],
	}
	if err := c.Keywords.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.QuietHours = consent.DefaultQuietHours()
	if fc.QuietHours != nil {
		c.QuietHours = *fc.QuietHours
	}
	if err := c.QuietHours.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var err error
	if c.TwilioToken, err = secret(v, "twilio_auth_token"); err != nil {
		return nil, err
	}
	if c.TwilioAPISecret, err = secret(v, "twilio_api_secret"); err != nil {
		return nil, err
	}
	durations := []struct {
		key string
		dst *time.Duration
	}{
		{"lease", &c.Lease}, {"shutdown_timeout", &c.ShutdownTimeout}, {"provider_timeout", &c.ProviderTimeout},
		{"reconcile_delay", &c.ReconcileDelay}, {"status_poll_after", &c.StatusPollAfter}, {"default_validity", &c.DefaultValidity},
		{"clock_skew_warn", &c.ClockSkewWarn}, {"clock_skew_max", &c.ClockSkewMax},
		{"sender_refresh_interval", &c.SenderRefreshInterval},
	}
	for _, d := range durations {
		if *d.dst, err = time.ParseDuration(v[d.key]); err != nil || *d.dst <= 0 {
			return nil, fmt.Errorf("config: %s=%q is not a positive duration such as 30s or 5m; set %s", d.key, v[d.key], envOf(d.key))
		}
	}
	if c.Lease <= c.ProviderTimeout {
		return nil, fmt.Errorf("config: lease (%s) must be longer than provider_timeout (%s), so that no other node takes over a message during a provider call; set SWITCHBOARD_LEASE", c.Lease, c.ProviderTimeout)
	}
	if c.ShutdownTimeout <= c.ProviderTimeout {
		return nil, fmt.Errorf("config: shutdown_timeout (%s) must be longer than provider_timeout (%s), so that a drain lets the provider calls in flight end and be recorded; set SWITCHBOARD_SHUTDOWN_TIMEOUT above %s (or lower SWITCHBOARD_PROVIDER_TIMEOUT)", c.ShutdownTimeout, c.ProviderTimeout, c.ProviderTimeout)
	}
	if c.ClockSkewWarn > c.ClockSkewMax {
		return nil, fmt.Errorf("config: clock_skew_warn (%s) must not be above clock_skew_max (%s); set SWITCHBOARD_CLOCK_SKEW_WARN or SWITCHBOARD_CLOCK_SKEW_MAX", c.ClockSkewWarn, c.ClockSkewMax)
	}
	if c.CallsPerSecond, err = strconv.ParseFloat(v["calls_per_second"], 64); err != nil || c.CallsPerSecond <= 0 || c.CallsPerSecond > 1000 {
		return nil, fmt.Errorf("config: calls_per_second=%q must be a number above 0 and at most 1000; set %s", v["calls_per_second"], envOf("calls_per_second"))
	}
	if c.CallQuietHours, err = consent.ParseWindow(v["call_quiet_hours"]); err != nil {
		return nil, fmt.Errorf("config: call_quiet_hours: %w; set %s", err, envOf("call_quiet_hours"))
	}
	if c.Concurrency, err = strconv.Atoi(v["concurrency"]); err != nil || c.Concurrency < 1 {
		return nil, fmt.Errorf("config: concurrency=%q must be a positive integer; set %s", v["concurrency"], envOf("concurrency"))
	}
	if c.Retention, err = parseDays(v["retention"]); err != nil {
		return nil, fmt.Errorf("config: retention=%q must be a duration such as 30d or 72h, or 0; set SWITCHBOARD_RETENTION", v["retention"])
	}
	if c.EventRetention, err = parseDays(v["event_retention"]); err != nil {
		return nil, fmt.Errorf("config: event_retention=%q must be a duration such as 30d or 72h, or 0; set SWITCHBOARD_EVENT_RETENTION", v["event_retention"])
	}
	if c.StoreBodies, err = strconv.ParseBool(v["store_bodies"]); err != nil {
		return nil, fmt.Errorf("config: store_bodies=%q must be true or false; set SWITCHBOARD_STORE_BODIES", v["store_bodies"])
	}
	if v["opt_in_required"] != "none" {
		for _, part := range strings.Split(v["opt_in_required"], ",") {
			cat := switchboard.Category(strings.TrimSpace(part))
			if cat == "" {
				continue
			}
			if !cat.Valid() {
				return nil, fmt.Errorf("config: opt_in_required: %q is not a category (marketing, transactional, otp); set SWITCHBOARD_OPT_IN_REQUIRED", cat)
			}
			c.OptInRequired = append(c.OptInRequired, cat)
		}
	}
	if c.Migrate, err = strconv.ParseBool(v["migrate"]); err != nil {
		return nil, fmt.Errorf("config: migrate=%q must be true or false; set SWITCHBOARD_MIGRATE", v["migrate"])
	}
	if c.DBMaxConns, err = strconv.Atoi(v["db_max_conns"]); err != nil || c.DBMaxConns < 2 {
		return nil, fmt.Errorf("config: db_max_conns=%q must be an integer of at least 2; set SWITCHBOARD_DB_MAX_CONNS", v["db_max_conns"])
	}
	if c.MaxBodyBytes, err = strconv.ParseInt(v["max_body_bytes"], 10, 64); err != nil || c.MaxBodyBytes < 1024 {
		return nil, fmt.Errorf("config: max_body_bytes=%q must be an integer of at least 1024; set %s", v["max_body_bytes"], envOf("max_body_bytes"))
	}
	if err := c.buildEvents(v); err != nil {
		return nil, err
	}
	if err := c.buildAlerts(v); err != nil {
		return nil, err
	}
	if err := c.buildDashboard(v); err != nil {
		return nil, err
	}
	if err := c.buildVerify(v); err != nil {
		return nil, err
	}
	if err := c.buildWhatsApp(v); err != nil {
		return nil, err
	}
	if err := c.buildInput(v); err != nil {
		return nil, err
	}
	if err := c.buildSecurity(v); err != nil {
		return nil, err
	}

	if c.ChannelProviders, err = ParseChannelProviders(v["channel_providers"]); err != nil {
		return nil, err
	}
	switch c.Provider {
	case ProviderSimulator:
		if c.From == "" && len(c.Senders) == 0 {
			c.From = SimulatorFrom
		}
	case ProviderTwilio:
		if c.TwilioAccount == "" {
			return nil, errors.New("config: provider twilio needs an account: set TWILIO_ACCOUNT_SID")
		}
		if c.TwilioToken == "" {
			return nil, errors.New("config: provider twilio needs the auth token to check webhook signatures: set TWILIO_AUTH_TOKEN (or TWILIO_AUTH_TOKEN_FILE)")
		}
		if (c.TwilioAPIKey == "") != (c.TwilioAPISecret == "") {
			return nil, errors.New("config: set both TWILIO_API_KEY and TWILIO_API_SECRET, or neither")
		}
		if c.From == "" && len(c.Senders) == 0 {
			return nil, errors.New("config: provider twilio needs a sender: set SWITCHBOARD_FROM or list senders in the config file")
		}
	default:
		return nil, fmt.Errorf("config: unknown provider %q; set SWITCHBOARD_PROVIDER to simulator or twilio", c.Provider)
	}
	sync := v["sync_webhooks"]
	if sync == "" {
		c.SyncWebhooks = c.Provider == ProviderSimulator
	} else if c.SyncWebhooks, err = strconv.ParseBool(sync); err != nil {
		return nil, fmt.Errorf("config: sync_webhooks=%q must be true or false; set SWITCHBOARD_SYNC_WEBHOOKS", sync)
	}

	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "switchboard.db")
	}
	if _, _, err := ParseDatabaseURL(c.DatabaseURL); err != nil {
		return nil, err
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
		if c.Security.TLSCertFile != "" {
			c.PublicURL = "https://" + c.Addr
		}
		c.PublicURLDefaulted = true
	}
	if u, err := url.Parse(c.PublicURL); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("config: public_url %q must be an absolute http(s) URL such as https://sms.example.com; set SWITCHBOARD_PUBLIC_URL", c.PublicURL)
	}
	if c.TwilioBaseURL != "" {
		if u, err := url.Parse(c.TwilioBaseURL); err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("config: twilio_base_url %q must be an absolute URL such as http://127.0.0.1:9099; set SWITCHBOARD_TWILIO_BASE_URL", c.TwilioBaseURL)
		}
	}
	if err := c.normalizeSenders(); err != nil {
		return nil, err
	}
	return c, nil
}

// normalizeSenders fills defaults and, with no senders configured, makes one of From.
func (c *Config) normalizeSenders() error {
	if len(c.Senders) == 0 {
		kind := switchboard.SenderLongCode
		if strings.HasPrefix(c.From, "MG") {
			kind = switchboard.SenderMessagingService
		}
		c.Senders = []switchboard.Sender{{From: c.From, Kind: kind}}
	}
	seen := map[string]bool{}
	for i := range c.Senders {
		s := &c.Senders[i]
		if s.From == "" {
			return fmt.Errorf("config: senders[%d] has no from", i)
		}
		if seen[s.From] {
			return fmt.Errorf("config: sender %s is listed twice", s.From)
		}
		seen[s.From] = true
		if s.Kind == "" {
			s.Kind = switchboard.SenderLongCode
			if strings.HasPrefix(s.From, "MG") {
				s.Kind = switchboard.SenderMessagingService
			}
		}
		if !s.Kind.Valid() {
			return fmt.Errorf("config: sender %s: kind %q must be long_code, toll_free, short_code or messaging_service", s.From, s.Kind)
		}
		if s.Rate == 0 {
			s.Rate = s.Kind.DefaultRate()
		}
		if s.Burst < 0 {
			return fmt.Errorf("config: sender %s: burst must not be negative", s.From)
		}
		if s.Burst == 0 {
			s.Burst = 1
		}
		if s.Pool == "" {
			s.Pool = switchboard.DefaultPool
		}
		if err := switchboard.CheckSenderTenants(s.Tenants); err != nil {
			return fmt.Errorf("config: sender %s: tenants: %s", s.From, switchboard.ErrorMessage(err))
		}
	}
	return nil
}

// parseDays parses a Go duration, or a whole number of days such as 30d.
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// secret reads a secret from its environment value or from the file its *_file setting names.
func secret(v map[string]string, key string) (string, error) {
	if s := v[key]; s != "" {
		return strings.TrimSpace(s), nil
	}
	path := v[key+"_file"]
	if path == "" {
		return "", nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: cannot read %s_file: %w", key, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

func envOf(key string) string {
	for _, s := range settings {
		if s.key == key {
			return s.env
		}
	}
	return strings.ToUpper("SWITCHBOARD_" + key)
}

// ParseDatabaseURL splits a database URL into its engine ("sqlite" or "postgres") and the
// engine's own data source (a file path, or the postgres URL itself).
func ParseDatabaseURL(s string) (engine, dsn string, err error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//")
		if path == "" {
			return "", "", fmt.Errorf("config: database_url %q names no file; set SWITCHBOARD_DATABASE_URL=sqlite:data/switchboard.db", s)
		}
		return "sqlite", path, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return "postgres", s, nil
	}
	return "", "", fmt.Errorf("config: database_url %q has an unknown scheme; set SWITCHBOARD_DATABASE_URL to sqlite:PATH or postgres://...", s)
}

// Settings documents every setting as (key, environment variable, default, help) rows, for the
// README's configuration reference and `switchboard serve --help`.
func Settings() [][4]string {
	rows := make([][4]string, 0, len(settings))
	for _, s := range settings {
		rows = append(rows, [4]string{s.key, s.env, s.def, s.help})
	}
	return rows
}

// complianceKeyword reports whether word is an opt-out, opt-in or help keyword of any pool.
func (c *Config) complianceKeyword(word string) bool {
	pools := []string{"default"}
	for p := range c.Keywords.Pools {
		pools = append(pools, p)
	}
	for _, s := range c.Senders {
		pools = append(pools, s.Pool)
	}
	for _, p := range pools {
		if c.Keywords.Match(p, word) != nil {
			return true
		}
	}
	return false
}

// ParseChannelProviders reads channel_providers: comma-separated channel=provider pairs. Every
// one of RoutedChannels gets a provider: the one named, mms the one of sms when not named, and
// twilio otherwise. Which names exist is known only to the node (twilio, and the providers an
// embedding program registers), so names are checked there.
func ParseChannelProviders(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ch, name, ok := strings.Cut(part, "=")
		ch, name = strings.ToLower(strings.TrimSpace(ch)), strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" || !slices.Contains(RoutedChannels, ch) {
			return nil, fmt.Errorf("config: channel_providers: %q is not channel=provider with a channel of %s; set SWITCHBOARD_CHANNEL_PROVIDERS", part, strings.Join(RoutedChannels, ", "))
		}
		if prev, dup := out[ch]; dup && prev != name {
			return nil, fmt.Errorf("config: channel_providers names two providers for %s (%s and %s); set SWITCHBOARD_CHANNEL_PROVIDERS", ch, prev, name)
		}
		out[ch] = name
	}
	if _, ok := out[string(switchboard.ChannelMMS)]; !ok {
		if sms, ok := out[string(switchboard.ChannelSMS)]; ok {
			out[string(switchboard.ChannelMMS)] = sms
		}
	}
	for _, ch := range RoutedChannels {
		if out[ch] == "" {
			out[ch] = DefaultChannelProvider
		}
	}
	return out, nil
}
