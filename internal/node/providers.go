package node

import (
	"fmt"
	"slices"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
)

// ProviderSet is one provider, registered by name for channel_providers: what it implements of
// the provider contracts of the root package. Messages serves sms, mms and whatsapp; Calls the
// voice channel (nil: it places no calls).
type ProviderSet struct {
	Messages switchboard.Provider
	Calls    switchboard.CallProvider
}

// routes are the providers of the node's channels (channel_providers).
type routes struct {
	messages map[switchboard.Channel]switchboard.Provider
	names    map[switchboard.Channel]string
	calls    switchboard.CallProvider
}

// provider is the provider of messages of channel ch.
func (r routes) provider(ch switchboard.Channel) switchboard.Provider { return r.messages[ch] }

// others are the channels whose messages go through another provider than SMS's: the
// dispatcher's Providers, beside its Provider (SMS's), so that what wraps the dispatcher's
// Provider (a benchmark's timer, a test's fault) wraps every channel that shares it.
func (r routes) others() map[switchboard.Channel]switchboard.Provider {
	out := map[switchboard.Channel]switchboard.Provider{}
	for ch, p := range r.messages {
		if r.names[ch] != r.names[switchboard.ChannelSMS] {
			out[ch] = p
		}
	}
	return out
}

// routeChannels resolves channel_providers against the registered providers: twilio (always,
// internal/twilio) and those of opts.Providers. An unknown name, or a provider that lacks what
// its channel needs, stops start-up with one line naming the setting.
func (n *Node) routeChannels(opts Options) (routes, error) {
	sets := map[string]ProviderSet{config.DefaultChannelProvider: {Messages: n.provider, Calls: n.provider}}
	for name, set := range opts.Providers {
		sets[strings.ToLower(name)] = set
	}
	names := make([]string, 0, len(sets))
	for name := range sets {
		names = append(names, name)
	}
	slices.Sort(names)
	r := routes{messages: map[switchboard.Channel]switchboard.Provider{}, names: map[switchboard.Channel]string{}}
	for _, ch := range config.RoutedChannels {
		name := n.cfg.ChannelProviders[ch]
		if name == "" {
			name = config.DefaultChannelProvider
		}
		set, ok := sets[name]
		if !ok {
			return r, fmt.Errorf("channel_providers: %s goes through %q, which is not a provider of this program (%s); set SWITCHBOARD_CHANNEL_PROVIDERS", ch, name, strings.Join(names, ", "))
		}
		if ch == config.ChannelVoice {
			if set.Calls == nil {
				return r, fmt.Errorf("channel_providers: provider %q places no calls, so it cannot serve voice; set SWITCHBOARD_CHANNEL_PROVIDERS", name)
			}
			r.calls = set.Calls
			continue
		}
		if set.Messages == nil {
			return r, fmt.Errorf("channel_providers: provider %q sends no messages, so it cannot serve %s; set SWITCHBOARD_CHANNEL_PROVIDERS", name, ch)
		}
		r.messages[switchboard.Channel(ch)] = set.Messages
		r.names[switchboard.Channel(ch)] = name
	}
	return r, nil
}

// simulated reports whether every message and call of this node goes to the in-process
// simulator: provider simulator, and no channel routed to another provider. Only then does a
// staging tenant of mode simulator send (internal/staging).
func (n *Node) simulated() bool {
	if n.cfg.Provider != config.ProviderSimulator {
		return false
	}
	for _, ch := range config.RoutedChannels {
		if name := n.cfg.ChannelProviders[ch]; name != "" && name != config.DefaultChannelProvider {
			return false
		}
	}
	return true
}
