package switchboard_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestParsePrice(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text, unit string
		micros     int64
		code       string // "" ok; "nil" no price
	}{
		{"-0.00790", "USD", 7900, ""},
		{"-0.0079", "USD", 7900, ""},
		{"0.02", "EUR", 20000, ""},
		{"-1.5", "USD", 1500000, ""},
		{"-0.0000005", "USD", 1, ""}, // rounded half up
		{"-0.0000004", "USD", 0, ""},
		{"3", "USD", 3000000, ""},
		{".5", "USD", 500000, ""},
		{"", "USD", 0, "nil"},
		{"null", "USD", 0, "nil"},
		{"-0.0079", "usd", 0, "invalid_price"},
		{"-0.0079", "", 0, "invalid_price"},
		{"abc", "USD", 0, "invalid_price"},
		{".", "USD", 0, "invalid_price"},
		{"1e3", "USD", 0, "invalid_price"},
		{"--1", "USD", 0, "invalid_price"},
		{"12345678", "USD", 0, "invalid_price"},
		{"0x10", "USD", 0, "invalid_price"},
		{"1.2.3", "USD", 0, "invalid_price"},
	} {
		p, err := switchboard.ParsePrice(c.text, c.unit)
		switch c.code {
		case "":
			if err != nil || p == nil || p.Micros != c.micros || p.Text != c.text || p.Unit != c.unit {
				t.Errorf("ParsePrice(%q, %q) = %+v, %v; want %d", c.text, c.unit, p, err, c.micros)
			}
		case "nil":
			if err != nil || p != nil {
				t.Errorf("ParsePrice(%q) = %+v, %v; want no price", c.text, p, err)
			}
		default:
			if switchboard.ErrorCodeOf(err) != c.code || p != nil {
				t.Errorf("ParsePrice(%q, %q) = %+v, %v; want %s", c.text, c.unit, p, err, c.code)
			}
		}
	}
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"-0.00790", "0.02", "", "null", "1e3", ".", "-99999.999999", "+1.0000005"} {
		f.Add(s, "USD")
	}
	f.Fuzz(func(t *testing.T, text, unit string) {
		p, err := switchboard.ParsePrice(text, unit)
		if err != nil {
			if p != nil || !switchboard.IsKind(err, switchboard.EINVALID) {
				t.Fatalf("ParsePrice(%q, %q): %+v, %v", text, unit, p, err)
			}
			return
		}
		if p == nil {
			if text != "" && text != "null" {
				t.Fatalf("ParsePrice(%q): no price and no error", text)
			}
			return
		}
		if p.Micros < 0 || p.Micros > 1_000_000*1_000_000 || p.Text != text || p.Unit != unit {
			t.Fatalf("ParsePrice(%q, %q) = %+v", text, unit, p)
		}
	})
}

func TestFormatMicros(t *testing.T) {
	t.Parallel()
	for m, want := range map[int64]string{0: "0.00", 23700: "0.0237", 1500000: "1.50", 7900: "0.0079", 1: "0.000001", -15800: "-0.0158", 12345678: "12.345678"} {
		if got := switchboard.FormatMicros(m); got != want {
			t.Errorf("FormatMicros(%d) = %q, want %q", m, got, want)
		}
	}
}

func TestUsageRange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 23, 30, 0, 0, time.FixedZone("x", -5*3600)) // 2026-12-08 UTC
	f, err := switchboard.UsageRange("", "", now)
	if err != nil || f.From != "2026-11-08" || f.To != "2026-12-08" {
		t.Errorf("default range: %+v, %v; want the 31 UTC days to 2026-12-08", f, err)
	}
	if f, err := switchboard.UsageRange("2026-01-01", "2026-01-31", now); err != nil || f.From != "2026-01-01" || f.To != "2026-01-31" {
		t.Errorf("explicit range: %+v, %v", f, err)
	}
	for _, c := range []struct{ from, to, code string }{
		{"2026-1-1", "", "invalid_day"},
		{"", "2026-02-30", "invalid_day"},
		{"2026-12-08", "2026-12-07", "invalid_range"},
		{"2025-01-01", "2026-01-02", "invalid_range"},
		{"yesterday", "", "invalid_day"},
	} {
		if _, err := switchboard.UsageRange(c.from, c.to, now); switchboard.ErrorCodeOf(err) != c.code {
			t.Errorf("UsageRange(%q, %q): %v, want %s", c.from, c.to, err, c.code)
		}
	}
}

func TestQuotaFromDBError(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)
	if switchboard.QuotaFromDBError(nil, "acme", at) != nil || switchboard.QuotaFromDBError(errors.New("unique constraint"), "acme", at) != nil {
		t.Fatal("an error that is not the quota trigger's became a refusal")
	}
	for msg, code := range map[string]string{
		"ERROR: switchboard_quota:daily_messages (SQLSTATE P0001)":    switchboard.CodeQuotaExceeded,
		"sqlite: switchboard_quota:daily_segments":                    switchboard.CodeQuotaExceeded,
		"ERROR: switchboard_quota:daily_spend_cents (SQLSTATE P0001)": switchboard.CodeSpendCapReached,
	} {
		err := switchboard.QuotaFromDBError(errors.New(msg), "acme", at)
		rf := switchboard.RefusalOf(err)
		if switchboard.ErrorCodeOf(err) != code || !switchboard.IsKind(err, switchboard.ERATELIMITED) || rf == nil || rf.RetryAfter != 2*time.Hour {
			t.Errorf("%q: %v (retry after %v), want %s with 2h to midnight", msg, err, rf, code)
		}
		if !strings.Contains(switchboard.ErrorMessage(err), "2026-12-08T00:00:00Z") {
			t.Errorf("%q: the message does not say when the day starts over: %s", msg, switchboard.ErrorMessage(err))
		}
	}
}
