package twilio

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// sendErr sends one message through p and returns the ProviderError it must fail with.
func sendErr(t *testing.T, ctx context.Context, p *Provider) *switchboard.ProviderError {
	t.Helper()
	pm, err := p.Send(ctx, &switchboard.SendRequest{To: testTo, From: testFrom, Body: testBody})
	if err == nil {
		t.Fatalf("Send = %+v, want an error", pm)
	}
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v, want *switchboard.ProviderError", err, err)
	}
	if pe.HTTPStatus != 0 || pe.Err == nil || pe.Explanation == "" {
		t.Errorf("network error %+v: want no HTTP status, the underlying error and an explanation", pe)
	}
	return pe
}

func wantOutcome(t *testing.T, pe *switchboard.ProviderError, want switchboard.Outcome) {
	t.Helper()
	if pe.Outcome != want {
		t.Errorf("outcome %s (%v), want %s", pe.Outcome, pe, want)
	}
}

func TestNetworkConnectionRefusedRetries(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	p, _ := newTestProvider(t, "http://"+addr)

	pe := sendErr(t, context.Background(), p)
	wantOutcome(t, pe, switchboard.OutcomeRetry)
	if !errors.Is(pe, syscall.ECONNREFUSED) {
		t.Errorf("err %v does not wrap ECONNREFUSED", pe)
	}
}

func TestNetworkTimeoutIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
		// Twilio took the request and answers too late (the message may well exist).
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	p, _ := newTestProvider(t, f.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond })

	start := time.Now()
	pe := sendErr(t, context.Background(), p)
	wantOutcome(t, pe, switchboard.OutcomeAmbiguous)
	if !errors.Is(pe, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap context.DeadlineExceeded", pe)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v: the per-request timeout was not applied", d)
	}
}

func TestNetworkConnectionDroppedAfterRequestIsAmbiguous(t *testing.T) {
	t.Parallel()
	for name, reset := range map[string]bool{"closed (EOF)": false, "reset (RST)": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				if tcp, ok := conn.(*net.TCPConn); ok && reset {
					_ = tcp.SetLinger(0) // close with RST instead of FIN
				}
				conn.Close()
			})
			p, _ := newTestProvider(t, f.URL)
			pe := sendErr(t, context.Background(), p)
			wantOutcome(t, pe, switchboard.OutcomeAmbiguous)
			if pe.Message != "connection closed before the response" {
				t.Errorf("Message = %q (%v), want a dropped connection", pe.Message, pe.Err)
			}
			if n := len(f.Requests()); n != 1 {
				t.Errorf("%d requests reached the server, want exactly 1 (no transparent retry)", n)
			}
		})
	}
}

func TestNetworkDNSFailureRetries(t *testing.T) {
	t.Parallel()
	dnsFails := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// What net.Dialer returns for an unknown host, without needing a resolver offline.
			return nil, &net.OpError{Op: "dial", Net: network,
				Err: &net.DNSError{Err: "no such host", Name: "api.twilio.com", IsNotFound: true}}
		},
	}
	// No BaseURL: the request goes to api.twilio.com, through the failing dialer.
	p, _ := newTestProvider(t, "", func(c *Config) { c.HTTPClient = &http.Client{Transport: dnsFails} })
	pe := sendErr(t, context.Background(), p)
	wantOutcome(t, pe, switchboard.OutcomeRetry)
	var dnsErr *net.DNSError
	if !errors.As(pe, &dnsErr) || pe.Message != "DNS lookup failed" {
		t.Errorf("err %v (%q), want a DNS error", pe, pe.Message)
	}
}

func TestNetworkTLSHandshakeFailureRetries(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request reached the server through an untrusted TLS connection")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// The default transport does not trust the test server's certificate.
	p, _ := newTestProvider(t, srv.URL)
	pe := sendErr(t, context.Background(), p)
	wantOutcome(t, pe, switchboard.OutcomeRetry)
	if pe.Message != "TLS handshake failed" {
		t.Errorf("Message = %q, want a TLS failure (%v)", pe.Message, pe.Err)
	}
}

func TestNetworkCallerCancel(t *testing.T) {
	t.Parallel()
	t.Run("before sending retries", func(t *testing.T) {
		t.Parallel()
		f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("request reached the server with a canceled context")
		})
		p, _ := newTestProvider(t, f.URL)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		wantOutcome(t, sendErr(t, ctx, p), switchboard.OutcomeRetry)
	})
	t.Run("while waiting for the answer is ambiguous", func(t *testing.T) {
		t.Parallel()
		started := make(chan struct{})
		f := newFakeTwilio(t, func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done()
		})
		p, _ := newTestProvider(t, f.URL)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-started
			cancel()
		}()
		pe := sendErr(t, ctx, p)
		wantOutcome(t, pe, switchboard.OutcomeAmbiguous)
		if !errors.Is(pe, context.Canceled) {
			t.Errorf("err %v does not wrap context.Canceled", pe)
		}
	})
}

func TestNetworkErrorRules(t *testing.T) {
	t.Parallel()
	other := errors.New("something odd")
	for _, tc := range []struct {
		name    string
		err     error
		gotConn bool
		want    switchboard.Outcome
	}{
		{"unknown error before any connection", other, false, switchboard.OutcomeRetry},
		{"unknown error after connecting", other, true, switchboard.OutcomeAmbiguous},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, switchboard.OutcomeRetry},
		{"dial timeout", &net.OpError{Op: "dial", Err: context.DeadlineExceeded}, false, switchboard.OutcomeRetry},
		{"read timeout", &net.OpError{Op: "read", Err: context.DeadlineExceeded}, true, switchboard.OutcomeAmbiguous},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true, switchboard.OutcomeAmbiguous},
		{"broken pipe", &net.OpError{Op: "write", Err: syscall.EPIPE}, true, switchboard.OutcomeAmbiguous},
	} {
		if got := networkError(tc.err, tc.gotConn).Outcome; got != tc.want {
			t.Errorf("%s: outcome %s, want %s", tc.name, got, tc.want)
		}
	}
}
