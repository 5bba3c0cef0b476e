// Package media is the pipeline for inbound media (MMS and WhatsApp attachments): each file is
// downloaded after the webhook has answered, on a bounded pool of workers; refused when it is
// over the size cap, when the type detected from its bytes is not allowed, or when the bytes are
// not what the provider's header said; handed to a scan hook (a configured command receives the
// file's path; a non-zero exit quarantines it); and stored on disk under its SHA-256, so that the
// same file is stored once. Applications hear of every file through media.stored or
// media.rejected and fetch stored files from Switchboard's own URL, never the provider's.
package media

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/netguard"
)

// Defaults.
const (
	DefaultMaxBytes    = 5 << 20
	DefaultConcurrency = 4
	// DefaultPollInterval is how often the workers look for due downloads without a wake-up.
	DefaultPollInterval = time.Second
	// DownloadTimeout bounds one download; ScanTimeout one run of the scan hook.
	DownloadTimeout = time.Minute
	ScanTimeout     = 2 * time.Minute
	// MaxRedirects is how many redirects a download follows.
	MaxRedirects = 5
	// Path is where stored files are served: Path + media ID.
	Path = "/media/"
)

// RetrySchedule is the wait before each new attempt of a download that failed for a reason
// that may pass (no answer, a 5xx, 429): after the last one the attachment is refused.
var RetrySchedule = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute}

// EventStore records the pipeline's events.
type EventStore interface {
	RecordAppEvent(ctx context.Context, ev *switchboard.AppEvent) error
}

// Queue is the durable download queue (the store).
type Queue = switchboard.MediaQueueStore

// Config configures a Pipeline.
type Config struct {
	// Dir holds stored files (Dir/<sha256>), quarantined ones (Dir/quarantine/<sha256>) and
	// downloads in progress (Dir/tmp).
	Dir          string
	MaxBytes     int64
	AllowedTypes []string
	// ScanCommand, when set, runs with the file's path appended; a non-zero exit quarantines it.
	ScanCommand []string
	// PublicURL is Switchboard's base URL; stored files are at PublicURL + Path + ID.
	PublicURL string
	Store     EventStore
	// AllowPrivate lets downloads reach private, loopback and link-local addresses
	// (media_allow_private: development and tests); otherwise the network guard refuses them
	// at every connection and every redirect hop.
	AllowPrivate bool
	// TLS, when set, is the TLS configuration of downloads (tests: trust a test server).
	TLS         *tls.Config
	Concurrency int
	// Queue holds the downloads (the store): Enqueue writes them, Run claims them with leases,
	// so that a crash or a dead node loses none. Needed by Enqueue and Run only.
	Queue Queue
	// Owner names this node in leases (default: a new ID).
	Owner string
	// ReclaimOwn, with a stable Owner that only one process at a time can have (a SQLite data
	// directory's), releases at start the leases a previous process under the same name held
	// when it died, so that its interrupted downloads start again at once instead of after
	// Lease.
	ReclaimOwn bool
	// PollInterval is how often Run looks for due downloads without a wake-up.
	PollInterval time.Duration
	// Credentials, when set, returns the basic-auth credentials for a media URL (Twilio's media
	// URLs may require the account's), ok false for none.
	Credentials func(rawURL string) (user, pass string, ok bool)
	// URLKey signs the URLs of stored files that media.stored events carry (HMAC-SHA256); they
	// are valid for URLTTL. Without a key, or with URLTTL 0, the events carry plain URLs that
	// need an API key.
	URLKey []byte
	URLTTL time.Duration
	// Authorize says whether a request for a stored file carries a valid API key; nil: none does.
	Authorize func(r *http.Request) (bool, error)
	// OnRejected, when set, is called for each refused attachment (e.g. to reply to the sender).
	OnRejected func(ctx context.Context, in *switchboard.InboundMessage, d *switchboard.MediaData)
	Clock      switchboard.Clock
	Logger     *slog.Logger
	// Blobs stores checked media (default DiskBlobs{Dir}); DatabaseBlobs shares them in a cluster.
	Blobs BlobStore
}

// Pipeline downloads, checks and stores inbound media. Start it with Run.
type Pipeline struct {
	cfg    Config
	client *http.Client
	wake   chan struct{}
	sem    chan struct{}
	wg     sync.WaitGroup
}

