package twiliosim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// callbackEvent is one logical status callback: the payload is encoded and signed once and
// shared by its duplicates and retries.
type callbackEvent struct {
	url       string // the URL posted to and signed: the configured URL without its #fragment
	body      string
	signature string
	token     string // I-Twilio-Idempotency-Token, the same for duplicates and retries
	gen       uint64
	retries   int
	policy    retryPolicy
	connect   time.Duration // ct: connection timeout
	timeout   time.Duration // rt: read timeout (the whole attempt)
	total     time.Duration // tt: all attempts together
	get       bool          // requested with GET: the parameters are in url, the body is empty
	sid       string
	status    string
}

// retryPolicy is the set of failure classes that are retried (the "rp" override).
type retryPolicy uint8

const (
	retryConnect retryPolicy = 1 << iota // ct: the connection could not be made in time
	retryRead                            // rt: no answer within the read timeout
	retry4xx
	retry5xx
)

// Twilio's webhook connection defaults, from its "Webhooks connection overrides" page as we
// read it: ct 5000 ms, rt 15000 ms, tt 15000 ms, rc 1, rp ct (only a failed connection is
// retried). Ranges: ct 100-10000, rt and tt 100-15000, rc 0-5.
const (
	defaultConnectTimeout = 5 * time.Second
	defaultReadTimeout    = 15 * time.Second
	defaultTotalTimeout   = 15 * time.Second
	defaultRetryPolicy    = retryConnect
)

func parseRetryPolicy(v string) (retryPolicy, bool) {
	var p retryPolicy
	for _, part := range strings.Split(v, ",") {
		switch strings.TrimSpace(strings.ToLower(part)) {
		case "ct":
			p |= retryConnect
		case "rt":
			p |= retryRead
		case "4xx":
			p |= retry4xx
		case "5xx":
			p |= retry5xx
		case "all":
			p |= retryConnect | retryRead | retry4xx | retry5xx
		default:
			return 0, false
		}
	}
	return p, p != 0
}

// callbackPost is one HTTP post of a callback event.
type callbackPost struct {
	ev      *callbackEvent
	attempt int
	first   time.Time // when the first attempt of this post started (for tt)
}

// statusCallbackLocked builds the callback for m's new status and applies the callback faults.
// Delayed posts go to the scheduler; the rest are returned for the caller to enqueue once it has
// released mu. Callers hold mu.
func (s *Simulator) statusCallbackLocked(m *message, now time.Time, f *Faults) []*callbackPost {
	if m.StatusCallback == "" {
		return nil
	}
	v := url.Values{}
	v.Set("MessageSid", m.SID)
	v.Set("SmsSid", m.SID)
	v.Set("MessageStatus", m.Status)
	v.Set("SmsStatus", m.Status)
	v.Set("AccountSid", m.AccountSID)
	v.Set("From", m.From)
	v.Set("To", m.To)
	v.Set("ApiVersion", apiVersion)
	if m.MessagingServiceSID != "" {
		v.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if m.ErrorCode != 0 && (m.Status == statusFailed || m.Status == statusUndelivered) {
		v.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
	}
	if m.Status == statusDelivered || m.Status == statusUndelivered {
		v.Set("RawDlrDoneDate", now.UTC().Format("0601021504"))
	}
	ev := s.newCallbackEvent(m.StatusCallback, v)
	ev.sid, ev.status = m.SID, m.Status
	if f.CallbackDropRatio > 0 && s.draw(statusKey(m.drawKey, m.Status), drawCallbackDrop) < f.CallbackDropRatio {
		s.log.Debug("twiliosim: dropping status callback (fault)", "sid", m.SID, "status", m.Status)
		s.stats.dropped.Add(1)
		ev = nil
	}

	var ready []*callbackEvent
	if f.CallbackShuffle || len(m.held) > 0 {
		if ev != nil {
			m.held = append(m.held, ev)
		}
		if finalStatus(m.Status) {
			ready, m.held = m.held, nil
		}
	} else if ev != nil {
		ready = []*callbackEvent{ev}
	}
	if len(ready) == 0 {
		return nil
	}
	posts := make([]*callbackPost, 0, len(ready)*(1+max(f.CallbackDuplicates, 0)))
	for _, ev := range ready {
		for range 1 + max(f.CallbackDuplicates, 0) {
			posts = append(posts, &callbackPost{ev: ev})
		}
	}
	if f.CallbackShuffle {
		s.shuffle(m.drawKey, len(posts), func(i, j int) { posts[i], posts[j] = posts[j], posts[i] })
	}
	if f.CallbackDelayMS > 0 {
		at := time.Now().Add(time.Duration(f.CallbackDelayMS) * time.Millisecond)
		for _, p := range posts {
			s.sched.push(event{at: at, kind: evCallback, post: p})
		}
		return nil
	}
	return posts
}

// newCallbackEvent encodes and signs a callback to rawURL. A fragment of Twilio's connection
// overrides ("#ct=MS&rt=MS&tt=MS&rc=N&rp=4xx,5xx,ct,rt,all") overrides the defaults; values
// out of Twilio's ranges are clamped into them and unknown keys ignored (our choice: Twilio
// reports them as debugger warnings, 11243 for rp).
func (s *Simulator) newCallbackEvent(rawURL string, params url.Values) *callbackEvent {
	target, frag, _ := strings.Cut(rawURL, "#")
	ev := &callbackEvent{
		url:       target,
		body:      params.Encode(),
		signature: twiliosig.Sign(s.tokenOf(params.Get("AccountSid")), target, params),
		token:     randHex32(),
		gen:       s.gen.Load(),
		retries:   s.cfg.CallbackRetries,
		policy:    defaultRetryPolicy,
		connect:   defaultConnectTimeout,
		timeout:   defaultReadTimeout,
		total:     defaultTotalTimeout,
	}
	if frag != "" {
		q, _ := url.ParseQuery(frag)
		if n, err := strconv.Atoi(q.Get("rc")); err == nil && n >= 0 {
			ev.retries = min(n, 5)
		}
		ms := func(k string, lo, hi int, dst *time.Duration) {
			if n, err := strconv.Atoi(q.Get(k)); err == nil {
				*dst = time.Duration(min(max(n, lo), hi)) * time.Millisecond
			}
		}
		ms("ct", 100, 10000, &ev.connect)
		ms("rt", 100, 15000, &ev.timeout)
		ms("tt", 100, 15000, &ev.total)
		if p, ok := parseRetryPolicy(q.Get("rp")); ok {
			ev.policy = p
		}
	}
	return ev
}

// asGET turns the event into a GET request (StatusCallbackMethod=GET): the parameters go to
// the query string and the signature covers that URL alone, as Twilio signs GET webhooks.
func (ev *callbackEvent) asGET(token string, params url.Values) {
	sep := "?"
	if strings.Contains(ev.url, "?") {
		sep = "&"
	}
	ev.url += sep + params.Encode()
	ev.body, ev.get = "", true
	ev.signature = twiliosig.Sign(token, ev.url, nil)
}

// enqueueCallback hands a post to the workers, waiting while the bounded queue is full.
func (s *Simulator) enqueueCallback(p *callbackPost) {
	select {
	case s.cbq <- p:
	case <-s.done:
	}
}

// enqueueCallbacksAsync schedules posts from a request goroutine without ever blocking it.
func (s *Simulator) enqueueCallbacksAsync(posts []*callbackPost) {
	now := time.Now()
	for _, p := range posts {
		s.sched.push(event{at: now, kind: evCallback, post: p})
	}
}

func (s *Simulator) runCallbackWorker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case p := <-s.cbq:
			s.post(p)
		}
	}
}

