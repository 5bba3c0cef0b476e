package media

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/netguard"
)

// Twilio's limits for outbound media (a message over them is blocked with
// switchboard.ClassMediaTooLarge).
const (
	// MaxImageBytes is the largest image Twilio accepts (5 MB); MaxOtherBytes any other type (500 KB).
	MaxImageBytes = 5 << 20
	MaxOtherBytes = 500 << 10
	// DefaultCheckTimeout bounds the check of one URL.
	DefaultCheckTimeout = 3 * time.Second
)

// LimitConfig configures a LimitChecker.
type LimitConfig struct {
	// AllowPrivate lets the check reach private, loopback and link-local addresses
	// (media_allow_private); otherwise the network guard refuses them at every connection.
	AllowPrivate bool
	// Timeout bounds the check of one URL (default DefaultCheckTimeout).
	Timeout time.Duration
	// TLS, when set, is the TLS configuration of the checks (tests: trust a test server).
	TLS *tls.Config
	// LocalOnly checks only URLs whose host is localhost or a loopback or private IP address:
	// with the simulator as provider nothing may reach the internet, the media hosts included.
	LocalOnly bool
}

// LimitChecker checks outbound media URLs against Twilio's size limits before a message goes,
// so that a message Twilio would refuse for its media is blocked instead. The check asks each
// URL's headers only (HEAD, or a ranged GET when HEAD is refused); a URL that cannot be reached
// or does not say its size and type is not held against the message.
type LimitChecker struct {
	client    *http.Client
	timeout   time.Duration
	localOnly bool
}

// NewLimitChecker returns a LimitChecker.
func NewLimitChecker(cfg LimitConfig) *LimitChecker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCheckTimeout
	}
	// Each redirect hop is checked by the guard; at most 3 are followed.
	return &LimitChecker{timeout: cfg.Timeout, localOnly: cfg.LocalOnly, client: netguard.Client(netguard.ClientOptions{
		AllowPrivate: cfg.AllowPrivate, Timeout: cfg.Timeout, MaxRedirects: 3, TLS: cfg.TLS,
	})}
}

// LimitVerdict is the outcome of checking a message's media URLs.
type LimitVerdict struct {
	// Block, when not empty, says which URL is over which limit: the message must not go.
	Block string
	// Note says what was checked, for the message's timeline.
	Note string
}

type probe struct {
	size  int64 // -1: unknown
	ctype string
	err   error
}

// Check checks urls (a message's media_urls) concurrently.
func (c *LimitChecker) Check(ctx context.Context, urls []string) LimitVerdict {
	probes := make([]probe, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		if c.localOnly && !localHost(u) {
			probes[i] = probe{size: -1, err: errNotLocal}
			wg.Done()
			continue
		}
		go func() {
			defer wg.Done()
			probes[i] = c.probe(ctx, u)
		}()
	}
	wg.Wait()
	var unchecked []string
	checked := 0
	for i, p := range probes {
		switch {
		case p.err != nil:
			unchecked = append(unchecked, fmt.Sprintf("media_urls[%d] not reachable (%v)", i, p.err))
		case p.size < 0 || p.ctype == "":
			unchecked = append(unchecked, fmt.Sprintf("media_urls[%d] did not give its size and type", i))
		default:
			limit, kind := int64(MaxOtherBytes), "non-image media"
			if strings.HasPrefix(p.ctype, "image/") {
				limit, kind = MaxImageBytes, "images"
			}
			if p.size > limit {
				return LimitVerdict{Block: fmt.Sprintf(
					"media_urls[%d] (%s) is %s, over Twilio's limit of %s for %s; the message was not sent (Twilio would refuse it)",
					i, p.ctype, sizeOf(p.size), sizeOf(limit), kind)}
			}
			checked++
		}
	}
	note := fmt.Sprintf("media size checked: %d of %d within Twilio's limits", checked, len(urls))
	if len(unchecked) > 0 {
		note += "; not checked (the limit is checked only when reachable): " + strings.Join(unchecked, ", ")
	}
	return LimitVerdict{Note: note}
}

// probe asks for a URL's size and type without its body.
func (c *LimitChecker) probe(ctx context.Context, u string) probe {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodHead, u)
	if err == nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented ||
		resp.StatusCode == http.StatusForbidden) {
		resp.Body.Close()
		resp, err = c.do(ctx, http.MethodGet, u)
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return probe{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return probe{err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	}
	p := probe{size: -1}
	if ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil {
		p.ctype = strings.ToLower(ct)
	}
	if resp.StatusCode == http.StatusPartialContent {
		// Content-Range: bytes 0-0/1234
		cr := resp.Header.Get("Content-Range")
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil && n >= 0 {
				p.size = n
			}
		}
	} else if resp.ContentLength >= 0 {
		p.size = resp.ContentLength
	}
	return p
}

// do sends a HEAD, or a GET for the first byte only (its body is never read).
func (c *LimitChecker) do(ctx context.Context, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-0")
	}
	req.Header.Set("User-Agent", "Switchboard media check")
	return c.client.Do(req)
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errNotLocal explains an URL the simulator's node does not ask.
var errNotLocal = errors.New("the simulator provider never reaches the internet")

// localHost reports whether u's host is localhost or a loopback or private IP address.
func localHost(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := pu.Hostname()
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && (ip.IsLoopback() || ip.IsPrivate())
}
