// Package routing routes inbound messages: rules that match a message by the number that
// received it and its first word send its message.received event to chosen endpoints and may
// answer it with an automatic reply.
package routing

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-gw/switchboard/internal/content"
)

// DefaultAutoReplyInterval is how often at most one person gets a rule's automatic reply when
// the rule does not say: once a day keeps two auto-responders from answering each other forever.
const DefaultAutoReplyInterval = 24 * time.Hour

// Rule is one inbound routing rule of the configuration file (inbound_routes).
type Rule struct {
	// Name identifies the rule: it is the route of the message.received events it matched.
	Name string `yaml:"name"`
	// Numbers are the receiving numbers (E.164) the rule applies to; empty means any.
	Numbers []string `yaml:"numbers"`
	// Keywords match the message's first word (any case, trailing punctuation ignored); empty
	// means any message.
	Keywords []string `yaml:"keywords"`
	// Endpoints are the endpoints the event goes to instead of those its type would reach:
	// names of endpoints of the configuration file, or IDs (ep_…) of endpoints registered
	// through the API. Empty leaves the event to the endpoints' event types.
	Endpoints []string `yaml:"endpoints"`
	// AutoReply, when set, is answered to the sender through the normal pipeline.
	AutoReply string `yaml:"auto_reply"`
	// AutoReplyInterval bounds the automatic replies to one person (default 24h).
	AutoReplyInterval time.Duration `yaml:"auto_reply_interval"`
}

// Rules are evaluated in order; the first that matches routes the message.
type Rules []Rule

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Prepare checks the rules and normalizes them in place: numbers to E.164, keywords to upper
// case, endpoint names to IDs. configEndpoints are the names of the configuration file's
// endpoints; reserved reports a word that is a compliance keyword (STOP, START, HELP…), which a
// rule may not take. The error names the rule and what to fix.
func (rs Rules) Prepare(configEndpoints []string, reserved func(word string) bool) error {
	seen := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		where := fmt.Sprintf("inbound_routes[%d] (%s)", i, r.Name)
		switch {
		case !ruleName.MatchString(r.Name):
			return fmt.Errorf("%s: name must be lower-case letters, digits, - and _", where)
		case seen[r.Name]:
			return fmt.Errorf("%s: the name is listed twice", where)
		case len(r.Endpoints) == 0 && r.AutoReply == "":
			return fmt.Errorf("%s: a rule needs endpoints, an auto_reply or both", where)
		case r.AutoReplyInterval < 0:
			return fmt.Errorf("%s: auto_reply_interval must be positive", where)
		case len([]rune(r.AutoReply)) > 1600:
			return fmt.Errorf("%s: auto_reply is longer than 1600 characters", where)
		}
		seen[r.Name] = true
		if r.AutoReplyInterval == 0 {
			r.AutoReplyInterval = DefaultAutoReplyInterval
		}
		for j, n := range r.Numbers {
			e164, err := content.NormalizePhone(n)
			if err != nil {
				return fmt.Errorf("%s: numbers[%d] %q is not a phone number in E.164", where, j, n)
			}
			r.Numbers[j] = e164
		}
		for j, k := range r.Keywords {
			w := strings.ToUpper(strings.TrimSpace(k))
			if w == "" || strings.IndexFunc(w, unicode.IsSpace) >= 0 {
				return fmt.Errorf("%s: keywords[%d] %q must be one word", where, j, k)
			}
			if reserved != nil && reserved(w) {
				return fmt.Errorf("%s: keyword %q is a compliance keyword (opt-out, opt-in or help), which Switchboard handles itself", where, w)
			}
			r.Keywords[j] = w
		}
		for j, e := range r.Endpoints {
			switch {
			case strings.HasPrefix(e, "ep_"):
			case slices.Contains(configEndpoints, e):
				r.Endpoints[j] = "ep_" + e
			default:
				return fmt.Errorf("%s: endpoints[%d] %q is neither an endpoint of the configuration file nor an endpoint ID (ep_…)", where, j, e)
			}
		}
	}
	return nil
}

// Match returns the first rule for a message received on number to with body, or nil.
func (rs Rules) Match(to, body string) *Rule {
	word := FirstWord(body)
	for i := range rs {
		r := &rs[i]
		if len(r.Numbers) > 0 && !slices.Contains(r.Numbers, to) {
			continue
		}
		if len(r.Keywords) > 0 && !slices.Contains(r.Keywords, word) {
			continue
		}
		return r
	}
	return nil
}

// Get returns the rule named name, or nil.
func (rs Rules) Get(name string) *Rule {
	for i := range rs {
		if rs[i].Name == name {
			return &rs[i]
		}
	}
	return nil
}

// FirstWord returns a body's first word in upper case without trailing punctuation: "Support!
// my heater" is SUPPORT.
func FirstWord(body string) string {
	fields := strings.Fields(body)
	if len(fields) == 0 {
		return ""
	}
	return strings.ToUpper(strings.TrimRightFunc(fields[0], unicode.IsPunct))
}

// AutoReplyKey is the idempotency key of the automatic reply of rule to person at now: one per
// person and rule per interval, whichever node receives the message and however often Twilio
// delivers its webhook.
func (r *Rule) AutoReplyKey(person string, now time.Time) string {
	slot := now.UnixNano() / int64(r.AutoReplyInterval)
	return fmt.Sprintf("auto-reply:%s:%s:%d", r.Name, person, slot)
}
