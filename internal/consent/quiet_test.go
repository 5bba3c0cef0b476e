package consent

import (
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestQuietHoursNext(t *testing.T) {
	t.Parallel()
	ny, la, tokyo := loc(t, "America/New_York"), loc(t, "America/Los_Angeles"), loc(t, "Asia/Tokyo")
	q := QuietHours{
		switchboard.CategoryMarketing:     {Start: "21:00", End: "08:00"},
		switchboard.CategoryTransactional: {Start: "01:00", End: "02:30"},
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		now   time.Time
		cat   switchboard.Category
		zones []*time.Location
		want  time.Time
	}{
		{"daytime passes", time.Date(2026, 6, 1, 14, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 6, 1, 14, 0, 0, 0, ny)},
		{"evening waits for the morning", time.Date(2026, 6, 1, 22, 15, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 6, 2, 8, 0, 0, 0, ny)},
		{"after midnight waits until 8", time.Date(2026, 6, 2, 3, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 6, 2, 8, 0, 0, 0, ny)},
		{"start is inside", time.Date(2026, 6, 1, 21, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 6, 2, 8, 0, 0, 0, ny)},
		{"end is outside", time.Date(2026, 6, 2, 8, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 6, 2, 8, 0, 0, 0, ny)},
		// 23:00 UTC is 19:00 in New York (fine) but 08:00 in Tokyo (fine) and 16:00 in LA.
		{"recipient's own zone decides", time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC), switchboard.CategoryMarketing, []*time.Location{tokyo}, time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC)},
		{"tokyo night", time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC), switchboard.CategoryMarketing, []*time.Location{tokyo}, time.Date(2026, 6, 2, 8, 0, 0, 0, tokyo)},
		// 07:30 in New York is 04:30 in LA: both quiet; the later end (LA's 08:00) wins.
		{"several zones: most restrictive", time.Date(2026, 6, 1, 7, 30, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny, la}, time.Date(2026, 6, 1, 8, 0, 0, 0, la)},
		// Spring forward in New York (2026-03-08 02:00 → 03:00): the night is an hour shorter.
		{"spring forward", time.Date(2026, 3, 7, 23, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 3, 8, 8, 0, 0, 0, ny)},
		// Fall back (2026-11-01 02:00 → 01:00): 08:00 is still 08:00 local, 10 h later, not 9.
		{"fall back", time.Date(2026, 10, 31, 23, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny}, time.Date(2026, 11, 1, 8, 0, 0, 0, ny)},
		// A window ending at 02:30 on the spring-forward day: 02:30 does not exist; the window ends
		// when the clock jumps from 01:59 EST to 03:00 EDT.
		{"end in the skipped hour", time.Date(2026, 3, 8, 1, 30, 0, 0, ny), switchboard.CategoryTransactional, []*time.Location{ny}, time.Date(2026, 3, 8, 3, 0, 0, 0, ny)},
		{"otp is exempt", time.Date(2026, 6, 1, 23, 0, 0, 0, ny), switchboard.CategoryOTP, []*time.Location{ny}, time.Date(2026, 6, 1, 23, 0, 0, 0, ny)},
		{"no zone known", time.Date(2026, 6, 1, 23, 0, 0, 0, ny), switchboard.CategoryMarketing, nil, time.Date(2026, 6, 1, 23, 0, 0, 0, ny)},
	}
	for _, c := range cases {
		d := q.Next(c.now, c.cat, c.zones)
		if !d.At.Equal(c.want) {
			t.Errorf("%s: at %v, want %v", c.name, d.At.In(c.want.Location()), c.want)
		}
		if d.Held != c.want.After(c.now) || (d.Held && d.Note == "") {
			t.Errorf("%s: held %v note %q", c.name, d.Held, d.Note)
		}
	}
	// The fall-back night really lasts 10 hours.
	d := q.Next(time.Date(2026, 10, 31, 22, 0, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny})
	if got := d.At.Sub(time.Date(2026, 10, 31, 22, 0, 0, 0, ny)); got != 11*time.Hour {
		t.Errorf("22:00 → 08:00 across fall back is %v, want 11h", got)
	}
	if d := q.Next(time.Date(2026, 6, 1, 7, 30, 0, 0, ny), switchboard.CategoryMarketing, []*time.Location{ny, la}); !strings.Contains(d.Note, "most restrictive") {
		t.Errorf("multi-zone note: %q", d.Note)
	}
}

func TestQuietHoursValidate(t *testing.T) {
	t.Parallel()
	for _, q := range []QuietHours{
		{switchboard.CategoryMarketing: {Start: "9pm", End: "08:00"}},
		{switchboard.CategoryMarketing: {Start: "21:00", End: "21:00"}},
		{"promo": {Start: "21:00", End: "08:00"}},
	} {
		if err := q.Validate(); err == nil {
			t.Errorf("accepted %+v", q)
		}
	}
}

func TestPhoneTimezones(t *testing.T) {
	t.Parallel()
	for num, want := range map[string]string{"+14155550100": "America/Los_Angeles", "+12125550100": "America/New_York", "+442071838750": "Europe/London"} {
		zs := content.PhoneTimezones(num)
		if len(zs) == 0 || zs[0].String() != want {
			t.Errorf("%s: %v, want %s", num, zs, want)
		}
	}
}
