package twilio

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

var received = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestParseStatusCallback(t *testing.T) {
	t.Parallel()
	form := url.Values{
		"MessageSid": {testSID}, "SmsSid": {testSID}, "MessageStatus": {"undelivered"},
		"SmsStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {testAccount},
		"From": {testFrom}, "To": {testTo}, "ApiVersion": {"2010-04-01"},
		"Extra": {"b", "a"},
	}
	cb, err := ParseStatusCallback(form, received)
	if err != nil {
		t.Fatalf("ParseStatusCallback: %v", err)
	}
	if cb.ProviderSID != testSID || cb.ProviderStatus != "undelivered" || cb.Status != switchboard.StatusUndelivered ||
		cb.ErrorCode != 30003 || !cb.ReceivedAt.Equal(received) || cb.MessageID != "" {
		t.Errorf("got %+v", cb)
	}
	if cb.ErrorMessage != LookupCode(30003).Describe() {
		t.Errorf("ErrorMessage = %q, want the code table's explanation", cb.ErrorMessage)
	}
	var payload map[string]any
	if err := json.Unmarshal(cb.Payload, &payload); err != nil {
		t.Fatalf("payload %s: %v", cb.Payload, err)
	}
	if payload["MessageSid"] != testSID || payload["ErrorCode"] != "30003" {
		t.Errorf("payload = %v", payload)
	}
	if extra, _ := payload["Extra"].([]any); len(extra) != 2 || extra[0] != "b" || extra[1] != "a" {
		t.Errorf("repeated key Extra = %v, want [b a]", payload["Extra"])
	}
	if len(payload) != len(form) {
		t.Errorf("payload has %d keys, want all %d", len(payload), len(form))
	}

	// The legacy Sms* names alone are enough; no ErrorCode means no error.
	cb, err = ParseStatusCallback(url.Values{"SmsSid": {testSID}, "SmsStatus": {"delivered"}}, received)
	if err != nil || cb.Status != switchboard.StatusDelivered || cb.ErrorCode != 0 || cb.ErrorMessage != "" {
		t.Errorf("legacy callback: %+v, %v", cb, err)
	}
}

func TestParseStatusCallbackErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		form url.Values
		code string
	}{
		{"empty", url.Values{}, "invalid_callback"},
		{"no status", url.Values{"MessageSid": {testSID}}, "invalid_callback"},
		{"no sid", url.Values{"MessageStatus": {"sent"}}, "invalid_callback"},
		{"bad error code", url.Values{"MessageSid": {testSID}, "MessageStatus": {"failed"}, "ErrorCode": {"abc"}}, "invalid_callback"},
		{"negative error code", url.Values{"MessageSid": {testSID}, "MessageStatus": {"failed"}, "ErrorCode": {"-1"}}, "invalid_callback"},
		{"unknown status", url.Values{"MessageSid": {testSID}, "MessageStatus": {"teleported"}}, "unknown_status"},
		{"inbound status", url.Values{"MessageSid": {testSID}, "MessageStatus": {"received"}}, "unknown_status"},
	} {
		_, err := ParseStatusCallback(tc.form, received)
		if !switchboard.IsKind(err, switchboard.EINVALID) || switchboard.ErrorCodeOf(err) != tc.code {
			t.Errorf("%s: err = %v, want EINVALID %s", tc.name, err, tc.code)
		}
	}
}

func TestParseInbound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		form    url.Values
		channel switchboard.Channel
		from    string
		to      string
		media   []string
	}{
		{
			name:    "sms",
			form:    url.Values{"MessageSid": {testSID}, "From": {testTo}, "To": {testFrom}, "Body": {"STOP"}, "NumMedia": {"0"}},
			channel: switchboard.ChannelSMS, from: testTo, to: testFrom,
		},
		{
			name: "mms",
			form: url.Values{"SmsMessageSid": {"MM0123"}, "From": {testTo}, "To": {testFrom}, "NumMedia": {"2"},
				"MediaUrl0": {"https://api.twilio.com/m0"}, "MediaUrl1": {"https://api.twilio.com/m1"},
				"MediaContentType0": {"image/jpeg"}},
			channel: switchboard.ChannelMMS, from: testTo, to: testFrom,
			media: []string{"https://api.twilio.com/m0", "https://api.twilio.com/m1"},
		},
		{
			name:    "whatsapp",
			form:    url.Values{"MessageSid": {testSID}, "From": {"whatsapp:" + testTo}, "To": {"whatsapp:" + testFrom}, "Body": {"hi"}},
			channel: switchboard.ChannelWhatsApp, from: testTo, to: testFrom,
		},
		{
			name: "NumMedia larger than the URLs sent",
			form: url.Values{"MessageSid": {testSID}, "From": {testTo}, "To": {testFrom}, "NumMedia": {"1000000000"},
				"MediaUrl0": {"https://api.twilio.com/m0"}},
			channel: switchboard.ChannelMMS, from: testTo, to: testFrom,
			media: []string{"https://api.twilio.com/m0"},
		},
	} {
		m, err := ParseInbound(tc.form, received)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if m.Channel != tc.channel || m.From != tc.from || m.To != tc.to || !slices.Equal(m.MediaURLs, tc.media) ||
			m.ProviderSID == "" || m.Body != tc.form.Get("Body") || !m.ReceivedAt.Equal(received) || !json.Valid(m.Payload) {
			t.Errorf("%s: got %+v", tc.name, m)
		}
	}

	for name, form := range map[string]url.Values{
		"no sid":       {"From": {testTo}, "To": {testFrom}},
		"no from":      {"MessageSid": {testSID}, "To": {testFrom}},
		"no to":        {"MessageSid": {testSID}, "From": {testTo}},
		"bad NumMedia": {"MessageSid": {testSID}, "From": {testTo}, "To": {testFrom}, "NumMedia": {"two"}},
		"neg NumMedia": {"MessageSid": {testSID}, "From": {testTo}, "To": {testFrom}, "NumMedia": {"-1"}},
	} {
		_, err := ParseInbound(form, received)
		if !switchboard.IsKind(err, switchboard.EINVALID) || switchboard.ErrorCodeOf(err) != "invalid_inbound" {
			t.Errorf("%s: err = %v, want EINVALID invalid_inbound", name, err)
		}
	}
}

