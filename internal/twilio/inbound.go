package twilio

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// whatsappPrefix marks a WhatsApp address in Twilio's From and To fields.
const whatsappPrefix = "whatsapp:"

// ParseStatusCallback normalizes the form of a Twilio message status callback. The signature must
// have been checked before. MessageID is left empty: it comes from the callback URL, which the
// webhook ingress owns.
//
// A callback without a SID or status, or with a non-numeric ErrorCode, is an EINVALID error with
// code "invalid_callback"; a status Switchboard does not know (or an inbound status) is EINVALID
// "unknown_status".
func ParseStatusCallback(form url.Values, receivedAt time.Time) (*switchboard.Callback, error) {
	raw := form
	form, _ = switchboard.SafeForm(form)
	sid := first(form, "MessageSid", "SmsSid")
	status := first(form, "MessageStatus", "SmsStatus")
	if sid == "" || status == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_callback",
			"status callback without MessageSid and MessageStatus")
	}
	cb := &switchboard.Callback{
		ProviderSID:    sid,
		ProviderStatus: status,
		ReceivedAt:     receivedAt,
	}
	if v := form.Get("ErrorCode"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil || code < 0 {
			return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_callback",
				"status callback with a non-numeric ErrorCode")
		}
		cb.ErrorCode = code
		if code != 0 {
			cb.ErrorMessage = LookupCode(code).Describe()
		}
	}
	mapped, ok := MapStatus(status)
	if !ok {
		return nil, switchboard.Errorf(switchboard.EINVALID, "unknown_status",
			"status callback with unknown message status %q", truncate(status, 40))
	}
	cb.Status = mapped
	payload, err := FormJSON(raw)
	if err != nil {
		return nil, err
	}
	cb.Payload = payload
	return cb, nil
}

// ParseInbound normalizes the form of a Twilio inbound message webhook (a person texting one of our
// numbers). The signature must have been checked before.
//
// From and To are returned without the "whatsapp:" prefix, so they are plain numbers whatever the
// channel; Channel is whatsapp when the prefix was there, mms when media came with the message and
// sms otherwise. The raw form, prefix included, is kept in Payload. A form without a SID, From or
// To, or with a bad NumMedia, is an EINVALID error with code "invalid_inbound".
func ParseInbound(form url.Values, receivedAt time.Time) (*switchboard.InboundMessage, error) {
	raw := form
	form, _ = switchboard.SafeForm(form)
	sid := first(form, "MessageSid", "SmsMessageSid", "SmsSid")
	from, to := form.Get("From"), form.Get("To")
	if sid == "" || from == "" || to == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_inbound",
			"inbound message without MessageSid, From and To")
	}
	numMedia := 0
	if v := form.Get("NumMedia"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_inbound",
				"inbound message with a bad NumMedia")
		}
		numMedia = n
	}
	m := &switchboard.InboundMessage{
		ProviderSID: sid,
		Channel:     switchboard.ChannelSMS,
		From:        from,
		To:          to,
		Body:        form.Get("Body"),
		NumMedia:    numMedia,
		ReceivedAt:  receivedAt,
	}
	if strings.HasPrefix(from, whatsappPrefix) {
		m.Channel = switchboard.ChannelWhatsApp
		m.From = strings.TrimPrefix(from, whatsappPrefix)
		m.To = strings.TrimPrefix(to, whatsappPrefix)
	} else if numMedia > 0 {
		m.Channel = switchboard.ChannelMMS
	}
	// There cannot be more media URLs than form keys: this bounds the loop whatever NumMedia claims.
	for i := 0; i < numMedia && i < len(form); i++ {
		if u := form.Get("MediaUrl" + strconv.Itoa(i)); u != "" {
			m.MediaURLs = append(m.MediaURLs, u)
			m.MediaContentTypes = append(m.MediaContentTypes, form.Get("MediaContentType"+strconv.Itoa(i)))
		}
	}
	payload, err := FormJSON(raw)
	if err != nil {
		return nil, err
	}
	m.Payload = payload
	return m, nil
}

// RawFormKey is the payload key that keeps a webhook form's exact bytes, percent-encoded, when
// some of its text was not storable (invalid UTF-8 or NUL) and was replaced by U+FFFD.
const RawFormKey = "_raw_form"

// FormJSON encodes a webhook form as a JSON object for a timeline: each key maps to its value, or
// to an array of values when the key is repeated. Keys come out sorted. Invalid UTF-8 and NUL are
// replaced by U+FFFD (switchboard.SafeText), so that both engines store the payload (PostgreSQL
// refuses both); keys that become equal that way are merged, so the object never has duplicate
// keys, and the form's exact bytes are then kept, percent-encoded, under RawFormKey.
func FormJSON(form url.Values) (json.RawMessage, error) {
	safe, changed := switchboard.SafeForm(form)
	keys := slices.Sorted(maps.Keys(safe))
	obj := make(map[string]any, len(safe)+1)
	for _, k := range keys {
		switch vs := safe[k]; len(vs) {
		case 0:
			obj[k] = ""
		case 1:
			obj[k] = vs[0]
		default:
			obj[k] = vs
		}
	}
	if changed {
		obj[RawFormKey] = form.Encode()
	}
	b, err := json.Marshal(obj)
	if err != nil {
		// Cannot happen for strings, but never lose the reason.
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_form", "cannot encode form: %v", err)
	}
	return b, nil
}

// first returns the first non-empty value among keys.
func first(form url.Values, keys ...string) string {
	for _, k := range keys {
		if v := form.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// truncate shortens untrusted input echoed in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
