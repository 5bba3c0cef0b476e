package node_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/tlsfiles/tlstest"
)

// TestTLSListener: with tls_cert_file the node serves HTTPS; with tls_client_ca_file the API
// needs a client certificate from that CA (403 client_certificate_required without one) while
// Twilio's webhooks and the health probes do not; replacing the certificate files changes the
// certificate served at the next connection, without a restart.
func TestTLSListener(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "switchboard test CA")
	dir := t.TempDir()
	certFile, keyFile, first := ca.WritePair(t, dir, "server")
	n := startNode(t, nodeOpts{env: map[string]string{
		"SWITCHBOARD_TLS_CERT_FILE":      certFile,
		"SWITCHBOARD_TLS_KEY_FILE":       keyFile,
		"SWITCHBOARD_TLS_CLIENT_CA_FILE": ca.WriteCA(t, dir),
	}})
	if !strings.HasPrefix(n.URL(), "https://") || !strings.HasPrefix(n.Config().PublicURL, "https://") {
		t.Fatalf("URL %s, public URL %s", n.URL(), n.Config().PublicURL)
	}
	clientCert, _, _ := ca.Issue(t, "app")
	httpsClient := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
	}
	call := func(c *http.Client, method, path string) (int, string, *tls.ConnectionState) {
		req, _ := http.NewRequest(method, n.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+n.secret)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String(), resp.TLS
	}
	if code, body, _ := call(httpsClient(), "GET", "/v1/messages"); code != http.StatusForbidden || !strings.Contains(body, "client_certificate_required") {
		t.Fatalf("API without a client certificate: %d %s", code, body)
	}
	code, _, st := call(httpsClient(clientCert), "GET", "/v1/messages")
	if code != http.StatusOK || !bytes.Equal(st.PeerCertificates[0].Raw, first.Certificate[0]) {
		t.Fatalf("API with a client certificate: %d", code)
	}
	if code, _, _ := call(httpsClient(), "GET", "/healthz"); code != http.StatusOK {
		t.Fatalf("health probe without a client certificate: %d", code)
	}
	if code, body, _ := call(httpsClient(), "POST", "/webhooks/twilio/inbound"); strings.Contains(body, "client_certificate_required") {
		t.Fatalf("Twilio's webhook asked for a client certificate: %d %s", code, body)
	}
	// The certificate is replaced on disk: the next connection gets the new one.
	_, certPEM, keyPEM := ca.Issue(t, "server-renewed")
	for _, f := range []struct {
		path string
		b    []byte
	}{{keyFile, keyPEM}, {certFile, certPEM}} {
		if err := os.WriteFile(f.path, f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(time.Hour)
		os.Chtimes(f.path, at, at)
	}
	_, _, st = call(httpsClient(clientCert), "GET", "/v1/messages")
	if cn := st.PeerCertificates[0].Subject.CommonName; cn != "server-renewed" {
		t.Fatalf("after the files changed the node serves %q", cn)
	}
}

// TestEndpointClientCertificate: with endpoints_tls_cert_file, deliveries present that client
// certificate to an endpoint that requires one, and arrive.
func TestEndpointClientCertificate(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "receiver CA")
	dir := t.TempDir()
	serverCert, _, _ := ca.Issue(t, "receiver")
	var mu sync.Mutex
	var seen []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Type string }
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		seen = append(seen, r.TLS.PeerCertificates[0].Subject.CommonName+" "+ev.Type)
		mu.Unlock()
	})}
	go hs.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert}))
	t.Cleanup(func() { hs.Close() })
	certFile, keyFile, _ := ca.WritePair(t, dir, "switchboard-node")
	n := startNode(t, nodeOpts{env: map[string]string{
		"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", // the receiver is on loopback
		"SWITCHBOARD_ENDPOINTS_TLS_CERT_FILE": certFile,
		"SWITCHBOARD_ENDPOINTS_TLS_KEY_FILE":  keyFile,
	}, events: func(c *events.Config) {
		c.PollInterval = 20 * time.Millisecond
		if c.TLS == nil {
			c.TLS = &tls.Config{}
		}
		c.TLS.RootCAs = ca.Pool() // trust the test receiver
	}})
	if _, err := n.client.CreateEndpoint(t.Context(), &client.EndpointRequest{URL: "https://" + ln.Addr().String() + "/hooks",
		EventTypes: []string{"message.received"}}); err != nil {
		t.Fatal(err)
	}
	n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": "+14155550179", "to": "+15005550006", "body": "hello"})
	waitFor(t, 10*time.Second, "a delivery over mTLS", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 1
	})
	if want := "switchboard-node " + string(switchboard.AppMessageReceived); seen[0] != want {
		t.Fatalf("receiver saw %q, want %q", seen[0], want)
	}
}
