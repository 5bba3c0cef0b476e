package switchboard

import "strings"

// Stable codes of staging refusals (422): a staging tenant reaches only the people it lists, or
// only the simulator.
const (
	// CodeStagingRecipient: a staging tenant (mode allowlist) asked to reach a number that is not
	// on its allowed_recipients.
	CodeStagingRecipient = "staging_recipient_not_allowed"
	// CodeStagingSimulator: a staging tenant of mode simulator asked to send on a node whose
	// provider is not the simulator.
	CodeStagingSimulator = "staging_simulator_unavailable"
)

// ValidRecipientPattern reports whether p may be an entry of a tenant's allowed_recipients: an
// E.164 number ("+14155550100"), or a prefix of one followed by "*" ("+1415555*", at least the
// country code's first digit: "+*" alone would allow everyone).
func ValidRecipientPattern(p string) bool {
	num, prefix := strings.CutSuffix(p, "*")
	if prefix {
		return len(num) >= 2 && len(num) <= 16 && num[0] == '+' && num[1] != '0' && digits(num[1:])
	}
	return isE164(p)
}

// RecipientAllowed reports whether to (E.164) matches one of patterns (ValidRecipientPattern):
// the same number, or a number that starts with a prefix pattern's digits.
func RecipientAllowed(patterns []string, to string) bool {
	for _, p := range patterns {
		if num, ok := strings.CutSuffix(p, "*"); ok {
			if len(num) > 1 && strings.HasPrefix(to, num) {
				return true
			}
		} else if p == to {
			return true
		}
	}
	return false
}

// CheckRecipient refuses a message, call or verification of tenant t to number to when t is a
// staging tenant that may not reach it (EUNPROCESSABLE): in mode allowlist (the default) a
// number off its AllowedRecipients (CodeStagingRecipient); in mode simulator anything when
// simulated is false, that is when the node's provider is not the in-process simulator
// (CodeStagingSimulator). A production tenant (or nil) may reach anyone.
func (t *Tenant) CheckRecipient(to string, simulated bool) error {
	if t == nil || t.Environment != EnvStaging {
		return nil
	}
	if t.StagingMode == StagingSimulator {
		if simulated {
			return nil
		}
		return Errorf(EUNPROCESSABLE, CodeStagingSimulator,
			"tenant %s is a staging tenant that sends only through the simulator, and this node's provider is not the simulator; nothing was sent", t.ID)
	}
	if RecipientAllowed(t.AllowedRecipients, to) {
		return nil
	}
	return Errorf(EUNPROCESSABLE, CodeStagingRecipient,
		"tenant %s is a staging tenant and the recipient is not on its allowed_recipients; nothing was sent", t.ID)
}
