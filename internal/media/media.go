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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Defaults.
const (
	DefaultMaxBytes    = 5 << 20
	DefaultConcurrency = 4
	DefaultQueue       = 1024
	// DownloadTimeout bounds one download; ScanTimeout one run of the scan hook.
	DownloadTimeout = time.Minute
	ScanTimeout     = 2 * time.Minute
	// Path is where stored files are served: Path + media ID.
	Path = "/media/"
)

// EventStore records the pipeline's events.
type EventStore interface {
	RecordAppEvent(ctx context.Context, ev *switchboard.AppEvent) error
}

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
	PublicURL   string
	Store       EventStore
	Client      *http.Client
	Concurrency int
	Queue       int
	// Credentials, when set, returns the basic-auth credentials for a media URL (Twilio's media
	// URLs may require the account's), ok false for none.
	Credentials func(rawURL string) (user, pass string, ok bool)
	// OnRejected, when set, is called for each refused attachment (e.g. to reply to the sender).
	OnRejected func(ctx context.Context, in *switchboard.InboundMessage, d *switchboard.MediaData)
	Clock      switchboard.Clock
	Logger     *slog.Logger
}

// Pipeline downloads, checks and stores inbound media. Start it with Run.
type Pipeline struct {
	cfg   Config
	queue chan job
	wg    sync.WaitGroup
}

type job struct {
	in    *switchboard.InboundMessage
	index int
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
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DownloadTimeout}
	}
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "quarantine"), filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
	}
	return &Pipeline{cfg: cfg, queue: make(chan job, cfg.Queue)}, nil
}

// Run processes queued attachments until ctx ends, then waits for the ones in progress.
func (p *Pipeline) Run(ctx context.Context) {
	for range p.cfg.Concurrency {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-p.queue:
					p.Process(context.WithoutCancel(ctx), j.in, j.index)
				}
			}
		}()
	}
	<-ctx.Done()
	p.wg.Wait()
}

// Enqueue queues the attachments of an inbound message and returns at once: the webhook answers
// before any download. When the queue is full the attachment is refused (media.rejected), never
// waited for.
func (p *Pipeline) Enqueue(ctx context.Context, in *switchboard.InboundMessage) {
	for i := range in.MediaURLs {
		select {
		case p.queue <- job{in: in, index: i}:
		default:
			p.reject(ctx, in, p.data(in, i), "the media queue is full; the attachment was not downloaded", false)
		}
	}
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
	d := p.data(in, i)
	log := p.cfg.Logger.With("inbound_id", in.ID, "index", i)
	tmp, n, sum, head, err := p.download(ctx, in.MediaURLs[i], d)
	if err != nil {
		p.reject(ctx, in, d, err.Error(), false)
		return d
	}
	defer os.Remove(tmp)
	d.Size, d.MediaID = n, sum
	if reason := CheckType(d.DeclaredType, head, p.cfg.AllowedTypes); reason != "" {
		d.ContentType = Sniff(head)
		p.reject(ctx, in, d, reason, false)
		return d
	}
	d.ContentType = Sniff(head)
	if len(p.cfg.ScanCommand) > 0 {
		if err := p.scan(ctx, tmp); err != nil {
			q := filepath.Join(p.cfg.Dir, "quarantine", sum)
			if rerr := os.Rename(tmp, q); rerr != nil {
				log.Error("quarantining media", "err", rerr)
			}
			p.reject(ctx, in, d, "the scan hook flagged it ("+err.Error()+"); quarantined", true)
			return d
		}
	}
	if err := os.Rename(tmp, filepath.Join(p.cfg.Dir, sum)); err != nil {
		p.reject(ctx, in, d, "could not store the file", false)
		log.Error("storing media", "err", err)
		return d
	}
	d.URL = strings.TrimSuffix(p.cfg.PublicURL, "/") + Path + sum
	p.record(ctx, switchboard.AppMediaStored, d)
	log.Info("media stored", "media_id", sum, "content_type", d.ContentType, "size", n)
	return d
}

// download streams the file into Dir/tmp, hashing it, and refuses it past MaxBytes.
func (p *Pipeline) download(ctx context.Context, rawURL string, d *switchboard.MediaData) (path string, n int64, sum string, head []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, DownloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", 0, "", nil, fmt.Errorf("the media URL is not valid")
	}
	if p.cfg.Credentials != nil {
		if u, pw, ok := p.cfg.Credentials(rawURL); ok {
			req.SetBasicAuth(u, pw)
		}
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return "", 0, "", nil, fmt.Errorf("download failed: %v", errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", 0, "", nil, fmt.Errorf("download failed: HTTP %d", resp.StatusCode)
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
		return "", 0, "", nil, fmt.Errorf("download failed: %v", err)
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
		return fmt.Errorf("could not run: %v", err)
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

// Handler serves stored files at GET Path + ID. The ID is the file's SHA-256, so a URL names
// exactly one content and cannot be guessed without the file; quarantined files are never served.
func (p *Pipeline) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, Path)
		if !mediaID.MatchString(id) {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(p.cfg.Dir, id))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		head := make([]byte, 512)
		k, _ := io.ReadFull(f, head)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", Sniff(head[:k]))
		w.Header().Set("X-Content-Type-Options", "nosniff")
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
