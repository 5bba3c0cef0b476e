package dispatch

import (
	"encoding/json"

	switchboard "github.com/switchboard-gw/switchboard"
)

// redactedOTP replaces the body of a one-time-code message in provider payloads.
const redactedOTP = "[redacted: one-time code]"

// payloadOf returns the provider payload to keep on m's timeline. The provider echoes the body in
// its answers; for a one-time code (category otp) that body holds the code, which must live
// nowhere but the message itself, so it is replaced in the stored payload. Other payloads are
// kept as they are.
func payloadOf(m *switchboard.Message, raw json.RawMessage) json.RawMessage {
	if m == nil || m.Category != switchboard.CategoryOTP || len(raw) == 0 {
		return raw
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil // not an object we can redact: keep nothing rather than the code
	}
	for _, k := range []string{"body", "Body"} {
		if _, ok := obj[k]; ok {
			obj[k], _ = json.Marshal(redactedOTP)
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil
	}
	return out
}
