package web

import (
	"bytes"
	"encoding/json"
	"regexp"

	"github.com/switchboard-gw/switchboard/internal/content"
)

// phoneLike matches a string value that is a phone number, optionally behind a channel prefix
// such as "whatsapp:".
var phoneLike = regexp.MustCompile(`^([a-z]{1,16}:)?\+?[0-9][0-9 ().-]{5,24}$`)

// maskPayload returns a raw provider payload for display: indented JSON with every phone number
// masked, wherever it appears. A payload that is not JSON is shown as a note, never raw (it could
// hold anything).
func maskPayload(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "(payload is not JSON; not shown)"
	}
	out, err := json.MarshalIndent(maskValue(v), "", "  ")
	if err != nil {
		return "(payload could not be shown)"
	}
	return string(out)
}

func maskValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = maskValue(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = maskValue(e)
		}
		return t
	case string:
		if phoneLike.MatchString(t) {
			return content.MaskPhone(t)
		}
		return t
	}
	return v
}
