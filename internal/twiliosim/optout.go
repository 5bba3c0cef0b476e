package twiliosim

import (
	"strings"
	"sync"
)

// Opt-out handling, as Twilio does it by default for SMS (twilio-facts.md §5, and Twilio's
// "Advanced Opt-Out" tutorial, which says Twilio handles the standard English keywords for long
// codes by default):
//   - an inbound SMS that is exactly an opt-out keyword (trimmed, any case) blocks the pair
//     (our number, their number) and, when our number belongs to a Messaging Service, the pair
//     (service, their number): every number of the pool. Later sends of that pair get 400/21610
//     until the person texts an opt-in keyword to a number of the same scope;
//   - the inbound message is still stored and its webhook still posted;
//   - Twilio answers the keyword itself (opt-out, opt-in and help confirmations). The texts
//     below are the simulator's own short wording, not Twilio's;
//   - a TwiML <Message> reply to an opted-out person is not delivered: it is stored failed with
//     21610 (Twilio does not document what the reply resource shows: that is our choice);
//   - WhatsApp is not subject to the keywords (they are an SMS carrier rule).
//
// With OptOutOff the simulator models an account whose Twilio keyword handling is disabled
// (Twilio support can do that; a choice of ours to offer it): keywords do nothing.

// Opt-out handling modes (Config.OptOut).
const (
	// OptOutTwilio is Twilio's default handling: block, and answer the keywords. The default.
	OptOutTwilio = "twilio"
	// OptOutSilent blocks like OptOutTwilio but sends no confirmations (Advanced Opt-Out with
	// empty replies; the application answers).
	OptOutSilent = "silent"
	// OptOutOff disables keyword handling.
	OptOutOff = "off"
)

// The keywords of Twilio's default opt-out handling (twilio-facts.md §5).
var (
	optOutKeywords = []string{"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"}
	optInKeywords  = []string{"START", "YES", "UNSTOP"}
	helpKeywords   = []string{"HELP", "INFO"}
)

// The simulator's confirmations (its own wording).
const (
	optOutReply = "You are unsubscribed from this number and will get no more messages from it. Reply START to resubscribe."
	optInReply  = "You are subscribed again to messages from this number. Reply HELP for help, STOP to unsubscribe."
	helpReply   = "Reply STOP to unsubscribe. Message and data rates may apply."
)

type keywordKind int

const (
	kwNone keywordKind = iota
	kwOptOut
	kwOptIn
	kwHelp
)

// keywordOf classifies an inbound body: only a body that is exactly a keyword counts.
func keywordOf(body string) (keywordKind, string) {
	w := strings.ToUpper(strings.TrimSpace(body))
	for _, set := range []struct {
		k     keywordKind
		words []string
	}{{kwOptOut, optOutKeywords}, {kwOptIn, optInKeywords}, {kwHelp, helpKeywords}} {
		for _, k := range set.words {
			if w == k {
				return set.k, k
			}
		}
	}
	return kwNone, ""
}

// optOuts is the set of blocked (scope, recipient) pairs; a scope is an owned number or a
// Messaging Service SID.
type optOuts struct {
	mu      sync.RWMutex
	blocked map[string]struct{}
}

func optKey(scope, recipient string) string { return scope + "|" + recipient }

func (o *optOuts) set(scopes []string, recipient string, out bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.blocked == nil {
		o.blocked = map[string]struct{}{}
	}
	for _, sc := range scopes {
		if sc == "" {
			continue
		}
		if out {
			o.blocked[optKey(sc, recipient)] = struct{}{}
		} else {
			delete(o.blocked, optKey(sc, recipient))
		}
	}
}

func (o *optOuts) any(scopes []string, recipient string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, sc := range scopes {
		if sc == "" {
			continue
		}
		if _, ok := o.blocked[optKey(sc, recipient)]; ok {
			return true
		}
	}
	return false
}

func (o *optOuts) reset() {
	o.mu.Lock()
	o.blocked = nil
	o.mu.Unlock()
}

// optOutScopes are the scopes a send from sender (an owned number; may be empty) through
// service (may be empty) falls under: the number, and the service the number or message
// belongs to.
func (s *Simulator) optOutScopes(sender, service string) []string {
	scopes := []string{sender, service}
	if sender != "" {
		if sv := s.serviceOfNumber(sender); sv != "" && sv != service {
			scopes = append(scopes, sv)
		}
	}
	return scopes
}

// OptedOut reports whether recipient has opted out of messages from sender (an owned number or
// a Messaging Service SID).
func (s *Simulator) OptedOut(sender, recipient string) bool {
	if strings.HasPrefix(sender, "MG") {
		return s.opt.any([]string{sender}, recipient)
	}
	return s.opt.any(s.optOutScopes(sender, ""), recipient)
}

// blockedSend reports whether an SMS from sender (through service) to recipient is refused
// because the recipient opted out. WhatsApp is never blocked.
func (s *Simulator) blockedSend(sender, service, recipient string) bool {
	if s.cfg.OptOut == OptOutOff || strings.HasPrefix(recipient, "whatsapp:") {
		return false
	}
	return s.opt.any(s.optOutScopes(sender, service), recipient)
}

// handleKeyword applies an inbound SMS keyword from their to our number: it updates the
// opt-out set and answers as Twilio does. It returns the keyword type for the webhook's
// OptOutType parameter ("" when the body is no keyword).
func (s *Simulator) handleKeyword(ours, theirs, body string) string {
	if s.cfg.OptOut == OptOutOff || strings.HasPrefix(theirs, "whatsapp:") {
		return ""
	}
	kind, _ := keywordOf(body)
	scopes := s.optOutScopes(ours, "")
	var reply, typ string
	switch kind {
	case kwOptOut:
		s.opt.set(scopes, theirs, true)
		reply, typ = optOutReply, "STOP"
	case kwOptIn:
		s.opt.set(scopes, theirs, false)
		reply, typ = optInReply, "START"
	case kwHelp:
		reply, typ = helpReply, "HELP"
	default:
		return ""
	}
	if s.cfg.OptOut != OptOutSilent {
		s.storeReply(ours, theirs, reply, false)
	}
	return typ
}
