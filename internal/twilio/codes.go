package twilio

import (
	"fmt"
	"slices"

	switchboard "github.com/switchboard-gw/switchboard"
)

// CodeInfo explains one of Twilio's numeric error codes: what it means, what the on-call engineer
// should do about it, and what the dispatcher does after an attempt that failed with it.
type CodeInfo struct {
	Code int
	// Title names the error in a few words.
	Title string
	// Explanation says in plain words what happened and what to do.
	Explanation string
	// Outcome is what the dispatcher does after an attempt that failed with this code. For codes
	// that only arrive asynchronously (in status callbacks, 30xxx) it is advice: whether sending
	// the same message again could help.
	Outcome switchboard.Outcome
	// Unreachable says that the recipient's number cannot receive the message this way (invalid,
	// unknown, a landline, no WhatsApp account): sending the same message to it again fails the
	// same way, whatever the sender does.
	Unreachable bool
	// Known is false for the default returned for a code missing from the table.
	Known bool
}

// DocURL is Twilio's documentation page for the code.
func (c CodeInfo) DocURL() string {
	return fmt.Sprintf("https://www.twilio.com/docs/errors/%d", c.Code)
}

// Describe is the title and explanation in one line, for a message's timeline.
func (c CodeInfo) Describe() string {
	return c.Title + ": " + c.Explanation
}

