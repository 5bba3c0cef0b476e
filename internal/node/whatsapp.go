package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/media"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// newWhatsApp returns the node's WhatsApp service, or nil when the channel is disabled.
func (n *Node) newWhatsApp() *whatsapp.Service {
	w := n.cfg.WhatsApp
	if !w.Enabled {
		return nil
	}
	return whatsapp.New(whatsapp.Config{
		Store: n.store, Messages: n.accept, Clock: n.clock, Logger: n.logger.With("component", "whatsapp"),
		DefaultFallback: w.Fallback, DefaultFallbackAfter: w.FallbackAfter,
		WindowClosingLead: w.WindowClosingLead, Interval: w.ScanInterval,
		ErrorCodes: n.routes.provider(switchboard.ChannelWhatsApp),
	})
}

// preparer is the dispatcher's Prepare: WhatsApp's window rule, then, for a message that carries
// media_urls, the check of its media against Twilio's size limits (media.LimitChecker.Prepare).
// Media checks go through the network guard; they may reach private addresses only with
// media_allow_private.
func (n *Node) preparer(opts Options) func(ctx context.Context, m *switchboard.Message) (*switchboard.SendPlan, error) {
	lc := media.NewLimitChecker(media.LimitConfig{AllowPrivate: n.cfg.Media.AllowPrivate, TLS: opts.MediaCheckTLS,
		LocalOnly: n.cfg.Provider == config.ProviderSimulator})
	if n.wa == nil {
		return lc.Prepare(nil)
	}
	return lc.Prepare(n.wa.Prepare)
}

// WhatsApp is the node's WhatsApp service, or nil when the channel is disabled.
func (n *Node) WhatsApp() *whatsapp.Service { return n.wa }

var catalogPlaceholder = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// registerContent makes the in-process simulator know the catalog's content templates (their
// bodies with Twilio's {{1}} placeholders), the shared catalog's and the tenants' overrides', so
// that a development setup sends them as Twilio would. With live Twilio the templates are
// created and approved in Twilio's console.
func registerContent(sim *twiliosim.Simulator, cat *templates.Catalog) {
	if sim == nil || cat == nil {
		return
	}
	all := cat.Templates()
	for _, tenant := range cat.Tenants() {
		all = append(all, cat.Overrides(tenant)...)
	}
	for _, t := range all {
		if t.ContentSID == "" {
			continue
		}
		index := map[string]int{}
		for i, v := range t.ContentPlaceholders() {
			index[v.Name] = i + 1
		}
		body := catalogPlaceholder.ReplaceAllStringFunc(t.Body, func(p string) string {
			name := catalogPlaceholder.FindStringSubmatch(p)[1]
			if i, ok := index[name]; ok {
				return "{{" + strconv.Itoa(i) + "}}"
			}
			return p
		})
		_, _ = sim.RegisterContent(twiliosim.Content{SID: t.ContentSID, FriendlyName: t.Name, Language: t.Locale, Body: body})
	}
}

// MediaURLKeyFile is the file in the data directory that holds the key signing stored media's
// URLs when media_url_secret is not set.
const MediaURLKeyFile = "media-url-key"

// mediaURLKey returns the key that signs stored media's URLs: media_url_secret, or a random key
// kept (mode 0600) in the data directory, made on first use.
func (n *Node) mediaURLKey() ([]byte, error) {
	if s := n.cfg.Media.URLSecret; s != "" {
		return []byte(s), nil
	}
	path := filepath.Join(n.cfg.DataDir, MediaURLKeyFile)
	if raw, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(raw)) >= 32 {
		return bytes.TrimSpace(raw), nil
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(k[:]))
	if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("media URL key: %w", err)
	}
	if err := os.WriteFile(path, append(key, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("media URL key: %w", err)
	}
	if engine, _, _ := config.ParseDatabaseURL(n.cfg.DatabaseURL); engine == "postgres" {
		n.logger.Warn("media_url_secret is not set: signed media URLs are valid on this node only; set SWITCHBOARD_MEDIA_URL_SECRET to the same value on every node")
	}
	return key, nil
}

