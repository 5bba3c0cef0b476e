package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// busName is the endpoint name the NATS bus takes (its endpoint ID is "ep_nats").
const busName = "nats"

// buildEvents reads the settings of event delivery and of the NATS bus.
func (c *Config) buildEvents(v map[string]string) error {
	var err error
	if c.EndpointsAllowPrivate, err = strconv.ParseBool(v["endpoints_allow_private"]); err != nil {
		return fmt.Errorf("config: endpoints_allow_private=%q must be true or false; set SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE", v["endpoints_allow_private"])
	}
	if c.EndpointsTimeout, err = time.ParseDuration(v["endpoints_timeout"]); err != nil || c.EndpointsTimeout <= 0 {
		return fmt.Errorf("config: endpoints_timeout=%q is not a positive duration such as 10s; set SWITCHBOARD_ENDPOINTS_TIMEOUT", v["endpoints_timeout"])
	}
	for _, part := range strings.Split(v["endpoints_retry_schedule"], ",") {
		d, err := parseDays(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return fmt.Errorf("config: endpoints_retry_schedule=%q must be positive durations separated by commas, such as 5s,5m,30m,2h; set SWITCHBOARD_ENDPOINTS_RETRY_SCHEDULE", v["endpoints_retry_schedule"])
		}
		c.EndpointsRetrySchedule = append(c.EndpointsRetrySchedule, d)
	}
	if c.EndpointsDisableAfter, err = parseDays(v["endpoints_disable_after"]); err != nil {
		return fmt.Errorf("config: endpoints_disable_after=%q must be a duration such as 5d or 12h, or 0; set SWITCHBOARD_ENDPOINTS_DISABLE_AFTER", v["endpoints_disable_after"])
	}
	if c.EndpointsConcurrency, err = strconv.Atoi(v["endpoints_concurrency"]); err != nil || c.EndpointsConcurrency < 1 {
		return fmt.Errorf("config: endpoints_concurrency=%q must be a positive integer; set SWITCHBOARD_ENDPOINTS_CONCURRENCY", v["endpoints_concurrency"])
	}
	c.NATSURL, c.NATSSubject, c.NATSStream = strings.TrimSpace(v["nats_url"]), v["nats_subject"], v["nats_stream"]
	if c.NATSURL == "" {
		return nil
	}
	for _, one := range strings.Split(c.NATSURL, ",") {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
			return fmt.Errorf("config: nats_url must be nats://HOST:PORT (or tls://, several separated by commas); set SWITCHBOARD_NATS_URL")
		}
	}
	if !natsSubject.MatchString(c.NATSSubject) {
		return fmt.Errorf("config: nats_subject=%q must be dot-separated tokens without spaces or wildcards, such as switchboard or acme.sms; set SWITCHBOARD_NATS_SUBJECT", c.NATSSubject)
	}
	if !natsStream.MatchString(c.NATSStream) {
		return fmt.Errorf("config: nats_stream=%q must be letters, digits, - and _; set SWITCHBOARD_NATS_STREAM", c.NATSStream)
	}
	return nil
}

var (
	natsSubject  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	natsStream   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	endpointName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// resolveEndpoints checks the endpoints of the YAML file and reads their secrets.
func resolveEndpoints(list []EndpointConfig, getenv func(string) string) ([]*switchboard.Endpoint, error) {
	var out []*switchboard.Endpoint
	seen := map[string]bool{}
	for i, e := range list {
		where := fmt.Sprintf("config: endpoints[%d] (%s)", i, e.Name)
		switch {
		case !endpointName.MatchString(e.Name):
			return nil, fmt.Errorf("%s: name must be lower-case letters, digits, - and _ (it makes the endpoint's ID, ep_<name>)", where)
		case e.Name == busName:
			return nil, fmt.Errorf("%s: the name %q is the NATS bus's; choose another", where, busName)
		case seen[e.Name]:
			return nil, fmt.Errorf("%s: the name is listed twice", where)
		case e.Secret != "":
			return nil, fmt.Errorf("%s: secret may not be in the config file; set secret_env or secret_file instead", where)
		}
		seen[e.Name] = true
		if u, err := url.Parse(e.URL); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
			return nil, fmt.Errorf("%s: url must be an absolute http(s) URL without credentials, such as https://app.example.com/webhooks", where)
		}
		types := e.EventTypes
		if len(types) == 0 {
			types = []string{"*"}
		}
		for _, p := range types {
			if !switchboard.ValidEventPattern(p) {
				return nil, fmt.Errorf("%s: event type %q must be *, a type such as message.received or a prefix such as message.*", where, p)
			}
		}
		var raw string
		switch {
		case e.SecretEnv != "" && e.SecretFile != "":
			return nil, fmt.Errorf("%s: set secret_env or secret_file, not both", where)
		case e.SecretEnv != "":
			if raw = getenv(e.SecretEnv); raw == "" {
				return nil, fmt.Errorf("%s: the environment variable %s (secret_env) is empty; set it to the endpoint's secret (whsec_…)", where, e.SecretEnv)
			}
		case e.SecretFile != "":
			b, err := os.ReadFile(e.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("%s: cannot read secret_file: %w", where, err)
			}
			raw = string(b)
		default:
			return nil, fmt.Errorf("%s: set secret_env or secret_file to the endpoint's secret (whsec_…; `switchboard endpoints secret` makes one)", where)
		}
		ep := &switchboard.Endpoint{ID: "ep_" + e.Name, URL: e.URL, Description: e.Description, EventTypes: types,
			Source: switchboard.EndpointFromConfig}
		for j, secret := range strings.Fields(raw) {
			if _, err := switchboard.DecodeSecret(secret); err != nil {
				// The message never quotes the secret.
				return nil, fmt.Errorf("%s: secret %d is not whsec_ followed by the base64 of 24 to 64 bytes", where, j+1)
			}
			ep.Secrets = append(ep.Secrets, switchboard.EndpointSecret{Secret: secret})
		}
		// The first secret is the newest: it is listed last, as rotations append.
		for l, r := 0, len(ep.Secrets)-1; l < r; l, r = l+1, r-1 {
			ep.Secrets[l], ep.Secrets[r] = ep.Secrets[r], ep.Secrets[l]
		}
		out = append(out, ep)
	}
	return out, nil
}
