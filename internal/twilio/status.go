package twilio

import switchboard "github.com/switchboard-gw/switchboard"

// statuses maps Twilio's message statuses (shared/twilio-facts.md §2) to Switchboard's.
//
// Notes on the less obvious rows:
//   - accepted, queued, scheduled and sending all mean Twilio holds the message but no carrier has
//     it yet: Switchboard's "sending". Twilio's "queued" is not our "queued" (waiting in our outbox),
//     and Twilio's "scheduled" (Twilio-side SendAt scheduling) is not our "scheduled" (deferred in
//     our outbox): mapping them to ours would move a handed-over message backwards.
//   - partially_delivered ([UNCONFIRMED] in Twilio's docs) is mapped to "sent": the carrier took the
//     message but no complete delivery receipt exists. It is not terminal, so a later delivered or
//     undelivered callback still moves the message on, and we never claim a delivery we cannot
//     prove.
//   - receiving and received describe inbound messages, not outbound ones: not mapped.
var statuses = map[string]switchboard.Status{
	"accepted":            switchboard.StatusSending,
	"scheduled":           switchboard.StatusSending,
	"queued":              switchboard.StatusSending,
	"sending":             switchboard.StatusSending,
	"sent":                switchboard.StatusSent,
	"partially_delivered": switchboard.StatusSent,
	"delivered":           switchboard.StatusDelivered,
	"read":                switchboard.StatusRead,
	"undelivered":         switchboard.StatusUndelivered,
	"failed":              switchboard.StatusFailed,
	"canceled":            switchboard.StatusCanceled,
}

// MapStatus maps a Twilio message status to Switchboard's. It reports false for a status that is
// not an outbound message status (receiving, received) or that it does not know.
func MapStatus(twilioStatus string) (switchboard.Status, bool) {
	s, ok := statuses[twilioStatus]
	return s, ok
}
