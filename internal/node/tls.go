package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/tlsfiles"
)

// listenTLS turns the listener into a TLS one when tls_cert_file is set: the certificate is
// re-read when its files change, and with tls_client_ca_file client certificates are verified
// (which routes need one: clientCertGate).
func (n *Node) listenTLS() error {
	s := n.cfg.Security
	if s.TLSCertFile == "" {
		return nil
	}
	pair, err := tlsfiles.Load(s.TLSCertFile, s.TLSKeyFile, n.logger.With("component", "tls"))
	if err != nil {
		return fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
	}
	var cas *x509.CertPool
	if s.TLSClientCAFile != "" {
		if cas, err = tlsfiles.LoadCAs(s.TLSClientCAFile); err != nil {
			return fmt.Errorf("tls_client_ca_file: %w", err)
		}
	}
	n.ln = tls.NewListener(n.ln, tlsfiles.ServerConfig(pair, cas))
	n.tls = true
	return nil
}

// clientCertGate requires a verified client certificate on the routes tls_client_auth names
// when tls_client_ca_file is set. With "api", Twilio's webhooks (Twilio presents no client
// certificate; their signatures protect them), the dashboard (people's browsers) and the health
// probes stay open to TLS without one.
func (n *Node) clientCertGate(h http.Handler) http.Handler {
	s := n.cfg.Security
	if s.TLSClientCAFile == "" {
		return h
	}
	if s.TLSClientAuth == config.TLSClientAuthAll {
		return tlsfiles.RequireClientCert(h, func(*http.Request) bool { return true })
	}
	return tlsfiles.RequireClientCert(h, func(r *http.Request) bool {
		p := r.URL.Path
		return !(strings.HasPrefix(p, "/webhooks/") || p == "/ui" || strings.HasPrefix(p, "/ui/") || p == "/healthz" || p == "/readyz")
	})
}

// endpointsTLS is the TLS configuration of deliveries to endpoints: the client certificate of
// endpoints_tls_cert_file, re-read when its files change; nil without one.
func (n *Node) endpointsTLS() (*tls.Config, error) {
	s := n.cfg.Security
	if s.EndpointsTLSCertFile == "" {
		return nil, nil
	}
	pair, err := tlsfiles.Load(s.EndpointsTLSCertFile, s.EndpointsTLSKeyFile, n.logger.With("component", "tls"))
	if err != nil {
		return nil, fmt.Errorf("endpoints_tls_cert_file/endpoints_tls_key_file: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetClientCertificate: pair.GetClientCertificate}, nil
}
