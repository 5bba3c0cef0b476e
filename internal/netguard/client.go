package netguard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors of CheckURL besides ErrNotPublic (match them with errors.Is).
var (
	// ErrInvalidURL: not an absolute http(s) URL Switchboard may connect to.
	ErrInvalidURL = errors.New("invalid URL")
	// ErrUnresolvable: the host does not resolve.
	ErrUnresolvable = errors.New("the host does not resolve")
)

// MaxURLBytes is the longest URL accepted.
const MaxURLBytes = 2048

// Resolver resolves host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy says what a caller's URLs may reach.
type Policy struct {
	// AllowPrivate lets the URLs reach non-public addresses (loopback, private, link-local…):
	// development and tests, with a simulator or a test server on loopback.
	AllowPrivate bool
	// Resolver resolves host names (nil: net.DefaultResolver).
	Resolver Resolver
}

// CheckURL parses raw and checks that Switchboard may connect to it: an absolute http or https
// URL of at most MaxURLBytes with a host, a valid port, no credentials and no IP address in a
// non-canonical form (such as 2130706433 or 0x7f.1, which some resolvers read as 127.0.0.1);
// unless p.AllowPrivate, a host that is not localhost and whose every address passes Check. The
// check is repeated on every connection (Dialer), since DNS may answer differently later.
func CheckURL(ctx context.Context, raw string, p Policy) (*url.URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	if p.AllowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return u, Check(ip)
	}
	if err := checkName(host); err != nil {
		return u, err
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return u, fmt.Errorf("%w: %s", ErrUnresolvable, host)
	}
	for _, ip := range ips {
		if err := Check(ip); err != nil {
			return u, err
		}
	}
	return u, nil
}

// parseURL is CheckURL's syntax check.
func parseURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLBytes)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: it does not parse", ErrInvalidURL)
	case !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, fmt.Errorf("%w: not an absolute http or https URL", ErrInvalidURL)
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: no host", ErrInvalidURL)
	case u.User != nil:
		return nil, fmt.Errorf("%w: it carries credentials", ErrInvalidURL)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: port %q is not between 1 and 65535", ErrInvalidURL, port)
		}
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return u, nil
	}
	if strings.Contains(host, ":") || strings.Contains(host, "%") {
		return nil, fmt.Errorf("%w: host %q is not an IP address or a name", ErrInvalidURL, host)
	}
	// No top-level domain is numeric: a host whose last label is digits (or 0x-hex) is an IPv4
	// address in a form that netip refuses but C resolvers accept (2130706433, 0x7f.1, 0177.1).
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if last := strings.ToLower(labels[len(labels)-1]); last != "" && (isDigits(last) || strings.HasPrefix(last, "0x")) {
		return nil, fmt.Errorf("%w: host %q is an IP address in a non-canonical form", ErrInvalidURL, host)
	}
	return u, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// checkName refuses the names that mean this machine whatever DNS says (RFC 6761 localhost).
func checkName(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%w: %s is a loopback name", ErrNotPublic, host)
	}
	return nil
}

// Dialer returns a dialer that refuses, at connection time, every address Check refuses unless
// allowPrivate: whatever the host resolved to when its URL was checked, a later DNS answer
// pointing at an internal address (DNS rebinding) is refused too.
func Dialer(timeout time.Duration, allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = control
	}
	return d
}

func dialer(o ClientOptions) *net.Dialer {
	d := Dialer(o.Timeout, o.AllowPrivate)
	if o.exempt.IsValid() && d.Control != nil {
		d.Control = func(network, address string, c syscall.RawConn) error {
			if ap, err := netip.ParseAddrPort(address); err == nil && ap == o.exempt {
				return nil
			}
			return control(network, address, c)
		}
	}
	return d
}

// control is the dialer's check of the address each connection is about to reach.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused: %s is not an IP address and port", address)
	}
	if err := Check(ap.Addr()); err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	return nil
}

// ClientOptions configure Client.
type ClientOptions struct {
	// AllowPrivate lets the client reach non-public addresses.
	AllowPrivate bool
	// Timeout bounds one whole exchange, the body included (default 30 s); the connection, the
	// TLS handshake and the response headers each get at most Timeout too.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed, each checked like the first URL and
	// never from https to http; 0: none (a 3xx is the answer).
	MaxRedirects int
	// TLS is the TLS configuration (client certificates, test roots); nil: the defaults.
	TLS *tls.Config

	// exempt is one address the dialer lets through (this package's tests: a loopback server
	// standing for a public one).
	exempt netip.AddrPort
}

// MaxHeaderBytes bounds the response headers a guarded client reads.
const MaxHeaderBytes = 64 << 10

// Client returns an HTTP client whose every connection goes through Dialer: no proxy (a proxy
// would be dialed instead of the target, escaping the address check), checked redirects, and
// time and header-size limits. Callers bound the bodies they read.
func Client(o ClientOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer(o).DialContext,
		TLSClientConfig:        o.TLS,
		ForceAttemptHTTP2:      true,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: MaxHeaderBytes,
	}
	return &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: checkRedirect(o)}
}

// checkRedirect checks each hop's URL before it is followed (its addresses are checked again by
// the dialer when it connects).
func checkRedirect(o ClientOptions) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if o.MaxRedirects <= 0 {
			return http.ErrUseLastResponse
		}
		if len(via) > o.MaxRedirects {
			return fmt.Errorf("refused: more than %d redirects", o.MaxRedirects)
		}
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errors.New("refused: a redirect from https to http")
		}
		if _, err := parseURL(req.URL.String()); err != nil {
			return fmt.Errorf("refused: redirect: %w", err)
		}
		if o.AllowPrivate {
			return nil
		}
		host := req.URL.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			if ap, err := netip.ParseAddrPort(req.URL.Host); err == nil && ap == o.exempt {
				return nil
			}
			if err := Check(ip); err != nil {
				return fmt.Errorf("refused: redirect: %w", err)
			}
			return nil
		}
		if err := checkName(host); err != nil {
			return fmt.Errorf("refused: redirect: %w", err)
		}
		return nil
	}
}

// Reason returns a short reason for a failed request: the guard's refusal when there was one,
// "no answer within …" for a timeout, else the transport's error without the URL (which may
// carry a signed query).
func Reason(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ge *Error
	var ne net.Error
	switch {
	case strings.HasPrefix(err.Error(), "refused: "):
		return err.Error()
	case errors.As(err, &ge):
		return "refused: " + ge.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return fmt.Sprintf("%s: %v", oe.Op, oe.Err)
	}
	return err.Error()
}