// retryDelay is the pause before retry number attempt+1: 50 ms times the attempt number.
// Twilio retries at once within the total time; the short pause is our choice.
func retryDelay(attempt int) time.Duration {
	return time.Duration(attempt+1) * 50 * time.Millisecond
}

func (s *Simulator) post(p *callbackPost) {
	ev := p.ev
	if ev.gen != s.gen.Load() {
		return // the simulator was reset since
	}
	start := time.Now()
	if p.attempt == 0 {
		p.first = start
	}
	timeout := ev.timeout
	if left := ev.total - start.Sub(p.first); left < timeout {
		timeout = left
	}
	if timeout <= 0 {
		s.stats.abandoned.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	status, connected, err := s.postFormTraced(ctx, ev, ev.connect)
	if err == nil && status >= 200 && status < 300 {
		s.stats.delivered.Add(1)
		return
	}
	if s.closed() {
		return
	}
	s.stats.failedAttempts.Add(1)
	var class retryPolicy
	switch {
	case err != nil && !connected:
		class = retryConnect
	case err != nil:
		class = retryRead
	case status >= 500:
		class = retry5xx
	default:
		class = retry4xx // 3xx included: Twilio follows no redirect
	}
	if p.attempt < ev.retries && ev.policy&class != 0 && time.Since(p.first) < ev.total {
		s.log.Debug("twiliosim: status callback failed, will retry", "sid", ev.sid, "status", ev.status,
			"attempt", p.attempt+1, "http_status", status, "err", err)
		s.sched.push(event{at: time.Now().Add(retryDelay(p.attempt)), kind: evCallback,
			post: &callbackPost{ev: ev, attempt: p.attempt + 1, first: p.first}})
		return
	}
	s.stats.abandoned.Add(1)
	s.log.Warn("twiliosim: status callback failed, giving up", "sid", ev.sid, "status", ev.status,
		"attempts", p.attempt+1, "http_status", status, "err", err)
}

// postFormTraced posts a signed form and returns the answer's status code (its body is
// discarded) and whether a connection was made; connecting is bounded by connect.
func (s *Simulator) postFormTraced(ctx context.Context, ev *callbackEvent, connect time.Duration) (int, bool, error) {
	var connected atomic.Bool
	dialCtx, cancelDial := context.WithTimeout(ctx, connect)
	defer cancelDial()
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		connected.Store(true)
		cancelDial()
	}}
	// The connect timeout: until a connection is obtained, the request also ends when
	// dialCtx does.
	reqCtx, cancelReq := context.WithCancel(httptrace.WithClientTrace(ctx, trace))
	defer cancelReq()
	go func() {
		<-dialCtx.Done()
		if !connected.Load() {
			cancelReq()
		}
	}()
	var status int
	var err error
	if ev.get {
		status, err = s.getSigned(reqCtx, ev.url, ev.signature, ev.token)
	} else {
		status, err = s.postForm(reqCtx, ev.url, ev.body, ev.signature, ev.token)
	}
	return status, connected.Load(), err
}

// postForm posts a signed form and returns the answer's status code, discarding its body.
func (s *Simulator) postForm(ctx context.Context, target, body, signature, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	setWebhookHeaders(req, signature, token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// getSigned requests target with GET and returns the answer's status code.
func (s *Simulator) getSigned(ctx context.Context, target, signature, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	setWebhookHeaders(req, signature, token)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func setWebhookHeaders(req *http.Request, signature, token string) {
	req.Header.Set(twiliosig.Header, signature)
	req.Header.Set("I-Twilio-Idempotency-Token", token)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-Home-Region", "us1")
}