// codes is Twilio's error code table (shared/twilio-facts.md §3 and §10). Twilio warns that codes
// and their meanings change over time, so they live here as data rather than in branches of code;
// a code missing from the table gets the default built by LookupCode.
var codes = map[int]CodeInfo{
	// Account and API.
	20003: {
		Title: "Authentication failed",
		Explanation: "Twilio rejected the credentials. Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN " +
			"(or TWILIO_API_KEY/TWILIO_API_SECRET): a rotated token, an API key from another account or a " +
			"suspended account all look like this. Nothing is sent until the credentials are fixed.",
		Outcome: switchboard.OutcomeFail,
	},
	20005: {
		Title: "Account not active",
		Explanation: "The Twilio account is suspended or closed. Check the account's status and billing " +
			"in the Twilio console.",
		Outcome: switchboard.OutcomeFail,
	},
	20404: {
		Title: "Resource not found",
		Explanation: "Twilio has no such resource on this account: a wrong account SID in the URL, a message " +
			"SID from another account, or a resource that was deleted. Check TWILIO_ACCOUNT_SID.",
		Outcome: switchboard.OutcomeFail,
	},
	20429: {
		Title: "Too many concurrent requests",
		Explanation: "Twilio refused the request because the account has too many API requests in flight. " +
			"The request was never processed, so it is always safe to retry; Switchboard retries with " +
			"backoff. If it persists, lower the dispatcher's concurrency.",
		Outcome: switchboard.OutcomeRetry,
	},
	20500: {
		Title: "Twilio internal server error",
		Explanation: "Twilio failed while handling the request; the message may or may not have been " +
			"created. Switchboard looks it up at Twilio before sending again. Check status.twilio.com.",
		Outcome: switchboard.OutcomeAmbiguous,
	},
	20503: {
		Title: "Twilio service unavailable",
		Explanation: "Twilio was temporarily unavailable; the message may or may not have been created. " +
			"Switchboard looks it up at Twilio before sending again. Check status.twilio.com.",
		Outcome: switchboard.OutcomeAmbiguous,
	},
	21222: {
		Title: "Invalid username (illegal characters)",
		Explanation: "The account SID or API key contains characters other than letters and digits; the " +
			"Twilio client refuses it before sending anything. Fix the configured credentials.",
		Outcome: switchboard.OutcomeFail,
	},
	21224: {
		Title: "Invalid password (illegal characters)",
		Explanation: "The auth token or API secret contains characters other than letters and digits; the " +
			"Twilio client refuses it before sending anything. Check for stray quotes or whitespace.",
		Outcome: switchboard.OutcomeFail,
	},

	// Creating a message.
	21211: {
		Title: "Invalid 'To' phone number",
		Explanation: "The recipient's number is not a valid phone number. The application must correct " +
			"the number; resending will not help.",
		Outcome:     switchboard.OutcomeFail,
		Unreachable: true,
	},
	21212: {
		Title: "Invalid 'From' phone number",
		Explanation: "The sender is not a valid phone number, short code or alphanumeric sender ID. Check " +
			"the sender configuration (SWITCHBOARD_FROM or the senders list).",
		Outcome: switchboard.OutcomeFail,
	},
	21408: {
		Title: "Permission to send to this region is not enabled",
		Explanation: "The account's Messaging Geographic Permissions do not allow the recipient's country. " +
			"Enable the country in the Twilio console (Messaging > Settings > Geo permissions) if sending " +
			"there is intended.",
		Outcome: switchboard.OutcomeFail,
	},
	21602: {
		Title:       "Message body is required",
		Explanation: "The message had neither a body nor media. This is a bug in the caller or a template.",
		Outcome:     switchboard.OutcomeFail,
	},
	21603: {
		Title:       "'From' is required",
		Explanation: "No sender was given. Check the sender configuration (SWITCHBOARD_FROM or the senders list).",
		Outcome:     switchboard.OutcomeFail,
	},
	21604: {
		Title:       "'To' is required",
		Explanation: "No recipient was given. This is a bug in the caller.",
		Outcome:     switchboard.OutcomeFail,
	},
	21606: {
		Title: "'From' number is not owned by the account or not SMS-capable",
		Explanation: "The sender number is not on this Twilio account, or cannot send SMS (or to this " +
			"destination). Check that the configured sender belongs to TWILIO_ACCOUNT_SID and has the " +
			"SMS capability.",
		Outcome: switchboard.OutcomeFail,
	},
	21608: {
		Title: "Recipient not verified for a trial account",
		Explanation: "Trial accounts can only send to verified numbers. Verify the recipient in the " +
			"Twilio console or upgrade the account.",
		Outcome: switchboard.OutcomeFail,
	},
	21610: {
		Title: "Recipient has opted out (STOP)",
		Explanation: "The recipient replied STOP to this sender (or its Messaging Service), so Twilio " +
			"blocks messages to them until they reply START, YES or UNSTOP. Switchboard records the " +
			"opt-out and blocks the message; do not work around it.",
		Outcome: switchboard.OutcomeOptedOut,
	},
	21701: {
		Title: "The Messaging Service does not exist",
		Explanation: "The MG… SID a sender names is not a Messaging Service of this account. Check the " +
			"sender's `from` in the configuration against the account's Messaging Services.",
		Outcome: switchboard.OutcomeFail,
	},
	21704: {
		Title: "The Messaging Service has no phone numbers",
		Explanation: "The Messaging Service has no sender in its pool, so Twilio cannot choose a From. " +
			"Add numbers to the service in Twilio's console or API.",
		Outcome: switchboard.OutcomeFail,
	},
	21705: {
		Title: "The Messaging Service is invalid",
		Explanation: "The value given as a Messaging Service SID is not one (MG and 32 hex digits). " +
			"Check the sender's `from` in the configuration.",
		Outcome: switchboard.OutcomeFail,
	},
	21710: {
		Title: "The number is already in another Messaging Service",
		Explanation: "A phone number belongs to one Messaging Service at a time: remove it from the " +
			"other service first.",
		Outcome: switchboard.OutcomeFail,
	},
	21611: {
		Title: "Sender's queue is full",
		Explanation: "The sender already has about 10 hours of messages queued at Twilio. Switchboard " +
			"retries much later; if it keeps happening, the sender's configured rate is higher than " +
			"what Twilio allows it (1 segment/s for a US long code): lower it or add senders.",
		Outcome: switchboard.OutcomeRetrySlow,
	},
	21612: {
		Title: "Cannot route between these 'To' and 'From' numbers",
		Explanation: "Twilio cannot carry a message from this sender to this recipient (e.g. a short " +
			"code to an international number, or an unsupported carrier). Resending from the same sender " +
			"will not help; a different sender might.",
		Outcome: switchboard.OutcomeFail,
	},
	21614: {
		Title: "'To' number is not SMS-capable",
		Explanation: "The recipient's number cannot receive SMS (usually a landline). Ask for a mobile " +
			"number or use a voice call.",
		Outcome:     switchboard.OutcomeFail,
		Unreachable: true,
	},
	21617: {
		Title: "Message body too long",
		Explanation: "The body exceeds Twilio's 1600-character limit. Shorten the text or the template; " +
			"resending will not help.",
		Outcome: switchboard.OutcomeFail,
	},
	21620: {
		Title:       "Invalid media URL",
		Explanation: "A media URL is malformed or not publicly reachable by Twilio. Fix the media URL.",
		Outcome:     switchboard.OutcomeFail,
	},
	21623: {
		Title:       "Too many media files",
		Explanation: "The message has more media URLs than Twilio allows (10). Send fewer.",
		Outcome:     switchboard.OutcomeFail,
	},
	35115: {
		Title: "SendAt is outside the allowed window",
		Explanation: "A message scheduled at Twilio must be due between 300 seconds and 35 days " +
			"ahead. Switchboard schedules messages itself; seeing this means Twilio-side scheduling " +
			"(ScheduleType/SendAt) was used by mistake.",
		Outcome: switchboard.OutcomeFail,
	},

	// Delivery (asynchronous: reported in status callbacks of failed/undelivered messages).
	30001: {
		Title: "Queue overflow",
		Explanation: "The sender's queue at Twilio overflowed and the message was dropped. Sending " +
			"faster than the sender's throughput allows causes this: lower the sender's rate or spread " +
			"the load over more senders. A later, slower retry can succeed.",
		Outcome: switchboard.OutcomeRetrySlow,
	},
	30002: {
		Title: "Account suspended",
		Explanation: "Twilio suspended the account, so the message was not sent. Check the account in " +
			"the Twilio console (billing, compliance); nothing will send until it is resolved.",
		Outcome: switchboard.OutcomeFail,
	},
	30003: {
		Title: "Unreachable destination handset",
		Explanation: "The carrier could not reach the phone: switched off, out of coverage or roaming " +
			"without service. A few later retries can succeed; many failures for one recipient mean the " +
			"number is no longer in use.",
		Outcome: switchboard.OutcomeRetrySlow,
	},
	30004: {
		Title: "Message blocked",
		Explanation: "The recipient's carrier or the recipient blocked the message (carrier-level block " +
			"or the number does not accept messages from this sender). Resending will not help.",
		Outcome: switchboard.OutcomeFail,
	},
	30005: {
		Title: "Unknown destination handset",
		Explanation: "The number does not exist or is no longer active. Ask the person for a current " +
			"number; resending will not help.",
		Outcome:     switchboard.OutcomeFail,
		Unreachable: true,
	},
	30006: {
		Title: "Landline or unreachable carrier",
		Explanation: "The number is a landline or its carrier does not accept SMS. Use a mobile number " +
			"or a voice call.",
		Outcome:     switchboard.OutcomeFail,
		Unreachable: true,
	},
	30007: {
		Title: "Message filtered (spam or content)",
		Explanation: "The carrier filtered the message as spam or for its content. Do not resend the same " +
			"text: review the template (links, URL shorteners, wording), and check A2P 10DLC / toll-free " +
			"verification for the sender.",
		Outcome: switchboard.OutcomeFail,
	},
	30008: {
		Title: "Unknown error",
		Explanation: "The carrier reported an unspecified delivery failure. A limited number of later " +
			"retries is reasonable; if it repeats for many recipients, open a Twilio support ticket with " +
			"the message SIDs.",
		Outcome: switchboard.OutcomeRetrySlow,
	},
	30009: {
		Title:       "Missing segment",
		Explanation: "One segment of a multi-part message was not delivered, so the handset could not assemble it.",
		Outcome:     switchboard.OutcomeFail,
	},
	30010: {
		Title:       "Message price exceeds max price",
		Explanation: "The message would cost more than the MaxPrice set on it, so Twilio did not send it.",
		Outcome:     switchboard.OutcomeFail,
	},
	30019: {
		Title: "Content size exceeds carrier limit",
		Explanation: "A media file of the message is larger than Twilio and the carriers accept (5 MB " +
			"for images, 500 KB for other types). Switchboard checks media URLs before sending and blocks " +
			"such a message with this code; host a smaller file.",
		Outcome: switchboard.OutcomeFail,
	},
	30034: {
		Title: "US A2P 10DLC: message from an unregistered number",
		Explanation: "US carriers block messages from 10-digit long codes that are not registered to an " +
			"approved A2P 10DLC campaign. Register the brand and campaign and add the number to it (or " +
			"send from a registered Messaging Service); resending will not help until then.",
		Outcome: switchboard.OutcomeFail,
	},

	// WhatsApp and channels.
	63003: {
		Title: "Channel could not find the To address",
		Explanation: "The recipient has no account on the channel (no WhatsApp account on this number). " +
			"Resending will not help; reach the person another way (SMS fallback).",
		Outcome:     switchboard.OutcomeFail,
		Unreachable: true,
	},
	63016: {
		Title: "Outside the WhatsApp 24-hour window",
		Explanation: "Free-form WhatsApp messages may only be sent within 24 hours of the user's last " +
			"message. Send an approved template (ContentSid) instead, or fall back to SMS.",
		Outcome: switchboard.OutcomeFail,
	},
	63017: {
		Title: "Account throughput exceeded",
		Explanation: "The account is above its combined messaging throughput (about 2000 segments/s). " +
			"Slow down: the sum of all senders' configured rates is too high.",
		Outcome: switchboard.OutcomeRetrySlow,
	},
	63018: {
		Title: "Channel rate limit exceeded",
		Explanation: "The channel (WhatsApp) rate-limited the sender. Switchboard retries with backoff; if " +
			"it persists, lower the sender's rate.",
		Outcome: switchboard.OutcomeRetry,
	},

	// Verify.
	60200: {
		Title: "Verify: invalid parameter",
		Explanation: "A Verify request had an invalid parameter (usually the phone number or the channel). " +
			"The caller must fix the request.",
		Outcome: switchboard.OutcomeFail,
	},
	60202: {
		Title: "Verify: max check attempts reached",
		Explanation: "The person entered a wrong code 5 times. The verification is dead: start a new one " +
			"after a pause. Retrying the check will not help.",
		Outcome: switchboard.OutcomeFail,
	},
	60203: {
		Title: "Verify: max send attempts reached",
		Explanation: "A code was sent 5 times to this number without a successful check. No more codes " +
			"are sent until the verification is checked or expires (10 minutes).",
		Outcome: switchboard.OutcomeFail,
	},
	60212: {
		Title:       "Verify: too many concurrent requests for this number",
		Explanation: "Several Verify requests for the same number ran at once. Retry after a short delay.",
		Outcome:     switchboard.OutcomeRetry,
	},
}

