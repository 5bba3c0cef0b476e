package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Defaults of a Client; see the options to change them.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultRetries    = 3
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// maxResponseBytes bounds how much of a response body is read, so that a misbehaving server or
// proxy cannot make the client buffer without limit.
const maxResponseBytes = 64 << 20

// Client talks to one Switchboard gateway. It is safe for concurrent use by multiple goroutines.
type Client struct {
	baseURL    string
	apiKey     string
	httpClient *http.Client
	userAgent  string
	timeout    time.Duration
	retries    int
	minBackoff time.Duration
	maxBackoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc instead of http.DefaultClient, for
// example to set a transport with custom TLS settings or a proxy.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithUserAgent replaces the User-Agent header, which is "switchboard-go/<version>" by default.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithTimeout bounds each attempt of a call (DefaultTimeout by default; zero or less means no
// bound). A call that is retried may take longer in total; bound the whole call with the
// context's deadline.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithRetries sets how many times a call is retried after a network error or a 408, 429 or 5xx
// answer (DefaultRetries by default). Zero disables retries.
func WithRetries(n int) Option {
	return func(c *Client) { c.retries = max(n, 0) }
}

// WithBackoff sets the range of the jittered exponential backoff between retries (DefaultMinBackoff
// and DefaultMaxBackoff by default). A Retry-After longer than maxBackoff ends the retries: the
// *Error is returned with its RetryAfter set, so that the caller decides whether to wait that long.
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(c *Client) {
		c.minBackoff = max(minBackoff, 0)
		c.maxBackoff = max(maxBackoff, c.minBackoff)
	}
}

// New returns a Client for the gateway at baseURL (such as "http://127.0.0.1:8080"; a path prefix
// is kept) that authenticates with the API key secret apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		apiKey:     apiKey,
		httpClient: http.DefaultClient,
		userAgent:  "switchboard-go/" + switchboard.Version,
		timeout:    DefaultTimeout,
		retries:    DefaultRetries,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// request is one API call, which do may send several times.
type request struct {
	method string
	path   string // already escaped, starting with /v1
	query  url.Values
	body   any // marshaled to JSON when not nil
	// raw, when not nil, is sent as is with contentType instead of body.
	raw         []byte
	contentType string
	header      http.Header
}

// do sends req, retrying as the package documentation describes, and decodes a 2xx answer's JSON
// into out. It reports how many attempts it made, so that callers can tell whether an answer may
// be about an earlier attempt of theirs.
func (c *Client) do(ctx context.Context, req *request, out any) (attempts int, err error) {
	var body []byte
	if req.body != nil {
		if body, err = json.Marshal(req.body); err != nil {
			return 0, fmt.Errorf("switchboard: encoding request: %w", err)
		}
	}
	if req.raw != nil {
		body = req.raw
	}
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		retryAfter, err := c.attempt(ctx, req, u, body, out)
		if err == nil || attempt >= c.retries || !retryable(err) {
			return attempt + 1, err
		}
		if ctx.Err() != nil {
			return attempt + 1, stopped(ctx, req, err)
		}
		wait := c.backoff(attempt)
		if retryAfter > 0 {
			if retryAfter > c.maxBackoff {
				return attempt + 1, err
			}
			wait = max(wait, retryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return attempt + 1, err // the context would end before the retry; report why we stopped
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt + 1, stopped(ctx, req, err)
		case <-t.C:
		}
	}
}

// stopped returns the error of a call whose context ended while it would have retried: both the
// context's error and the last attempt's, so that errors.Is and errors.As see each.
func stopped(ctx context.Context, req *request, last error) error {
	if errors.Is(last, ctx.Err()) {
		return last
	}
	return fmt.Errorf("switchboard: %s %s: %w; last attempt: %w", req.method, req.path, ctx.Err(), last)
}

// attempt sends one HTTP request. On an error answer it returns the *Error and its Retry-After.
func (c *Client) attempt(ctx context.Context, req *request, u string, body []byte, out any) (time.Duration, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("switchboard: %s %s: %w", req.method, req.path, err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("Authorization", "Bearer "+c.apiKey)
	hr.Header.Set("Accept", "application/json, application/problem+json")
	if c.userAgent != "" {
		hr.Header.Set("User-Agent", c.userAgent)
	}
	if body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	resp, err := c.httpClient.Do(hr)
	if err != nil {
		// *url.Error already names the method and URL.
		return 0, fmt.Errorf("switchboard: %w", err)
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := parseError(resp, time.Now())
		return e.RetryAfter, e
	}
	if out == nil {
		return 0, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return 0, fmt.Errorf("switchboard: %s %s: decoding %d answer: %w", req.method, req.path, resp.StatusCode, err)
	}
	return 0, nil
}

// retryable reports whether a failed attempt is worth repeating: a 408, 429 or 5xx answer (but
// not 501, which will not change), or a network error. Certificate errors are not retried: they
// will not go away by themselves.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests:
			return true
		case e.Status == http.StatusNotImplemented:
			return false
		}
		return e.Status >= 500
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false
	}
	var urlErr *url.Error
	return errors.As(err, &urlErr) // a transport failure, not a local encoding or decoding error
}

// backoff returns the wait before retry number attempt+1: exponential from minBackoff, capped at
// maxBackoff, with "equal jitter" so that many clients failing together do not retry together.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.minBackoff
	for i := 0; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
