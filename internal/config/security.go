package config

import (
	"fmt"
	"strconv"
	"strings"
)

// SecurityConfig holds the settings of secrets at rest and TLS.
type SecurityConfig struct {
	// SecretKey lists the keys that encrypt stored secrets, KEY_ID:BASE64 separated by commas,
	// the current one first ("": secrets are stored in plaintext).
	SecretKey string
	// SecretKeyRequired refuses to start without SecretKey.
	SecretKeyRequired bool

	// TLSCertFile and TLSKeyFile, when set, make the listener serve HTTPS with this pair,
	// reloaded when the files change.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile, when set, verifies client certificates against these CAs (mTLS), and
	// TLSClientAuth says which routes require one: TLSClientAuthAPI or TLSClientAuthAll.
	TLSClientCAFile string
	TLSClientAuth   string
	// EndpointsTLSCertFile and EndpointsTLSKeyFile, when set, are the client certificate
	// deliveries to event endpoints present (reloaded when the files change).
	EndpointsTLSCertFile, EndpointsTLSKeyFile string
}

// Routes that require a client certificate when tls_client_ca_file is set.
const (
	// TLSClientAuthAPI: every route but Twilio's webhooks, the dashboard and the health probes.
	TLSClientAuthAPI = "api"
	// TLSClientAuthAll: every route (Twilio's webhooks then come through a proxy that presents
	// a certificate).
	TLSClientAuthAll = "all"
)

func init() {
	settings = append(settings,
		setting{key: "secret_key", env: "SWITCHBOARD_SECRET_KEY", secret: true, help: "keys that encrypt stored secrets (endpoint signing secrets) with AES-256-GCM, as KEY_ID:BASE64 of 32 bytes (openssl rand -base64 32), comma-separated, the current key first and older ones after it (environment only; or secret_key_file)"},
		setting{key: "secret_key_file", env: "SWITCHBOARD_SECRET_KEY_FILE", help: "file holding secret_key (keys separated by commas or new lines)"},
		setting{key: "tls_cert_file", env: "SWITCHBOARD_TLS_CERT_FILE", help: "PEM certificate (chain) the listener serves HTTPS with, reloaded when the file changes (with tls_key_file; empty: plain HTTP)"},
		setting{key: "tls_key_file", env: "SWITCHBOARD_TLS_KEY_FILE", help: "PEM private key of tls_cert_file, reloaded when the file changes"},
		setting{key: "tls_client_ca_file", env: "SWITCHBOARD_TLS_CLIENT_CA_FILE", help: "PEM CA certificates that client certificates must chain to (mTLS; needs tls_cert_file)"},
		setting{key: "tls_client_auth", env: "SWITCHBOARD_TLS_CLIENT_AUTH", def: "api", help: "with tls_client_ca_file, the routes that require a client certificate: api (all but /webhooks/, /ui and the health probes) or all"},
		setting{key: "endpoints_tls_cert_file", env: "SWITCHBOARD_ENDPOINTS_TLS_CERT_FILE", help: "PEM client certificate deliveries to event endpoints present (mTLS; with endpoints_tls_key_file), reloaded when the file changes"},
		setting{key: "endpoints_tls_key_file", env: "SWITCHBOARD_ENDPOINTS_TLS_KEY_FILE", help: "PEM private key of endpoints_tls_cert_file"},
		setting{key: "secret_key_required", env: "SWITCHBOARD_SECRET_KEY_REQUIRED", def: "false", help: "refuse to start without secret_key, rather than store secrets in plaintext"},
	)
}

// buildSecurity reads the settings of secrets at rest.
func (c *Config) buildSecurity(v map[string]string) error {
	var err error
	s := &c.Security
	if s.SecretKey, err = secret(v, "secret_key"); err != nil {
		return err
	}
	if s.SecretKeyRequired, err = strconv.ParseBool(v["secret_key_required"]); err != nil {
		return fmt.Errorf("config: secret_key_required=%q must be true or false; set SWITCHBOARD_SECRET_KEY_REQUIRED", v["secret_key_required"])
	}
	s.TLSCertFile, s.TLSKeyFile = strings.TrimSpace(v["tls_cert_file"]), strings.TrimSpace(v["tls_key_file"])
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return fmt.Errorf("config: tls_cert_file and tls_key_file go together; set both SWITCHBOARD_TLS_CERT_FILE and SWITCHBOARD_TLS_KEY_FILE, or neither")
	}
	s.TLSClientCAFile, s.TLSClientAuth = strings.TrimSpace(v["tls_client_ca_file"]), strings.TrimSpace(v["tls_client_auth"])
	if s.TLSClientCAFile != "" && s.TLSCertFile == "" {
		return fmt.Errorf("config: tls_client_ca_file needs TLS on the listener; set SWITCHBOARD_TLS_CERT_FILE and SWITCHBOARD_TLS_KEY_FILE")
	}
	if s.TLSClientAuth != TLSClientAuthAPI && s.TLSClientAuth != TLSClientAuthAll {
		return fmt.Errorf("config: tls_client_auth=%q must be api or all; set SWITCHBOARD_TLS_CLIENT_AUTH", s.TLSClientAuth)
	}
	s.EndpointsTLSCertFile, s.EndpointsTLSKeyFile = strings.TrimSpace(v["endpoints_tls_cert_file"]), strings.TrimSpace(v["endpoints_tls_key_file"])
	if (s.EndpointsTLSCertFile == "") != (s.EndpointsTLSKeyFile == "") {
		return fmt.Errorf("config: endpoints_tls_cert_file and endpoints_tls_key_file go together; set both SWITCHBOARD_ENDPOINTS_TLS_CERT_FILE and SWITCHBOARD_ENDPOINTS_TLS_KEY_FILE, or neither")
	}
	if s.SecretKeyRequired && strings.TrimSpace(s.SecretKey) == "" {
		return fmt.Errorf("config: secret_key_required is set but no secret_key is: set SWITCHBOARD_SECRET_KEY (or SWITCHBOARD_SECRET_KEY_FILE) to KEY_ID:BASE64, e.g. k1:$(openssl rand -base64 32)")
	}
	return nil
}
