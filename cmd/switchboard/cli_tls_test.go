package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/tlsfiles/tlstest"
)

// TestCLIReachesTLSNode: with serve terminating TLS itself, the client commands and `health`
// derive https:// from the same settings and trust serve's own certificate — a CA-issued one
// naming 127.0.0.1, and a self-signed one naming only a DNS name — without turning verification
// off; an explicit https URL needs SWITCHBOARD_CA_FILE for a private CA.
func TestCLIReachesTLSNode(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "cli test CA")
	dir := t.TempDir()
	caCert, caKey, _ := ca.WritePair(t, dir, "server")
	selfCert, selfKey := selfSigned(t, dir, "switchboard.internal.example")
	for _, c := range []struct{ name, cert, key string }{{"ca-issued", caCert, caKey}, {"self-signed", selfCert, selfKey}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": t.TempDir(),
				"SWITCHBOARD_TLS_CERT_FILE": c.cert, "SWITCHBOARD_TLS_KEY_FILE": c.key}
			cfg, err := config.Load(nil, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			n, err := node.Open(context.Background(), cfg, nil, node.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = n.Shutdown(ctx)
			})
			u, err := url.Parse(n.URL())
			if err != nil || u.Scheme != "https" {
				t.Fatalf("node URL %q", n.URL())
			}
			_, secret, err := node.CreateAPIKey(context.Background(), n.Store(), "cli", time.Now().UTC())
			if err != nil {
				t.Fatal(err)
			}
			derived := map[string]string{"SWITCHBOARD_ADDR": u.Host, "SWITCHBOARD_API_KEY": secret,
				"SWITCHBOARD_TLS_CERT_FILE": c.cert, "SWITCHBOARD_TLS_KEY_FILE": c.key}
			if out, err := cli(t, derived, "messages", "list"); err != nil || !strings.Contains(out, "STATUS") {
				t.Fatalf("messages list on the derived https URL: %v\n%s", err, out)
			}
			if out, err := cli(t, derived, "health"); err != nil || strings.TrimSpace(out) != "ready" {
				t.Fatalf("health: %v\n%s", err, out)
			}
			if c.name != "ca-issued" {
				return
			}
			explicit := map[string]string{"SWITCHBOARD_URL": n.URL(), "SWITCHBOARD_API_KEY": secret}
			if _, err := cli(t, explicit, "messages", "list"); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("an explicit URL with a private CA and no SWITCHBOARD_CA_FILE: %v", err)
			}
			explicit["SWITCHBOARD_CA_FILE"] = ca.WriteCA(t, t.TempDir())
			if _, err := cli(t, explicit, "messages", "list"); err != nil {
				t.Fatalf("with SWITCHBOARD_CA_FILE: %v", err)
			}
			explicit["SWITCHBOARD_CA_FILE"] = c.key // no certificate in it
			if _, err := cli(t, explicit, "messages", "list"); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
				t.Fatalf("a CA file without certificates: %v", err)
			}
		})
	}
}

// selfSigned writes a self-signed certificate naming only dnsName (no IP address) and its key.
func selfSigned(t *testing.T, dir, dnsName string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{dnsName}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "self.pem"), filepath.Join(dir, "self-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