// authorizeMedia says whether a request for a stored file carries a valid API key.
func (n *Node) authorizeMedia(r *http.Request) (bool, error) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(secret) == "" {
		return false, nil
	}
	_, err := n.store.GetAPIKeyByHash(r.Context(), switchboard.HashAPIKeySecret(strings.TrimSpace(secret)))
	if switchboard.IsKind(err, switchboard.EUNAUTHORIZED) {
		return false, nil
	}
	return err == nil, err
}

// newMedia returns the node's inbound media pipeline.
func (n *Node) newMedia(authToken string) (*media.Pipeline, error) {
	mc := n.cfg.Media
	account := n.cfg.TwilioAccount
	// On SQLite one process at a time serves a database: its media leases carry a name of that
	// database, so a restarted process takes back what a killed one was downloading. A cluster
	// (PostgreSQL) keeps a new name per process; another node takes over when a lease expires.
	owner := ""
	if engine, dsn, err := config.ParseDatabaseURL(n.cfg.DatabaseURL); err == nil && engine == "sqlite" {
		if abs, err := filepath.Abs(dsn); err == nil {
			sum := sha256.Sum256([]byte(abs))
			owner = "media-sqlite-" + hex.EncodeToString(sum[:8])
		}
	}
	key, err := n.mediaURLKey()
	if err != nil {
		return nil, err
	}
	var blobs media.BlobStore // nil: files in mc.Dir
	if mc.Store == "database" {
		shared := n.engine.Blobs
		if shared == nil {
			return nil, fmt.Errorf("media_store=database: this database engine cannot store media")
		}
		blobs = media.DatabaseBlobs{Store: shared}
	}
	return media.New(media.Config{
		URLKey: key, URLTTL: mc.URLTTL, Authorize: n.authorizeMedia,
		Dir: mc.Dir, MaxBytes: mc.MaxBytes, AllowedTypes: mc.AllowedTypes, ScanCommand: mc.ScanCommand,
		PublicURL: n.cfg.PublicURL, Store: n.store, Queue: n.store, Concurrency: mc.Concurrency, Clock: n.clock,
		AllowPrivate: mc.AllowPrivate,
		Logger:       n.logger.With("component", "media"), Blobs: blobs,
		Owner: owner, ReclaimOwn: owner != "",
		// Twilio's media URLs may require the account's credentials; nothing else gets them.
		Credentials: func(raw string) (string, string, bool) {
			u, err := url.Parse(raw)
			if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Hostname(), ".twilio.com") || account == "" {
				return "", "", false
			}
			return account, authToken, true
		},
		OnRejected: func(ctx context.Context, in *switchboard.InboundMessage, d *switchboard.MediaData) {
			if mc.RejectReply == "" {
				return
			}
			sender, known := n.inbound.Sender(in.To)
			if !known {
				return
			}
			key := "media-reject:" + in.ProviderSID + ":" + strconv.Itoa(d.Index)
			if err := n.inbound.Reply(ctx, in, sender, mc.RejectReply, key, map[string]string{"media_rejected": d.Reason}); err != nil {
				n.logger.Error("media reject reply", "inbound_id", in.ID, "err", err)
			}
		},
	})
}

// enqueueMedia queues a new inbound message's attachments durably, on every delivery of its
// webhook (the queue adds nothing for a repeat): a node that crashed after storing the message
// but before queueing them had not answered, so the provider delivers the webhook again. The
// webhook answers without waiting for the downloads.
func (n *Node) enqueueMedia(ctx context.Context, in *switchboard.InboundMessage) error {
	if n.media == nil || len(in.MediaURLs) == 0 {
		return nil
	}
	return n.media.Enqueue(ctx, in)
}

// waitBackground waits for the WhatsApp scans and the media downloads in progress to stop.
func (n *Node) waitBackground(ctx context.Context) error {
	done := make(chan struct{})
	go func() { n.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("media downloads did not finish in time: %w", ctx.Err())
	}
}