// checkParseError: a parser of untrusted input fails only with a clear application error.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	var se *switchboard.Error
	if !errors.As(err, &se) || se.Kind != switchboard.EINVALID || se.Code == "" || se.Message == "" {
		t.Fatalf("error %T %v, want an EINVALID *switchboard.Error", err, err)
	}
}

// checkPayload: the payload is a JSON object with one key per distinct form key (after the
// U+FFFD replacement of invalid UTF-8) and every value of the form.
func checkPayload(t *testing.T, payload json.RawMessage, form url.Values) {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(payload, &obj); err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	want := map[string]int{}
	for k, vs := range form {
		want[switchboard.SafeText(k)] += len(vs)
	}
	if _, changed := switchboard.SafeForm(form); changed {
		// Text that no store keeps was replaced; the exact bytes are kept percent-encoded.
		if raw, _ := obj[RawFormKey].(string); raw != form.Encode() {
			t.Fatalf("payload %q: raw form %q, want %q", payload, raw, form.Encode())
		}
		delete(obj, RawFormKey)
	}
	if strings.Contains(string(payload), `\u0000`) || !utf8.Valid(payload) {
		t.Fatalf("payload %q holds text a store refuses", payload)
	}
	if len(obj) != len(want) {
		t.Fatalf("payload %q has %d keys, want %d", payload, len(obj), len(want))
	}
	for k, n := range want {
		switch v := obj[k].(type) {
		case string:
			if n > 1 {
				t.Fatalf("payload key %q: one value, want %d", k, n)
			}
		case []any:
			if len(v) != n {
				t.Fatalf("payload key %q: %d values, want %d", k, len(v), n)
			}
		default:
			t.Fatalf("payload key %q: %T", k, v)
		}
	}
}

func FuzzParseStatusCallback(f *testing.F) {
	f.Add("MessageSid=SM1&MessageStatus=delivered")
	f.Add("SmsSid=SM1&SmsStatus=failed&ErrorCode=30007&To=%2B14155550123")
	f.Add("MessageSid=SM1&MessageStatus=sent&ErrorCode=99999999999999999999")
	f.Add("MessageSid=SM1&MessageStatus=received&A=1&A=2")
	f.Add("MessageSid=%ff%fe&MessageStatus=read&ErrorCode=0")
	f.Add("MessageSid=SM1&MessageStatus=sent&To=%2B1%00&%00=x")
	f.Fuzz(func(t *testing.T, query string) {
		form, _ := url.ParseQuery(query) // a malformed pair is dropped, the rest kept, as net/http does
		cb, err := ParseStatusCallback(form, received)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if cb.ProviderSID == "" || cb.ProviderStatus == "" || !cb.Status.Valid() || cb.ErrorCode < 0 {
			t.Fatalf("invalid callback %+v", cb)
		}
		if cb.ErrorCode != 0 && cb.ErrorMessage == "" {
			t.Fatalf("error code %d without an explanation", cb.ErrorCode)
		}
		checkPayload(t, cb.Payload, form)
	})
}

func FuzzParseInbound(f *testing.F) {
	f.Add("MessageSid=SM1&From=%2B14155550123&To=%2B15005550006&Body=STOP")
	f.Add("SmsMessageSid=MM1&From=whatsapp%3A%2B1&To=whatsapp%3A%2B2&NumMedia=2&MediaUrl0=a&MediaUrl1=b")
	f.Add("MessageSid=SM1&From=a&To=b&NumMedia=9223372036854775807")
	f.Add("MessageSid=SM1&From=a&To=b&NumMedia=-3")
	f.Add("MessageSid=SM1&From=%2B14155550123&To=%2B15005550006&Body=ST%00OP%ff")
	f.Fuzz(func(t *testing.T, query string) {
		form, _ := url.ParseQuery(query)
		m, err := ParseInbound(form, received)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if m.ProviderSID == "" || !m.Channel.Valid() || m.NumMedia < 0 || len(m.MediaURLs) > m.NumMedia ||
			len(m.MediaURLs) > len(form) {
			t.Fatalf("invalid inbound message %+v", m)
		}
		for _, txt := range append([]string{m.ProviderSID, m.From, m.To, m.Body}, append(m.MediaURLs, m.MediaContentTypes...)...) {
			if switchboard.TextProblem(txt) != "" {
				t.Fatalf("unstorable text %q in %+v", txt, m)
			}
		}
		checkPayload(t, m.Payload, form)
	})
}
