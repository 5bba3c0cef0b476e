package consent

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Action is what an inbound keyword does.
type Action string

// Keyword actions.
const (
	ActionOptOut Action = "opt_out"
	ActionOptIn  Action = "opt_in"
	ActionHelp   Action = "help"
)

// Language is one language's keywords and replies.
type Language struct {
	OptOut      []string `yaml:"opt_out"`
	OptIn       []string `yaml:"opt_in"`
	Help        []string `yaml:"help"`
	OptOutReply string   `yaml:"opt_out_reply"`
	OptInReply  string   `yaml:"opt_in_reply"`
	HelpReply   string   `yaml:"help_reply"`
}

// PoolKeywords are the keyword rules of one sender pool.
type PoolKeywords struct {
	// Languages maps a language tag (en, es…) to its keywords and replies.
	Languages map[string]Language `yaml:"languages"`
	// OptOutScope is "pool" (default: the opt-out covers this pool's senders) or "all".
	OptOutScope string `yaml:"opt_out_scope"`
}

// Keywords is the keyword configuration (the `keywords:` section of the YAML file).
type Keywords struct {
	// Replies is "switchboard" (default: replies go through the normal pipeline) or "twilio"
	// (Twilio's Advanced Opt-Out replies itself; Switchboard records consent and stays quiet).
	Replies string `yaml:"replies"`
	// Pools maps a pool to its rules; a pool not listed uses "default", then the built-in rules.
	Pools map[string]PoolKeywords `yaml:"pools"`
}

// DefaultLanguage is Twilio's default keyword set and replies (twilio-facts §5).
var DefaultLanguage = Language{
	OptOut:      []string{"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"},
	OptIn:       []string{"START", "YES", "UNSTOP"},
	Help:        []string{"HELP", "INFO"},
	OptOutReply: "You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe.",
	OptInReply:  "You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
	HelpReply:   "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}

// Match is a keyword found in an inbound message.
type Match struct {
	Action   Action
	Keyword  string
	Language string
	Reply    string
	// AllPools is true when an opt-out covers every pool.
	AllPools bool
}

// Validate checks the configuration; the error names what to fix.
func (k *Keywords) Validate() error {
	switch k.Replies {
	case "", "switchboard", "twilio":
	default:
		return fmt.Errorf("keywords.replies %q must be switchboard or twilio", k.Replies)
	}
	for pool, p := range k.Pools {
		switch p.OptOutScope {
		case "", "pool", "all":
		default:
			return fmt.Errorf("keywords.pools.%s.opt_out_scope %q must be pool or all", pool, p.OptOutScope)
		}
		seen := map[string]string{}
		for lang, l := range p.Languages {
			for _, words := range [][]string{l.OptOut, l.OptIn, l.Help} {
				for _, w := range words {
					w = normalize(w)
					if w == "" {
						return fmt.Errorf("keywords.pools.%s.languages.%s has an empty keyword", pool, lang)
					}
					if other, dup := seen[w]; dup {
						return fmt.Errorf("keywords.pools.%s: keyword %q is listed twice (%s and %s)", pool, w, other, lang)
					}
					seen[w] = lang
				}
			}
		}
	}
	return nil
}

// SwitchboardReplies reports whether Switchboard sends keyword replies itself.
func (k *Keywords) SwitchboardReplies() bool { return k == nil || k.Replies != "twilio" }

// normalize is how a message body is compared with a keyword: trimmed, any case. Only a message
// that is exactly the keyword triggers it, as on Twilio. Trimmed goes beyond white space to what a
// handset or a carrier gateway can add around the word without the person seeing it: control
// characters (a NUL, which inbound decoding turns into U+FFFD), format characters (a byte-order
// mark, zero-width spaces and joiners) and replacement characters. Erring this way can only honour
// a STOP, never ignore one.
func normalize(s string) string { return strings.ToUpper(strings.TrimFunc(s, invisible)) }

func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// Match finds the keyword an inbound body is, for a message received by a sender of pool.
func (k *Keywords) Match(pool, body string) *Match {
	word := normalize(body)
	if word == "" {
		return nil
	}
	rules, ok := PoolKeywords{}, false
	if k != nil {
		rules, ok = k.Pools[pool]
		if !ok {
			rules, ok = k.Pools["default"]
		}
	}
	if !ok || len(rules.Languages) == 0 {
		rules = PoolKeywords{Languages: map[string]Language{"en": DefaultLanguage}, OptOutScope: rules.OptOutScope}
	}
	langs := make([]string, 0, len(rules.Languages))
	for l := range rules.Languages {
		langs = append(langs, l)
	}
	sort.Strings(langs) // deterministic when a word were in two languages (Validate refuses it)
	for _, lang := range langs {
		l := rules.Languages[lang]
		for _, c := range []struct {
			action Action
			words  []string
			reply  string
		}{{ActionOptOut, l.OptOut, l.OptOutReply}, {ActionOptIn, l.OptIn, l.OptInReply}, {ActionHelp, l.Help, l.HelpReply}} {
			for _, w := range c.words {
				if normalize(w) == word {
					return &Match{Action: c.action, Keyword: normalize(w), Language: lang, Reply: c.reply, AllPools: rules.OptOutScope == "all"}
				}
			}
		}
	}
	return nil
}
