package tlsfiles_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/tlsfiles"
	"github.com/switchboard-gw/switchboard/internal/tlsfiles/tlstest"
)

// TestReloadOnChange: the pair serves the new certificate at the next handshake once its files
// change; files that do not load (a certificate written before its key) keep the previous one.
func TestReloadOnChange(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile, first := ca.WritePair(t, dir, "one")
	p, err := tlsfiles.Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Certificate().Certificate[0], first.Certificate[0]) {
		t.Fatal("not the loaded certificate")
	}
	second, certPEM, keyPEM := ca.Issue(t, "two")
	// Half-way: the new certificate with the old key does not load; the old pair stays.
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, certFile, 1)
	if !bytes.Equal(p.Certificate().Certificate[0], first.Certificate[0]) {
		t.Fatal("a pair that does not load replaced the working one")
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, keyFile, 2)
	got := p.Certificate()
	if !bytes.Equal(got.Certificate[0], second.Certificate[0]) {
		t.Fatal("the new certificate was not loaded")
	}
	if _, err := tlsfiles.Load(filepath.Join(dir, "missing.pem"), keyFile, nil); err == nil {
		t.Fatal("loaded a missing file")
	}
	if _, err := tlsfiles.LoadCAs(keyFile); err == nil {
		t.Fatal("a key file parsed as CAs")
	}
}

// TestClientCertGate: with client CAs, a TLS request without a verified client certificate is
// refused on the routes that need one (403 problem) and served on the others; a certificate
// from another CA does not pass the handshake.
func TestClientCertGate(t *testing.T) {
	t.Parallel()
	ca, other := tlstest.NewCA(t, "clients"), tlstest.NewCA(t, "someone else")
	dir := t.TempDir()
	certFile, keyFile, _ := ca.WritePair(t, dir, "server")
	p, err := tlsfiles.Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := tlsfiles.RequireClientCert(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
		func(r *http.Request) bool { return r.URL.Path != "/open" })
	// Not httptest's StartTLS: it would add its own certificate, which wins over GetCertificate.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(tls.NewListener(ln, tlsfiles.ServerConfig(p, ca.Pool())))
	t.Cleanup(func() { hs.Close() })
	srv := struct{ URL string }{"https://" + ln.Addr().String()}
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
	}
	get := func(c *http.Client, path string) (int, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(client(), "/v1/messages"); err != nil || code != http.StatusForbidden {
		t.Fatalf("no certificate: %d %v", code, err)
	}
	if code, err := get(client(), "/open"); err != nil || code != http.StatusOK {
		t.Fatalf("no certificate, open route: %d %v", code, err)
	}
	good, _, _ := ca.Issue(t, "app")
	if code, err := get(client(good), "/v1/messages"); err != nil || code != http.StatusOK {
		t.Fatalf("good certificate: %d %v", code, err)
	}
	bad, _, _ := other.Issue(t, "intruder")
	// Offered only where it matches the CAs the server names: refused by the route.
	if code, err := get(client(bad), "/v1/messages"); err != nil || code != http.StatusForbidden {
		t.Fatalf("a certificate of another CA: %d %v", code, err)
	}
	// Presented anyway: refused by the handshake.
	forced := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &bad, nil }}}}
	if code, err := get(forced, "/open"); err == nil {
		t.Fatalf("a presented certificate of another CA got %d", code)
	}
}

// touch sets a file's modification time apart from the others (file systems with a coarse clock
// would otherwise give a rewrite the same time).
func touch(t *testing.T, path string, n int) {
	t.Helper()
	at := time.Now().Add(time.Duration(n) * time.Hour)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}