// New returns a pipeline after creating its directories.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Dir == "" {
		return nil, errors.New("media: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Owner == "" {
		cfg.Owner = switchboard.NewID("node")
	}
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Blobs == nil {
		cfg.Blobs = DiskBlobs{Dir: cfg.Dir}
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "quarantine"), filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
	}
	removeStaleDownloads(filepath.Join(cfg.Dir, "tmp"), cfg.Clock().Add(-StaleDownload), cfg.Logger)
	// Every download goes through the network guard; Twilio's media URLs answer with a redirect
	// to their storage, so a few redirects are followed, each hop checked.
	client := netguard.Client(netguard.ClientOptions{AllowPrivate: cfg.AllowPrivate, Timeout: DownloadTimeout, MaxRedirects: MaxRedirects, TLS: cfg.TLS})
	return &Pipeline{cfg: cfg, client: client, wake: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Concurrency)}, nil
}

// Lease is how long a claimed download is held: a download, a scan and some margin. A node
// that dies holding one loses it after this long, and another node takes the download over.
const Lease = DownloadTimeout + ScanTimeout + 30*time.Second

// Run claims and processes due downloads until ctx ends, then waits for the ones in progress
// and releases its leases.
func (p *Pipeline) Run(ctx context.Context) {
	if p.cfg.ReclaimOwn {
		if n, err := p.cfg.Queue.ReleaseMedia(ctx, p.cfg.Owner); err != nil {
			p.cfg.Logger.Error("releasing the media leases of a previous process", "err", err)
		} else if n > 0 {
			p.cfg.Logger.Warn("media downloads interrupted by a previous process start again", "downloads", n)
		}
	}
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		p.Step(ctx)
		select {
		case <-ctx.Done():
			p.wg.Wait()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := p.cfg.Queue.ReleaseMedia(rctx, p.cfg.Owner)
			cancel()
			if err != nil {
				p.cfg.Logger.Error("releasing media leases", "err", err)
			}
			return
		case <-p.wake:
		case <-t.C:
		}
	}
}

// Step claims the due downloads there is room for and starts them.
func (p *Pipeline) Step(ctx context.Context) {
	for ctx.Err() == nil {
		free := cap(p.sem) - len(p.sem)
		if free == 0 {
			return
		}
		now := p.cfg.Clock()
		ds, err := p.cfg.Queue.ClaimMedia(ctx, switchboard.MediaClaim{Owner: p.cfg.Owner, Now: now, LeaseUntil: now.Add(Lease), Limit: free})
		if err != nil {
			if ctx.Err() == nil {
				p.cfg.Logger.Error("claiming media downloads", "err", err)
			}
			return
		}
		for _, d := range ds {
			p.sem <- struct{}{}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer func() { <-p.sem }()
				// A download runs to its end even when the node is stopping.
				p.run(context.WithoutCancel(ctx), d)
			}()
		}
		if len(ds) < free {
			return
		}
	}
}

// run makes one attempt at a claimed download and records its outcome in the queue.
func (p *Pipeline) run(ctx context.Context, dl *switchboard.MediaDownload) {
	in := dl.Inbound()
	final := dl.Attempts > len(RetrySchedule)
	_, retry := p.process(ctx, in, dl.Index, final)
	r := switchboard.MediaResult{ProviderSID: dl.ProviderSID, Index: dl.Index, Owner: p.cfg.Owner, At: p.cfg.Clock(), Done: retry == nil}
	if retry != nil {
		r.Error = retry.Error()
		r.RetryAt = r.At.Add(RetrySchedule[dl.Attempts-1])
		p.cfg.Logger.Info("media download failed; will retry", "inbound_id", in.ID, "index", dl.Index,
			"attempt", dl.Attempts, "err", r.Error, "next_attempt_at", r.RetryAt)
	}
	if err := p.cfg.Queue.FinishMedia(ctx, r); err != nil {
		p.cfg.Logger.Error("recording a media download's outcome", "inbound_id", in.ID, "index", dl.Index, "err", err)
	}
}

