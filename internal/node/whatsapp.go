package node

import (
	"context"
	"regexp"
	"strconv"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
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
