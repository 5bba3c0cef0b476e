// Package tlsfiles serves TLS certificates from files that an operator (or an ACME client, or
// cert-manager) replaces while Switchboard runs: a Pair re-reads its certificate and key when
// either file changes (modification time or size), at the next handshake, without a restart; a
// pair that does not load keeps the previous one in use. It also builds the listener's
// tls.Config, with optional verification of client certificates (mTLS).
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// Pair is a certificate and key loaded from files and reloaded when they change.
type Pair struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	certSig fileSig
	keySig  fileSig
}

type fileSig struct {
	mod  time.Time
	size int64
}

func sigOf(path string) (fileSig, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}, err
	}
	return fileSig{fi.ModTime(), fi.Size()}, nil
}

// Load loads a pair; it fails when the files do not hold a matching certificate and key.
func Load(certFile, keyFile string, logger *slog.Logger) (*Pair, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pair{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := p.reload(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pair) reload() error {
	cs, err := sigOf(p.certFile)
	if err != nil {
		return fmt.Errorf("certificate file: %w", err)
	}
	ks, err := sigOf(p.keyFile)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	c, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		return fmt.Errorf("loading %s and %s: %w", p.certFile, p.keyFile, err)
	}
	p.cert, p.certSig, p.keySig = &c, cs, ks
	return nil
}

// Certificate returns the current certificate, reloading the files first when they changed.
func (p *Pair) Certificate() *tls.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs, cerr := sigOf(p.certFile)
	ks, kerr := sigOf(p.keyFile)
	if cerr == nil && kerr == nil && (cs != p.certSig || ks != p.keySig) {
		if err := p.reload(); err != nil {
			// Mid-replacement (the certificate written, the key not yet) or broken: keep serving
			// the previous pair, and try again at the next handshake.
			p.logger.Warn("TLS certificate files changed but do not load; keeping the previous certificate", "err", err)
		} else {
			p.logger.Info("TLS certificate reloaded", "cert_file", p.certFile)
		}
	}
	return p.cert
}

// GetCertificate is a tls.Config.GetCertificate.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.Certificate(), nil
}

// GetClientCertificate is a tls.Config.GetClientCertificate (certificates of outbound calls).
func (p *Pair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return p.Certificate(), nil
}

// LoadCAs reads a PEM file of CA certificates.
func LoadCAs(path string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// ServerConfig is the listener's TLS configuration: TLS 1.2 or later, the pair's current
// certificate, and with clientCAs the client certificates verified when given (which routes
// require one is decided per request: see RequireClientCert).
func ServerConfig(p *Pair, clientCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: p.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}
	if clientCAs != nil {
		c.ClientCAs, c.ClientAuth = clientCAs, tls.VerifyClientCertIfGiven
	}
	return c
}

// ErrNoClientCert is the refusal of a request without a verified client certificate.
var ErrNoClientCert = errors.New("a client certificate signed by the configured CA is required")

// RequireClientCert wraps h so that the requests need(r) selects are refused (403 problem,
// client_certificate_required) unless they came over TLS with a client certificate the
// listener verified.
func RequireClientCert(h http.Handler, need func(r *http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if need(r) && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"type":"urn:switchboard:error:client_certificate_required","title":"Forbidden","status":403,"detail":%q,"code":"client_certificate_required"}`+"\n",
				ErrNoClientCert.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}
