package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// pageSize is the number of messages on a page of the messages list.
const pageSize = 50

// searchForm is the messages search as the form holds it (echoed back into the form).
type searchForm struct {
	Q      string // a message ID, a provider SID, a full number or the visible end of a masked one, or KEY=VALUE of metadata
	Status string
	Code   string
	Sender string
	From   string // a date, YYYY-MM-DD, inclusive (UTC)
	Until  string // a date, YYYY-MM-DD, inclusive (UTC)
	Cursor string
}

// search is a parsed searchForm: either one message to look up, or a listing.
type search struct {
	Form        searchForm
	MessageID   string
	ProviderSID string
	Query       switchboard.MessageSearch
}

// maxField bounds each search field: nothing legitimate is longer.
const maxField = 64

// maxMetadataQuery bounds a KEY=VALUE search: a metadata key is at most 64 bytes and a value at
// most 512 (the API's limits on a message's metadata).
const maxMetadataQuery = 64 + 1 + 512

// parseSearch reads a search from a query string. Bad input gets an EINVALID error that says
// which field is wrong.
func parseSearch(v url.Values) (*search, error) {
	f := searchForm{
		Q: strings.TrimSpace(v.Get("q")), Status: v.Get("status"), Code: strings.TrimSpace(v.Get("code")),
		Sender: strings.TrimSpace(v.Get("sender")), From: v.Get("from"), Until: v.Get("until"), Cursor: v.Get("cursor"),
	}
	s := &search{Form: f, Query: switchboard.MessageSearch{MessageFilter: switchboard.MessageFilter{Limit: pageSize}}}
	for _, field := range []string{f.Status, f.Code, f.Sender, f.From, f.Until, f.Cursor} {
		if len(field) > maxField {
			return s, invalid("A search field is longer than %d characters.", maxField)
		}
	}
	if len(f.Q) > maxField && (!strings.Contains(f.Q, "=") || len(f.Q) > maxMetadataQuery) {
		return s, invalid("A search field is longer than %d characters.", maxField)
	}
	switch q := f.Q; {
	case q == "":
	case strings.Contains(q, "="):
		// Metadata, as applications write it: job_id=1042 (the key ends at the first "=").
		k, v, _ := strings.Cut(q, "=")
		if k = strings.TrimSpace(k); k == "" || len(k) > 64 || len(v) > 512 {
			return s, invalid("Search metadata as KEY=VALUE, such as job_id=1042 (a key of 1 to 64 characters).")
		}
		s.Query.Metadata = &switchboard.MetadataMatch{Key: k, Value: strings.TrimSpace(v)}
	case strings.HasPrefix(q, "msg_") && isIDText(q):
		s.MessageID = q
	case isSID(q):
		s.ProviderSID = q
	default:
		if err := s.parseNumber(q); err != nil {
			return s, err
		}
	}
	if f.Status != "" {
		st := switchboard.Status(f.Status)
		if !st.Valid() {
			return s, invalid("Status %q is not a message status.", f.Status)
		}
		s.Query.Statuses = []switchboard.Status{st}
	}
	if f.Code != "" {
		n, err := strconv.Atoi(f.Code)
		if err != nil || n <= 0 || n > 99999 {
			return s, invalid("The error code must be a number such as 30003.")
		}
		s.Query.ErrorCode = n
	}
	if f.Sender != "" {
		if !isIDText(strings.TrimPrefix(f.Sender, "+")) {
			return s, invalid("The sender must be a number such as +15005550006 or a Messaging Service SID.")
		}
		s.Query.From = f.Sender
	}
	var from, until time.Time
	for _, d := range []struct {
		v   string
		dst *time.Time
	}{{f.From, &from}, {f.Until, &until}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.v)
		if err != nil {
			return s, invalid("Dates must be written as YYYY-MM-DD.")
		}
		*d.dst = t
	}
	if !from.IsZero() {
		s.Query.CreatedAfter = &from
	}
	if !until.IsZero() {
		end := until.AddDate(0, 0, 1) // the until date is inclusive
		s.Query.CreatedBefore = &end
	}
	if !from.IsZero() && !until.IsZero() && until.Before(from) {
		return s, invalid("The date range ends before it starts.")
	}
	if f.Cursor != "" {
		if !strings.HasPrefix(f.Cursor, "msg_") || !isIDText(f.Cursor) {
			return s, invalid("The page cursor is not valid; start from the first page.")
		}
		s.Query.Cursor = f.Cursor
	}
	return s, nil
}

// parseNumber reads a recipient: a full number (exact match), or the digits at the end of a
// number, as a masked number shows them (+1415*****00 searches for numbers ending in 00).
func (s *search) parseNumber(q string) error {
	if i := strings.LastIndexByte(q, '*'); i >= 0 {
		q = q[i+1:]
	}
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '+':
			return -1
		}
		return 'x'
	}, q)
	if strings.ContainsRune(digits, 'x') || digits == "" {
		return invalid("Search for a message ID (msg_…), a provider SID (SM…), a phone number or its last digits.")
	}
	if strings.HasPrefix(strings.TrimSpace(q), "+") && len(digits) >= 8 {
		n, err := content.NormalizePhone(q)
		if err != nil {
			return invalid("%q is not a valid phone number in E.164 form.", q)
		}
		s.Query.To = n
		return nil
	}
	if len(digits) < 2 || len(digits) > 15 {
		return invalid("Give at least the last 2 digits of the number, or the whole number with its + and country code.")
	}
	s.Query.ToSuffix = digits
	return nil
}

// isIDText reports whether s is made of ASCII letters, digits and underscores only.
func isIDText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isSID reports whether s is a Twilio message SID: SM or MM and 32 lower-case hex digits.
func isSID(s string) bool {
	if len(s) != 34 || (s[:2] != "SM" && s[:2] != "MM") {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// values is the form as a query string, optionally with a cursor.
func (f searchForm) values(cursor string) url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"q", f.Q}, {"status", f.Status}, {"code", f.Code}, {"sender", f.Sender}, {"from", f.From}, {"until", f.Until}, {"cursor", cursor}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

func invalid(format string, args ...any) error {
	return switchboard.Errorf(switchboard.EINVALID, "invalid_search", format, args...)
}
