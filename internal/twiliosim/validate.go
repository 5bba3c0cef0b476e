package twiliosim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// apiError is a Twilio REST error: {"code","message","more_info","status"}.
type apiError struct {
	Status  int
	Code    int
	Message string
	Detail  string
}

// Error implements error.
func (e *apiError) Error() string {
	return fmt.Sprintf("twilio %d/%d: %s", e.Status, e.Code, e.Message)
}

func errorf(status, code int, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalidParam is the generic answer for a malformed parameter.
func invalidParam(name, value string) *apiError {
	return errorf(http.StatusBadRequest, 20001, "Invalid parameter %s: %q", name, value)
}

// Magic test numbers (twilio-facts §4): a From or To that Twilio's test credentials refuse.
var (
	magicFromErrors = map[string]int{
		"+15005550001": 21212,
		"+15005550007": 21606,
		"+15005550008": 21611,
	}
	magicToErrors = map[string]int{
		"+15005550001": 21211,
		"+15005550002": 21612,
		"+15005550003": 21408,
		"+15005550004": 21610,
		"+15005550009": 21614,
	}
)

// Error messages for the codes the simulator produces, worded as Twilio words them.
func fromError(code int, from string) *apiError {
	switch code {
	case 21212:
		return errorf(400, 21212, "The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", from)
	case 21611:
		return errorf(400, 21611, "This 'From' number %s has exceeded the maximum number of queued messages", from)
	default:
		return errorf(400, 21606, "The From phone number %s is not a valid, SMS-capable inbound phone number or short code for your account.", from)
	}
}

func toError(code int, to, from string) *apiError {
	switch code {
	case 21612:
		return errorf(400, 21612, "The 'To' phone number: %s, is not currently reachable using the 'From' phone number: %s via SMS.", to, from)
	case 21408:
		return errorf(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: %s.", to)
	case 21610:
		return errorf(400, 21610, "Attempt to send to unsubscribed recipient")
	case 21614:
		return errorf(400, 21614, "'To' number %s is not a valid mobile number", to)
	default:
		return errorf(400, 21211, "The 'To' number %s is not a valid phone number.", to)
	}
}

// asyncErrorMessages explains the error codes a message can end with.
var asyncErrorMessages = map[int]string{
	21704: "The Messaging Service contains no phone numbers",
	30001: "Queue overflow",
	30002: "Account suspended",
	30003: "Unreachable destination handset",
	30004: "Message blocked",
	30005: "Unknown destination handset",
	30006: "Landline or unreachable carrier",
	30007: "Message filtered",
	30008: "Unknown error",
	30034: "Message from an unregistered number",
	30036: "Validity Period Expired",
	63003: "Channel could not find To address",
	63016: "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.",
	63018: "Rate limit exceeded for Channel",
}

func asyncErrorMessage(code int) string {
	if m, ok := asyncErrorMessages[code]; ok {
		return m
	}
	return "Unknown error"
}

// isE164 reports whether s is "+" followed by 7 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitChannel splits "whatsapp:+1555..." into its channel prefix ("whatsapp:") and address.
func splitChannel(addr string) (channel, rest string) {
	if strings.HasPrefix(addr, "whatsapp:") {
		return "whatsapp:", addr[len("whatsapp:"):]
	}
	return "", addr
}

// isSID reports whether s is prefix followed by 32 hex digits.
func isSID(s, prefix string, lowerOnly bool) bool {
	if len(s) != 34 || s[:2] != prefix {
		return false
	}
	for i := 2; i < 34; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case !lowerOnly && c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// validCallbackURL reports whether u is an absolute http(s) URL with a host.
func validCallbackURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// createRequest is a validated message create.
type createRequest struct {
	To, From, MessagingServiceSID, Body, ContentSID, StatusCallback string
	MediaURLs                                                       []string
	ValidityPeriod                                                  int // seconds
	SendAt                                                          *time.Time
}

const (
	maxBodyChars      = 1600
	maxMedia          = 10
	maxValidityPeriod = 36000
	minScheduleAhead  = 300 * time.Second
	maxScheduleAhead  = 35 * 24 * time.Hour
)

// parseCreate validates a create request as Twilio does, magic numbers included. now is the
// simulator's clock, for SendAt.
func (s *Simulator) parseCreate(form url.Values, now time.Time) (*createRequest, *apiError) {
	r := &createRequest{
		To:                  strings.TrimSpace(form.Get("To")),
		From:                strings.TrimSpace(form.Get("From")),
		MessagingServiceSID: strings.TrimSpace(form.Get("MessagingServiceSid")),
		Body:                form.Get("Body"),
		ContentSID:          strings.TrimSpace(form.Get("ContentSid")),
		StatusCallback:      strings.TrimSpace(form.Get("StatusCallback")),
		ValidityPeriod:      maxValidityPeriod,
	}
	for _, m := range form["MediaUrl"] {
		if m = strings.TrimSpace(m); m != "" {
			r.MediaURLs = append(r.MediaURLs, m)
		}
	}

	if r.To == "" {
		return nil, errorf(400, 21604, "A 'To' phone number is required.")
	}
	if r.From == "" && r.MessagingServiceSID == "" {
		return nil, errorf(400, 21603, "A 'From' phone number is required.")
	}
	if r.Body == "" && len(r.MediaURLs) == 0 && r.ContentSID == "" {
		return nil, errorf(400, 21602, "Message body is required.")
	}
	if utf8.RuneCountInString(r.Body) > maxBodyChars {
		return nil, errorf(400, 21617, "The concatenated message body exceeds the %d character limit.", maxBodyChars)
	}
	if len(r.MediaURLs) > maxMedia {
		return nil, errorf(400, 21623, "Number of media files exceeds allowed limit of %d", maxMedia)
	}
	for _, m := range r.MediaURLs {
		if !validCallbackURL(m) {
			return nil, errorf(400, 21620, "Invalid media URL(s)")
		}
	}
	if r.ContentSID != "" && !isSID(r.ContentSID, "HX", false) {
		return nil, errorf(400, 21655, "The ContentSid is Invalid")
	}
	if r.MessagingServiceSID != "" {
		// Twilio's error catalogue: 21705 "The Messaging Service is invalid" (not an MG SID),
		// 21701 "The Messaging Service does not exist" (services.go).
		if !isSID(r.MessagingServiceSID, "MG", true) {
			return nil, errorf(400, 21705, "The Messaging Service Sid %s is invalid.", r.MessagingServiceSID)
		}
		exists, hasNumbers, cb := s.serviceInfo(r.MessagingServiceSID)
		if !exists {
			return nil, errorf(400, 21701, "The Messaging Service %s does not exist", r.MessagingServiceSID)
		}
		if !hasNumbers && r.From == "" {
			return nil, errorf(400, 21704, "The Messaging Service contains no phone numbers")
		}
		if r.StatusCallback == "" {
			r.StatusCallback = cb // the service's status callback serves messages that set none
		}
	}
	if r.StatusCallback != "" && !validCallbackURL(r.StatusCallback) {
		return nil, errorf(400, 21609, "The StatusCallback URL %s is not a valid URL.", r.StatusCallback)
	}
	if v := form.Get("ValidityPeriod"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > maxValidityPeriod {
			return nil, errorf(400, 90007, "Invalid validity period value: %q; must be an integer between 1 and %d", v, maxValidityPeriod)
		}
		r.ValidityPeriod = n
	}

	toChan, to := splitChannel(r.To)
	if !isE164(to) {
		return nil, toError(21211, r.To, r.From)
	}

	if r.From != "" {
		fromChan, from := splitChannel(r.From)
		if code, ok := magicFromErrors[from]; ok {
			return nil, fromError(code, r.From)
		}
		if !isE164(from) && !isAlphanumericSender(from) && !isShortCode(from) {
			return nil, fromError(21212, r.From)
		}
		if !s.owned(from) {
			return nil, fromError(21606, r.From)
		}
		if fromChan != toChan {
			return nil, errorf(400, 21910, "Invalid From and To pair. From and To should be of the same channel")
		}
		if from == to {
			return nil, errorf(400, 21266, "'To' and 'From' number cannot be the same: %s", r.To)
		}
	}
	if s.blockedSend(r.From, r.MessagingServiceSID, r.To) {
		// The recipient texted STOP to this number or to a number of this service (optout.go).
		return nil, toError(21610, r.To, r.From)
	}
	if code, ok := magicToErrors[to]; ok {
		from := r.From
		if from == "" {
			from = r.MessagingServiceSID
		}
		return nil, toError(code, r.To, from)
	}

	st, sendAt := form.Get("ScheduleType"), form.Get("SendAt")
	if st != "" || sendAt != "" {
		if st != "fixed" {
			return nil, invalidParam("ScheduleType", st)
		}
		if r.MessagingServiceSID == "" {
			return nil, errorf(400, 35111, "MessagingServiceSid is required to schedule a message")
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(sendAt))
		if err != nil {
			return nil, errorf(400, 35114, "Scheduling does not support this timestamp format: %q; use ISO 8601", sendAt)
		}
		if d := t.Sub(now); d < minScheduleAhead || d > maxScheduleAhead {
			return nil, errorf(400, 35115, "SendAt time must be between 300 seconds and 35 days (3024000 seconds) in the future")
		}
		r.SendAt = &t
	}
	return r, nil
}

// isAlphanumericSender reports whether s looks like an alphanumeric sender ID (1-11 characters,
// letters, digits and spaces, at least one letter). Such a From is well-formed but not owned.
func isAlphanumericSender(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == ' ':
		default:
			return false
		}
	}
	return letter
}
