package node

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
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
		Store: n.store, Clock: n.clock, Logger: n.logger.With("component", "whatsapp"),
		DefaultFallback: w.Fallback, DefaultFallbackAfter: w.FallbackAfter,
		WindowClosingLead: w.WindowClosingLead, Interval: w.ScanInterval,
		OnLegCreated: func() {
			if n.disp != nil {
				n.disp.Notify()
			}
		},
	})
}

// prepareSend is the dispatcher's Prepare: WhatsApp's window rule right before a send.
func (n *Node) prepareSend(ctx context.Context, m *switchboard.Message) (*dispatch.Prepared, error) {
	if n.wa == nil || m.Channel != switchboard.ChannelWhatsApp {
		return nil, nil
	}
	return n.wa.Prepare(ctx, m)
}

// preparer is the dispatcher's Prepare: WhatsApp's window rule (prepareSend), then, for a
// message that carries media_urls, the check of its media against Twilio's size limits. Media
// checks may reach private addresses only when event endpoints may (endpoints_allow_private).
func (n *Node) preparer(opts Options) func(ctx context.Context, m *switchboard.Message) (*dispatch.Prepared, error) {
	lc := media.NewLimitChecker(media.LimitConfig{AllowPrivate: n.cfg.EndpointsAllowPrivate, TLS: opts.MediaCheckTLS,
		LocalOnly: n.cfg.Provider == config.ProviderSimulator})
	return func(ctx context.Context, m *switchboard.Message) (*dispatch.Prepared, error) {
		p, err := n.prepareSend(ctx, m)
		if err != nil || (p != nil && (p.Block != nil || p.ContentSID != "")) || len(m.MediaURLs) == 0 {
			// Blocked already, or a content template goes instead (it carries no MediaUrl).
			return p, err
		}
		v := lc.Check(ctx, m.MediaURLs)
		if v.Block != "" {
			return &dispatch.Prepared{Block: &dispatch.Block{Code: media.CodeMediaTooLarge, Reason: v.Block}}, nil
		}
		if p == nil {
			p = &dispatch.Prepared{}
		}
		if p.Note != "" {
			p.Note += "; "
		}
		p.Note += v.Note
		return p, nil
	}
}

// WhatsApp is the node's WhatsApp service, or nil when the channel is disabled.
func (n *Node) WhatsApp() *whatsapp.Service { return n.wa }

var catalogPlaceholder = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// registerContent makes the in-process simulator know the catalog's content templates (their
// bodies with Twilio's {{1}} placeholders), so that a development setup sends them as Twilio
// would. With live Twilio the templates are created and approved in Twilio's console.
func registerContent(sim *twiliosim.Simulator, cat *templates.Catalog) {
	if sim == nil || cat == nil {
		return
	}
	for _, t := range cat.Templates() {
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

// newMedia returns the node's inbound media pipeline.
func (n *Node) newMedia(authToken string) (*media.Pipeline, error) {
	mc := n.cfg.Media
	account := n.cfg.TwilioAccount
	var blobs media.BlobStore // nil: files in mc.Dir
	if mc.Store == "database" {
		shared, ok := n.store.(switchboard.MediaBlobs)
		if !ok {
			return nil, fmt.Errorf("media_store=database: this database engine cannot store media")
		}
		blobs = media.DatabaseBlobs{Store: shared}
	}
	return media.New(media.Config{
		Dir: mc.Dir, MaxBytes: mc.MaxBytes, AllowedTypes: mc.AllowedTypes, ScanCommand: mc.ScanCommand,
		PublicURL: n.cfg.PublicURL, Store: n.store, Concurrency: mc.Concurrency, Clock: n.clock,
		Logger: n.logger.With("component", "media"), Blobs: blobs,
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
			sender, known := n.senderOf(in.To)
			if !known {
				return
			}
			key := "media-reject:" + in.ProviderSID + ":" + strconv.Itoa(d.Index)
			if err := n.reply(ctx, in, sender, mc.RejectReply, key, map[string]string{"media_rejected": d.Reason}); err != nil {
				n.logger.Error("media reject reply", "inbound_id", in.ID, "err", err)
			}
		},
	})
}

// enqueueMedia hands a new inbound message's attachments to the pipeline; the webhook answers
// without waiting for them.
func (n *Node) enqueueMedia(ctx context.Context, in *switchboard.InboundMessage, created bool) {
	if n.media != nil && created && len(in.MediaURLs) > 0 {
		n.media.Enqueue(context.WithoutCancel(ctx), in)
	}
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
