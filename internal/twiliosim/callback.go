package twiliosim

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	timeout   time.Duration
	sid       string
	status    string
}

// callbackPost is one HTTP post of a callback event.
type callbackPost struct {
	ev      *callbackEvent
	attempt int
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
	if f.CallbackDropRatio > 0 && rand.Float64() < f.CallbackDropRatio {
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
		rand.Shuffle(len(posts), func(i, j int) { posts[i], posts[j] = posts[j], posts[i] })
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

// newCallbackEvent encodes and signs a callback to rawURL. A "#rc=N&rt=MS&tt=MS" fragment
// overrides the retry count (at most 5) and the timeout, as on Twilio.
func (s *Simulator) newCallbackEvent(rawURL string, params url.Values) *callbackEvent {
	target, frag, _ := strings.Cut(rawURL, "#")
	ev := &callbackEvent{
		url:       target,
		body:      params.Encode(),
		signature: twiliosig.Sign(s.cfg.AuthToken, target, params),
		token:     randHex32(),
		gen:       s.gen.Load(),
		retries:   s.cfg.CallbackRetries,
	}
	if frag != "" {
		q, _ := url.ParseQuery(frag)
		if n, err := strconv.Atoi(q.Get("rc")); err == nil && n >= 0 {
			ev.retries = min(n, 5)
		}
		for _, k := range []string{"rt", "tt"} {
			if ms, err := strconv.Atoi(q.Get(k)); err == nil && ms > 0 {
				d := time.Duration(ms) * time.Millisecond
				if ev.timeout == 0 || d < ev.timeout {
					ev.timeout = d
				}
			}
		}
	}
	return ev
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

// retryDelay is 100 ms, 400 ms, 1.6 s, 6.4 s, then 10 s.
func retryDelay(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for range attempt {
		d *= 4
		if d >= 10*time.Second {
			return 10 * time.Second
		}
	}
	return d
}

func (s *Simulator) post(p *callbackPost) {
	ev := p.ev
	if ev.gen != s.gen.Load() {
		return // the simulator was reset since
	}
	ctx := s.ctx
	if ev.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ev.timeout)
		defer cancel()
	}
	status, err := s.postForm(ctx, ev.url, ev.body, ev.signature, ev.token)
	if err == nil && status >= 200 && status < 300 {
		s.stats.delivered.Add(1)
		return
	}
	if s.closed() {
		return
	}
	s.stats.failedAttempts.Add(1)
	if p.attempt < ev.retries {
		s.log.Debug("twiliosim: status callback failed, will retry", "sid", ev.sid, "status", ev.status,
			"attempt", p.attempt+1, "http_status", status, "err", err)
		s.sched.push(event{at: time.Now().Add(retryDelay(p.attempt)), kind: evCallback,
			post: &callbackPost{ev: ev, attempt: p.attempt + 1}})
		return
	}
	s.stats.abandoned.Add(1)
	s.log.Warn("twiliosim: status callback failed, giving up", "sid", ev.sid, "status", ev.status,
		"attempts", p.attempt+1, "http_status", status, "err", err)
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

func setWebhookHeaders(req *http.Request, signature, token string) {
	req.Header.Set(twiliosig.Header, signature)
	req.Header.Set("I-Twilio-Idempotency-Token", token)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-Home-Region", "us1")
}
