package twilio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// RewriteTransport sends every request to Base instead of the host the request names: the scheme
// and host are replaced by Base's, Base's path (if any) is prefixed to the request's path, and the
// query is kept. twilio-go has no base-URL option and hard-codes https://api.twilio.com (and
// verify.twilio.com, ...); this is how it is pointed at `switchboard sim` or a test server
// (SWITCHBOARD_TWILIO_BASE_URL).
type RewriteTransport struct {
	Base *url.URL
	// Next sends the rewritten request; nil means http.DefaultTransport.
	Next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *RewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	u := *req.URL
	u.Scheme = t.Base.Scheme
	u.Host = t.Base.Host
	u.User = nil
	if prefix := strings.TrimSuffix(t.Base.Path, "/"); prefix != "" {
		u.Path = prefix + u.Path
		if u.RawPath != "" {
			u.RawPath = strings.TrimSuffix(t.Base.EscapedPath(), "/") + u.RawPath
		}
	}
	r.URL = &u
	r.Host = t.Base.Host
	return next.RoundTrip(r)
}

// maxResponseBytes bounds a response body read into memory; a page of 1000 messages with
// 1600-character bodies is about 3 MB.
const maxResponseBytes = 16 << 20

// callTrace records, for one provider call, what the classifier needs to know about the requests
// that the twilio-go client made.
type callTrace struct {
	// gotConn is set once a connection to the server was obtained: from then on bytes of the
	// request may have reached the server. Before it, the request certainly was not delivered.
	gotConn atomic.Bool
	// status is the HTTP status of the last response, 0 if none arrived.
	status atomic.Int32
}

// callTransport binds one provider call's context to the requests twilio-go makes, which it
// builds with context.Background(). It puts the per-request timeout on each request and reads the
// whole response body before returning, so that the timeout covers the body too, the context is
// released at once and the connection is reused even where twilio-go leaves an error response's
// body unclosed.
type callTransport struct {
	ctx     context.Context
	timeout time.Duration
	next    http.RoundTripper
	trace   *callTrace
	// clock, when set, is read around each request, and date receives the answer's Date header
	// with those readings (the provider's clock offset).
	clock func() time.Time
	date  func(date string, sent, answered time.Time)
}

// RoundTrip implements http.RoundTripper.
func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.trace.gotConn.Store(true) },
	})
	var sent time.Time
	if t.clock != nil {
		sent = t.clock()
	}
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if t.date != nil && t.clock != nil {
		if d := resp.Header.Get("Date"); d != "" {
			t.date(d, sent, t.clock())
		}
	}
	t.trace.status.Store(int32(resp.StatusCode))
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading response body: %w", err)
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("response body over %d bytes", maxResponseBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}