// Enqueue queues the attachments of an inbound message durably and returns at once: the webhook
// answers before any download, and after the queue holds them (an error answers 500, so that the
// provider delivers the webhook again). Enqueueing a message again changes nothing.
func (p *Pipeline) Enqueue(ctx context.Context, in *switchboard.InboundMessage) error {
	if len(in.MediaURLs) == 0 {
		return nil
	}
	if _, err := p.cfg.Queue.EnqueueMedia(ctx, in, p.cfg.Clock()); err != nil {
		return fmt.Errorf("queueing media downloads: %w", err)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *Pipeline) data(in *switchboard.InboundMessage, i int) *switchboard.MediaData {
	d := &switchboard.MediaData{InboundID: in.ID, ProviderSID: in.ProviderSID, Channel: in.Channel, From: in.From, To: in.To, Index: i}
	if i < len(in.MediaContentTypes) {
		d.DeclaredType = normalizeType(in.MediaContentTypes[i])
	}
	return d
}

// Process downloads, checks, scans and stores attachment i of in, and records the outcome.
func (p *Pipeline) Process(ctx context.Context, in *switchboard.InboundMessage, i int) *switchboard.MediaData {
	d, _ := p.process(ctx, in, i, true)
	return d
}

// process is Process; unless final, a failure that may pass (see transient) is returned
// instead of refusing the attachment, and nothing is recorded.
func (p *Pipeline) process(ctx context.Context, in *switchboard.InboundMessage, i int, final bool) (*switchboard.MediaData, error) {
	d := p.data(in, i)
	log := p.cfg.Logger.With("inbound_id", in.ID, "index", i)
	tmp, n, sum, head, err := p.download(ctx, in.MediaURLs[i], d)
	if err != nil {
		var te transient
		if !final && errors.As(err, &te) {
			return d, err
		}
		p.reject(ctx, in, d, err.Error(), false)
		return d, nil
	}
	defer os.Remove(tmp)
	d.Size, d.MediaID = n, sum
	if reason := CheckType(d.DeclaredType, head, p.cfg.AllowedTypes); reason != "" {
		d.ContentType = Sniff(head)
		p.reject(ctx, in, d, reason, false)
		return d, nil
	}
	d.ContentType = Sniff(head)
	if len(p.cfg.ScanCommand) > 0 {
		if err := p.scan(ctx, tmp); err != nil {
			if rerr := p.quarantineFile(tmp, sum); rerr != nil {
				log.Error("quarantining media", "err", rerr)
			}
			p.reject(ctx, in, d, "the scan hook flagged it ("+err.Error()+"); quarantined", true)
			return d, nil
		}
	}
	if err := p.storeFile(ctx, tmp, sum); err != nil {
		p.reject(ctx, in, d, "could not store the file", false)
		log.Error("storing media", "err", err)
		return d, nil
	}
	d.URL = p.URL(sum)
	p.record(ctx, switchboard.AppMediaStored, d)
	log.Info("media stored", "media_id", sum, "content_type", d.ContentType, "size", n)
	return d, nil
}

// transient marks a download failure that may pass: no answer, a 5xx, 408 or 429.
type transient struct{ error }

func (t transient) Unwrap() error { return t.error }

// StaleDownload is the age past which a file in Dir/tmp is a download that will never finish (its
// node died mid-download; the queue gives the download to another attempt): no attempt lives
// longer than a lease.
const StaleDownload = 2 * Lease

// removeStaleDownloads deletes the downloads in dir last written before cutoff (left by a crash).
func removeStaleDownloads(dir string, cutoff time.Time, log *slog.Logger) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				log.Warn("removing a stale media download", "file", e.Name(), "err", err)
			}
		}
	}
}

// storeFile puts a checked download into the blob store (Config.Blobs) under its SHA-256.
func (p *Pipeline) storeFile(ctx context.Context, tmp, sum string) error {
	return p.cfg.Blobs.Put(ctx, sum, tmp)
}

// quarantineFile moves a flagged download to the quarantine, never served.
func (p *Pipeline) quarantineFile(tmp, sum string) error {
	return os.Rename(tmp, filepath.Join(p.cfg.Dir, "quarantine", sum))
}

// openFile opens a stored file by its ID (SHA-256) from the blob store.
func (p *Pipeline) openFile(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	return p.cfg.Blobs.Open(ctx, id)
}

