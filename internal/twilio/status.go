package twilio

import switchboard "github.com/switchboard-gw/switchboard"

// statuses maps Twilio's message statuses (shared/twilio-facts.md §2) to Switchboard's.
//
// Notes on the less obvious rows:
//   - accepted, queued, scheduled and sending all mean Twilio holds the message but no carrier has
//     it yet: Switchboard's "sending". Twilio's "queued" is not our "queued" (waiting in our outbox),
//     and Twilio's "scheduled" (Twilio-side SendAt scheduling) is not our "scheduled" (deferred in
//     our outbox): mapping them to ours would move a handed-over message backwards.
//   - partially_delivered is a final status: Twilio's OpenAPI enum lists it, its documentation does
//     not describe it (twilio/twilio-node#607: "the docs are missing info on the partially_delivered
//     status"), and no later callback follows it. It says the carrier confirmed some, not all, of a
//     multi-part message, so the recipient did not get the message as written: "undelivered"
//     (our reading; the timeline keeps Twilio's word). Mapped to "sent", as it once was, a message
//     never reached a final status: no callback would move it on and every status poll returned
//     partially_delivered again.
//   - receiving and received describe inbound messages, not outbound ones: not mapped.
var statuses = map[string]switchboard.Status{
	"accepted":            switchboard.StatusSending,
	"scheduled":           switchboard.StatusSending,
	"queued":              switchboard.StatusSending,
	"sending":             switchboard.StatusSending,
	"sent":                switchboard.StatusSent,
	"partially_delivered": switchboard.StatusUndelivered,
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
