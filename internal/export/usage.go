package export

import (
	"io"
	"strconv"

	switchboard "github.com/switchboard-gw/switchboard"
)

// UsageHeader is the header of a usage export.
var UsageHeader = []string{"day", "tenant", "messages", "segments", "calls", "verifications", "spend", "price_unit", "spend_micros"}

// UsageRow is one tenant's day as exported (JSON Lines) and answered by GET /v1/usage.
type UsageRow struct {
	Day           string `json:"day"`
	Tenant        string `json:"tenant"`
	Messages      int64  `json:"messages"`
	Segments      int64  `json:"segments"`
	Calls         int64  `json:"calls"`
	Verifications int64  `json:"verifications"`
	// Spend is the provider's charges for the day's messages, a decimal amount of PriceUnit.
	Spend       string `json:"spend"`
	PriceUnit   string `json:"price_unit"`
	SpendMicros int64  `json:"spend_micros"`
}

// NewUsageRow is the exported form of u.
func NewUsageRow(u *switchboard.Usage) UsageRow {
	return UsageRow{Day: u.Day, Tenant: u.Tenant, Messages: u.Messages, Segments: u.Segments, Calls: u.Calls,
		Verifications: u.Verifications, Spend: u.Spend(), PriceUnit: u.PriceUnit, SpendMicros: u.SpendMicros}
}

// Usage writes usage rows in format (CSV or JSONL) and returns how many it wrote.
func Usage(out io.Writer, rows []*switchboard.Usage, format string) (int, error) {
	w, err := newWriter(out, format, UsageHeader)
	if err != nil {
		return 0, err
	}
	for i, u := range rows {
		r := NewUsageRow(u)
		if err := w.row(r, []string{r.Day, r.Tenant, strconv.FormatInt(r.Messages, 10), strconv.FormatInt(r.Segments, 10),
			strconv.FormatInt(r.Calls, 10), strconv.FormatInt(r.Verifications, 10), r.Spend, r.PriceUnit,
			strconv.FormatInt(r.SpendMicros, 10)}); err != nil {
			return i, err
		}
	}
	return len(rows), w.flush()
}