// download streams the file into Dir/tmp, hashing it, and refuses it past MaxBytes.
func (p *Pipeline) download(ctx context.Context, rawURL string, d *switchboard.MediaData) (path string, n int64, sum string, head []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, DownloadTimeout)
	defer cancel()
	if _, err := netguard.CheckURL(ctx, rawURL, netguard.Policy{AllowPrivate: true}); err != nil {
		// The syntax only: the addresses are checked by the guard's dialer when it connects.
		return "", 0, "", nil, fmt.Errorf("the media URL is not valid")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", 0, "", nil, fmt.Errorf("the media URL is not valid")
	}
	if p.cfg.Credentials != nil {
		if u, pw, ok := p.cfg.Credentials(rawURL); ok {
			req.SetBasicAuth(u, pw)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		reason := netguard.Reason(err, DownloadTimeout)
		if strings.HasPrefix(reason, "refused: ") {
			reason += " (media_allow_private lets downloads reach such addresses, for development)"
		}
		err := fmt.Errorf("download failed: %s", reason)
		if strings.HasPrefix(reason, "refused: ") {
			return "", 0, "", nil, err
		}
		return "", 0, "", nil, transient{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("download failed: HTTP %d", resp.StatusCode)
		if c := resp.StatusCode; c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout {
			return "", 0, "", nil, transient{err}
		}
		return "", 0, "", nil, err
	}
	if d.DeclaredType == "" {
		d.DeclaredType = normalizeType(resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength > p.cfg.MaxBytes {
		d.Size = resp.ContentLength
		return "", 0, "", nil, fmt.Errorf("too large: %d bytes, the limit is %d", resp.ContentLength, p.cfg.MaxBytes)
	}
	f, err := os.CreateTemp(filepath.Join(p.cfg.Dir, "tmp"), "dl-*")
	if err != nil {
		return "", 0, "", nil, fmt.Errorf("could not store the file")
	}
	h := sha256.New()
	hw := &headWriter{max: 512}
	n, err = io.Copy(io.MultiWriter(f, h, hw), io.LimitReader(resp.Body, p.cfg.MaxBytes+1))
	cerr := f.Close()
	if err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		os.Remove(f.Name())
		return "", 0, "", nil, transient{fmt.Errorf("download failed: %s", netguard.Reason(err, DownloadTimeout))}
	case n > p.cfg.MaxBytes:
		os.Remove(f.Name())
		d.Size = n
		return "", 0, "", nil, fmt.Errorf("too large: over %d bytes", p.cfg.MaxBytes)
	}
	return f.Name(), n, hex.EncodeToString(h.Sum(nil)), hw.b, nil
}

type headWriter struct {
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (p *Pipeline) scan(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, ScanTimeout)
	defer cancel()
	args := append(slices.Clone(p.cfg.ScanCommand[1:]), path)
	cmd := exec.CommandContext(ctx, p.cfg.ScanCommand[0], args...)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("exit status %d", ee.ExitCode())
		}
		return fmt.Errorf("could not run: %w", err)
	}
	return nil
}

func (p *Pipeline) reject(ctx context.Context, in *switchboard.InboundMessage, d *switchboard.MediaData, reason string, quarantined bool) {
	d.Reason, d.Quarantined = reason, quarantined
	p.cfg.Logger.Warn("media rejected", "inbound_id", in.ID, "index", d.Index, "reason", reason, "quarantined", quarantined)
	p.record(ctx, switchboard.AppMediaRejected, d)
	if p.cfg.OnRejected != nil {
		p.cfg.OnRejected(ctx, in, d)
	}
}

func (p *Pipeline) record(ctx context.Context, typ switchboard.AppEventType, d *switchboard.MediaData) {
	ev, err := switchboard.NewAppEvent(typ, p.cfg.Clock(), d)
	if err == nil {
		err = p.cfg.Store.RecordAppEvent(ctx, ev)
	}
	if err != nil {
		p.cfg.Logger.Error("recording media event", "inbound_id", d.InboundID, "err", err)
	}
}

// aliases map declared types to the name DetectContentType uses for the same format.
var aliases = map[string]string{
	"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/mp3": "audio/mpeg",
	"application/ogg": "audio/ogg", "audio/opus": "audio/ogg",
}

// normalizeType lower-cases a MIME type and drops its parameters; "" when it is not one.
func normalizeType(t string) string {
	mt, _, err := mime.ParseMediaType(strings.TrimSpace(t))
	if err != nil {
		return ""
	}
	if a, ok := aliases[mt]; ok {
		return a
	}
	return mt
}

// Sniff returns the type of a file from its first bytes (net/http.DetectContentType, without
// parameters, aliases resolved).
func Sniff(head []byte) string { return normalizeType(http.DetectContentType(head)) }

// CheckType returns why a file whose first bytes are head must be refused, or "": its type (from
// the bytes) must be allowed, and must be the declared one when a type was declared.
func CheckType(declared string, head []byte, allowed []string) string {
	got := Sniff(head)
	if !slices.Contains(allowed, got) {
		return fmt.Sprintf("type %s (detected from the bytes) is not allowed", got)
	}
	if d := normalizeType(declared); d != "" && d != got {
		return fmt.Sprintf("mislabelled: declared %s, but the bytes are %s", d, got)
	}
	return ""
}

