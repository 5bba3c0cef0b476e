// Package export writes audit exports: who was contacted, when, from which sender, with which
// template, the outcome, and the consent state that allowed it; and the consent registry itself.
// Formats are CSV (with a header) and JSON Lines.
package export

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Formats.
const (
	CSV   = "csv"
	JSONL = "jsonl"
)

// MessageRow is one exported message.
type MessageRow struct {
	ID              string    `json:"id"`
	CreatedAt       time.Time `json:"created_at"`
	To              string    `json:"to"`
	From            string    `json:"from"`
	Pool            string    `json:"pool"`
	Channel         string    `json:"channel"`
	Category        string    `json:"category"`
	Template        string    `json:"template"`
	TemplateVersion int       `json:"template_version"`
	Status          string    `json:"status"`
	ErrorCode       int       `json:"error_code"`
	ProviderSID     string    `json:"provider_sid"`
	APIKeyID        string    `json:"api_key_id"`
	// Consent is the recipient's consent when the message was accepted: opted_in, opted_out,
	// cleared or none (no record: allowed for categories that need no opt-in).
	Consent         string `json:"consent"`
	ConsentSource   string `json:"consent_source"`
	ConsentEvidence string `json:"consent_evidence"`
}

var messageHeader = []string{"id", "created_at", "to", "from", "pool", "channel", "category", "template",
	"template_version", "status", "error_code", "provider_sid", "api_key_id", "consent", "consent_source", "consent_evidence"}

func (r *MessageRow) csv() []string {
	return []string{r.ID, r.CreatedAt.Format(time.RFC3339Nano), r.To, r.From, r.Pool, r.Channel, r.Category, r.Template,
		strconv.Itoa(r.TemplateVersion), r.Status, strconv.Itoa(r.ErrorCode), r.ProviderSID, r.APIKeyID,
		r.Consent, r.ConsentSource, r.ConsentEvidence}
}

// writer writes rows in one format.
type writer struct {
	format string
	c      *csv.Writer
	j      *json.Encoder
}

func newWriter(w io.Writer, format string, header []string) (*writer, error) {
	switch format {
	case CSV:
		c := csv.NewWriter(w)
		return &writer{format: format, c: c}, c.Write(header)
	case JSONL:
		return &writer{format: format, j: json.NewEncoder(w)}, nil
	}
	return nil, fmt.Errorf("format %q must be csv or jsonl", format)
}

func (w *writer) row(v any, fields []string) error {
	if w.format == CSV {
		for i, f := range fields {
			fields[i] = SafeCell(f)
		}
		return w.c.Write(fields)
	}
	return w.j.Encode(v)
}

// SafeCell neutralises a CSV cell that a spreadsheet would run as a formula (OWASP's rule for
// CSV injection): a cell starting with =, +, -, @, a tab or a carriage return gets a leading
// single quote, which spreadsheets show as text. A plain number (such as an E.164 phone number,
// +14155550100, or -5) is left as it is: it runs nothing, and stays machine-readable.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if plainNumber(s) {
			return s
		}
		return "'" + s
	}
	return s
}

// plainNumber reports whether s is an optional sign, digits and at most one decimal point.
func plainNumber(s string) bool {
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func (w *writer) flush() error {
	if w.c != nil {
		w.c.Flush()
		return w.c.Error()
	}
	return nil
}

// Messages writes the messages created in [since, until), newest first, each with the consent
// state in force when it was accepted.
func Messages(ctx context.Context, st Store, out io.Writer, since, until time.Time, format string) (int, error) {
	f := switchboard.MessageFilter{Limit: 500}
	if !since.IsZero() {
		f.CreatedAfter = &since
	}
	if !until.IsZero() {
		f.CreatedBefore = &until
	}
	return MessagesFrom(ctx, st, out, format, func(ctx context.Context, cursor string) ([]*switchboard.Message, string, error) {
		f.Cursor = cursor
		return st.ListMessages(ctx, f)
	})
}

// MessagePages returns the page of messages after cursor ("" for the first) and the cursor of the
// next page ("" after the last).
type MessagePages func(ctx context.Context, cursor string) (msgs []*switchboard.Message, next string, err error)

// MessagesFrom writes the messages pages yields, in its order, each with the consent state in
// force when it was accepted: the export of any listing (the dashboard exports its search).
func MessagesFrom(ctx context.Context, st Store, out io.Writer, format string, pages MessagePages) (int, error) {
	w, err := newWriter(out, format, messageHeader)
	if err != nil {
		return 0, err
	}
	histories := map[string][]*switchboard.ConsentRecord{}
	n := 0
	cursor := ""
	for {
		msgs, next, err := pages(ctx, cursor)
		if err != nil {
			return n, err
		}
		for _, m := range msgs {
			hist, ok := histories[m.To]
			if !ok {
				if hist, err = st.ConsentHistory(ctx, m.To); err != nil {
					return n, err
				}
				if len(histories) > 10000 {
					clear(histories)
				}
				histories[m.To] = hist
			}
			r := &MessageRow{ID: m.ID, CreatedAt: m.CreatedAt, To: m.To, From: m.From, Pool: m.Pool, Channel: string(m.Channel),
				Category: string(m.Category), Template: m.Template, TemplateVersion: m.TemplateVersion, Status: string(m.Status),
				ErrorCode: m.ErrorCode, ProviderSID: m.ProviderSID, APIKeyID: m.APIKeyID, Consent: "none"}
			if c := consentAt(hist, m.Pool, m.CreatedAt); c != nil {
				r.Consent, r.ConsentSource, r.ConsentEvidence = string(c.State), string(c.Source), c.Evidence
			}
			if err := w.row(r, r.csv()); err != nil {
				return n, err
			}
			n++
		}
		if next == "" {
			return n, w.flush()
		}
		cursor = next
	}
}

// consentAt is the latest record for pool or every pool at or before t.
func consentAt(hist []*switchboard.ConsentRecord, pool string, t time.Time) *switchboard.ConsentRecord {
	var found *switchboard.ConsentRecord
	for _, c := range hist { // oldest first
		if c.At.After(t) {
			break
		}
		if c.Scope == switchboard.ScopeAll || c.Scope == pool {
			found = c
		}
	}
	return found
}

var consentHeader = []string{"id", "at", "phone", "scope", "state", "source", "evidence", "actor"}

// Consent writes the consent records made in [since, until), oldest first.
func Consent(ctx context.Context, st Store, out io.Writer, since, until time.Time, format string) (int, error) {
	w, err := newWriter(out, format, consentHeader)
	if err != nil {
		return 0, err
	}
	var after int64
	n := 0
	for {
		recs, err := st.ListConsent(ctx, since, until, after, 1000)
		if err != nil {
			return n, err
		}
		for _, c := range recs {
			if err := w.row(c, []string{strconv.FormatInt(c.ID, 10), c.At.Format(time.RFC3339Nano), c.Phone, c.Scope,
				string(c.State), string(c.Source), c.Evidence, c.Actor}); err != nil {
				return n, err
			}
			after = c.ID
			n++
		}
		if len(recs) < 1000 {
			return n, w.flush()
		}
	}
}