func init() {
	for code, info := range codes {
		info.Code = code
		info.Known = true
		codes[code] = info
	}
}

// LookupCode explains a Twilio error code. A code missing from the table gets a default that links
// to Twilio's documentation, with OutcomeFail: an unknown error on an API call came with a 4xx
// (a 5xx or 429 is classified by its HTTP status by the caller, not by this default).
func LookupCode(code int) CodeInfo {
	if info, ok := codes[code]; ok {
		return info
	}
	return CodeInfo{
		Code:  code,
		Title: fmt.Sprintf("Twilio error %d", code),
		Explanation: fmt.Sprintf("Switchboard has no explanation for this code; see "+
			"https://www.twilio.com/docs/errors/%d.", code),
		Outcome: switchboard.OutcomeFail,
	}
}

// KnownCodes lists the codes in the table, in ascending order.
func KnownCodes() []int {
	out := make([]int, 0, len(codes))
	for code := range codes {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

// Class maps a Twilio error code into Switchboard's error class: the one place where Twilio's
// codes become the system's vocabulary (they stay on messages and timelines as detail). The
// classes are also the metrics' error_class label, so they are few.
func Class(code int) switchboard.ErrorClass {
	switch code {
	case 0:
		return switchboard.ClassNone
	case 21610, 30004:
		return switchboard.ClassOptedOut // STOP at Twilio; the carrier's block list
	case 21211, 21214, 21217, 21407, 21408, 21612, 21614, 30005, 30006:
		return switchboard.ClassInvalidRecipient // not a number, unreachable country or a landline
	case 30007:
		return switchboard.ClassCarrierFiltered
	case 30003, 30008:
		return switchboard.ClassUnreachable // handset off or out of range, unknown carrier error
	case 20429, 21611, 30001, 30022:
		return switchboard.ClassThroughput // rate limits and full sender queues
	case 63016, 63003:
		return switchboard.ClassWhatsAppWindow
	case 30019:
		return switchboard.ClassMediaTooLarge
	case 60200:
		return switchboard.ClassInvalidParameter // Verify: a parameter refused
	case 60202:
		return switchboard.ClassMaxAttempts // Verify: max check attempts reached
	case 60203:
		return switchboard.ClassMaxSends // Verify: max send attempts reached
	case 60212:
		return switchboard.ClassBusy // Verify: too many concurrent requests for the number
	case 20404:
		return switchboard.ClassNotFound
	}
	if code >= 30000 && code < 31000 {
		return switchboard.ClassCarrierOther
	}
	return switchboard.ClassOther
}

// classCodes is the Twilio code Switchboard records for a message it stops itself for a class's
// reason: the code Twilio would have answered (see switchboard.ErrorCodes).
var classCodes = map[switchboard.ErrorClass]int{
	switchboard.ClassOptedOut:       21610, // "Attempt to send to unsubscribed recipient"
	switchboard.ClassWhatsAppWindow: 63016, // free-form outside the 24-hour window
	switchboard.ClassMediaTooLarge:  30019, // "Content size exceeds carrier limit"
}

// Code is Twilio's code for class, 0 if it has none.
func Code(class switchboard.ErrorClass) int { return classCodes[class] }