var mediaID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// URL returns the address of stored file id: signed and valid for URLTTL when a URL key is
// configured, else plain (it then needs an API key).
func (p *Pipeline) URL(id string) string {
	u := strings.TrimSuffix(p.cfg.PublicURL, "/") + Path + id
	if len(p.cfg.URLKey) == 0 || p.cfg.URLTTL <= 0 {
		return u
	}
	exp := strconv.FormatInt(p.cfg.Clock().Add(p.cfg.URLTTL).Unix(), 10)
	return u + "?expires=" + exp + "&sig=" + p.sign(id, exp)
}

func (p *Pipeline) sign(id, expires string) string {
	m := hmac.New(sha256.New, p.cfg.URLKey)
	m.Write([]byte("switchboard-media\n" + id + "\n" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signature checks the expires and sig query parameters of a request for file id: ok when the
// signature is right, expired when it is right but its time has passed.
func (p *Pipeline) signature(id string, q url.Values) (ok, expired bool) {
	exp, sig := q.Get("expires"), q.Get("sig")
	if len(p.cfg.URLKey) == 0 || exp == "" || sig == "" {
		return false, false
	}
	if !hmac.Equal([]byte(sig), []byte(p.sign(id, exp))) {
		return false, false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return false, false
	}
	return true, p.cfg.Clock().Unix() > t
}

// Handler serves stored files at GET Path + ID, to a request with a valid API key (Authorization:
// Bearer) or a valid, unexpired signed URL (as in media.stored events); others get 401 (or 403
// for an expired signature) as problem+json. The ID is the file's SHA-256, so a URL names
// exactly one content; quarantined files are never served.
func (p *Pipeline) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, Path)
		if !mediaID.MatchString(id) {
			problem(w, http.StatusNotFound, "media_not_found", "no such media")
			return
		}
		ok, expired := p.signature(id, r.URL.Query())
		if !ok || expired {
			if r.Header.Get("Authorization") == "" || p.cfg.Authorize == nil {
				if expired {
					problem(w, http.StatusForbidden, "media_url_expired", "this signed media URL has expired; fetch the file with an API key (Authorization: Bearer <key>)")
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				problem(w, http.StatusUnauthorized, "unauthorized", "stored media need an API key (Authorization: Bearer <key>) or a signed URL from a media.stored event")
				return
			}
			authorized, err := p.cfg.Authorize(r)
			if err != nil {
				p.cfg.Logger.Error("authorizing a media request", "err", err)
				problem(w, http.StatusInternalServerError, "internal", "internal error")
				return
			}
			if !authorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				problem(w, http.StatusUnauthorized, "unauthorized", "unknown or revoked API key")
				return
			}
		}
		f, err := p.openFile(r.Context(), id)
		if err != nil {
			problem(w, http.StatusNotFound, "media_not_found", "no such media")
			return
		}
		defer f.Close()
		head := make([]byte, 512)
		k, _ := io.ReadFull(f, head)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			problem(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		w.Header().Set("Content-Type", Sniff(head[:k]))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
		http.ServeContent(w, r, "", time.Time{}, f)
	})
}

// Prune deletes the stored and quarantined files last received before before (by their
// modification time: a file received again is stored again, which renews it) and returns how
// many it deleted. Retention calls it with the cutoff of message bodies; a file still wanted by a
// message received later has been renewed by that message.
func (p *Pipeline) Prune(before time.Time) (int, error) {
	n := 0
	// Media stored in the database (media_store: database) go by the same cutoff.
	if pr, ok := p.cfg.Blobs.(interface {
		Prune(ctx context.Context, before time.Time) (int, error)
	}); ok {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		m, err := pr.Prune(ctx, before)
		cancel()
		if err != nil {
			return n, fmt.Errorf("media: prune: %w", err)
		}
		n += m
	}
	for _, dir := range []string{p.cfg.Dir, filepath.Join(p.cfg.Dir, "quarantine")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return n, fmt.Errorf("media: prune: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(before) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return n, fmt.Errorf("media: prune: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// problem writes an RFC 9457 problem.
func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:switchboard:error:" + code, "title": http.StatusText(status), "status": status,
		"detail": detail, "code": code})
}
