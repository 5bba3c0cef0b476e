package proc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Balancer spreads requests round-robin over serve processes, like the load balancer in front
// of a production cluster; the nodes' public URL is its URL, so the simulator's callbacks pass
// through it too. A node that refuses the connection (dead) is skipped: the request never
// reached it, so trying the next is safe. Any other failure is answered 502 and the client
// retries with its idempotency key. Redirects are passed back, not followed.
type Balancer struct {
	backends []string
	next     atomic.Uint64
	client   *http.Client
	srv      *http.Server
	url      string
}

// NewBalancer listens on a loopback port and serves until Close.
func NewBalancer(addrs []string) (*Balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lb := &Balancer{url: "http://" + ln.Addr().String(), client: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
	}}
	for _, a := range addrs {
		lb.backends = append(lb.backends, "http://"+a)
	}
	lb.srv = &http.Server{Handler: http.HandlerFunc(lb.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = lb.srv.Serve(ln) }()
	return lb, nil
}

// URL is the balancer's base URL (http://127.0.0.1:port).
func (lb *Balancer) URL() string { return lb.url }

func (lb *Balancer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	// Each request takes the next backend in the shared round-robin order, but tries each
	// backend at most once: under concurrency the shared counter may hand it a node it
	// already found dead, and it must then move on to one it has not tried.
	tried := make([]bool, len(lb.backends))
	for range lb.backends {
		i := int(lb.next.Add(1) % uint64(len(lb.backends)))
		for tried[i] {
			i = (i + 1) % len(lb.backends)
		}
		tried[i] = true
		b := lb.backends[i]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, b+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := lb.client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue
		}
		if err != nil {
			http.Error(w, "backend failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no live backend", http.StatusBadGateway)
}

// Close stops serving and closes the idle connections to the nodes.
func (lb *Balancer) Close() {
	_ = lb.srv.Close()
	lb.client.CloseIdleConnections()
}
