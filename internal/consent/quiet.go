package consent

import (
	"fmt"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// Window is a daily quiet period in the recipient's local time, from Start to End ("21:00" to
// "08:00" wraps past midnight). Messages due inside it wait until it ends.
type Window struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`

	start, end int // minutes after local midnight
}

// QuietHours maps a category to its window; a category without one (otp by default) is exempt.
type QuietHours map[switchboard.Category]*Window

// DefaultQuietHours keeps marketing between 08:00 and 21:00 local time (the hours US telemarketing
// rules allow); transactional and otp messages are not held by default.
func DefaultQuietHours() QuietHours {
	return QuietHours{switchboard.CategoryMarketing: {Start: "21:00", End: "08:00", start: 21 * 60, end: 8 * 60}}
}

// Validate parses every window; the error names the one to fix.
func (q QuietHours) Validate() error {
	for cat, w := range q {
		if !cat.Valid() {
			return fmt.Errorf("quiet_hours: %q is not a category", cat)
		}
		if w == nil {
			continue
		}
		var err error
		if w.start, err = minutes(w.Start); err != nil {
			return fmt.Errorf("quiet_hours.%s.start: %w", cat, err)
		}
		if w.end, err = minutes(w.End); err != nil {
			return fmt.Errorf("quiet_hours.%s.end: %w", cat, err)
		}
		if w.start == w.end {
			return fmt.Errorf("quiet_hours.%s: start and end are equal; remove the category to disable it", cat)
		}
	}
	return nil
}

func minutes(hhmm string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(hhmm))
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day like 21:00", hhmm)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// inside reports whether minute-of-day m is in the window.
func (w *Window) inside(m int) bool {
	if w.start < w.end {
		return m >= w.start && m < w.end
	}
	return m >= w.start || m < w.end
}

// quietUntil returns when the window that contains t in loc ends, or t itself when t is outside.
func (w *Window) quietUntil(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	if !w.inside(l.Hour()*60 + l.Minute()) {
		return t
	}
	day := l.Day()
	if w.start > w.end && l.Hour()*60+l.Minute() >= w.start {
		day++ // the window ends tomorrow morning
	}
	end := time.Date(l.Year(), l.Month(), day, w.end/60, w.end%60, 0, 0, loc)
	if e := end.In(loc); end.After(t) && e.Hour()*60+e.Minute() == w.end {
		return end
	}
	// The end's wall time does not exist that day (a DST change skips it) and time.Date moved
	// it: the window ends at the first minute the local clock reads outside it — the jump.
	u := t.Truncate(time.Minute)
	for range 48 * 60 {
		u = u.Add(time.Minute)
		if lu := u.In(loc); !w.inside(lu.Hour()*60 + lu.Minute()) {
			return u
		}
	}
	return end
}

// Decision is when a message may go, given quiet hours.
type Decision struct {
	// At is the earliest time the message may be sent: now when it is not held.
	At time.Time
	// Held is true when quiet hours hold the message.
	Held bool
	// Note explains the decision for the timeline (zones considered, the rule applied).
	Note string
}

// Next returns the earliest time at or after now when a message of category may go to a
// recipient in any of zones: outside the category's window in every zone (when a number maps to
// several zones the most restrictive answer wins).
func (q QuietHours) Next(now time.Time, category switchboard.Category, zones []*time.Location) Decision {
	return q[category].Next(now, string(category), zones)
}

// ParseWindow reads a window written "21:00-08:00" (start-end, local time); "" and "off" are no
// window (nil).
func ParseWindow(spec string) (*Window, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || strings.EqualFold(spec, "off") {
		return nil, nil
	}
	start, end, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, fmt.Errorf("%q is not a window like 21:00-08:00", spec)
	}
	w := &Window{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}
	var err error
	if w.start, err = minutes(w.Start); err != nil {
		return nil, err
	}
	if w.end, err = minutes(w.End); err != nil {
		return nil, err
	}
	if w.start == w.end {
		return nil, fmt.Errorf("%q: start and end are equal; use off for no window", spec)
	}
	return w, nil
}

// Next returns the earliest time at or after now outside the window in every one of zones (the
// most restrictive answer wins); what names the rule in the note ("marketing", "call"). A nil
// window holds nothing.
func (w *Window) Next(now time.Time, what string, zones []*time.Location) Decision {
	if w == nil || len(zones) == 0 {
		return Decision{At: now}
	}
	t := now
	for range 16 { // each pass moves t past one zone's window; a few zones settle in 2-3 passes
		moved := false
		for _, z := range zones {
			if u := w.quietUntil(t, z); u.After(t) {
				t, moved = u, true
			}
		}
		if !moved {
			break
		}
	}
	if !t.After(now) {
		return Decision{At: now}
	}
	names := make([]string, len(zones))
	for i, z := range zones {
		names[i] = z.String()
	}
	note := fmt.Sprintf("held by %s quiet hours (%s–%s local time in %s) until %s", what, w.Start, w.End,
		strings.Join(names, ", "), t.UTC().Format(time.RFC3339))
	if len(zones) > 1 {
		note += "; the number maps to several time zones, so the most restrictive applies"
	}
	return Decision{At: t, Held: true, Note: note}
}

// Hold is the dispatcher's quiet-hours check right before a message goes: when m may go at the
// earliest from now, in the recipient's time zone (the message's timezone, else every zone of
// the number, the most restrictive winning), and why it waits.
func (q QuietHours) Hold(m *switchboard.Message, now time.Time) (time.Time, string) {
	zones := content.PhoneTimezones(m.To)
	if m.Timezone != "" {
		if loc, err := time.LoadLocation(m.Timezone); err == nil {
			zones = []*time.Location{loc}
		}
	}
	d := q.Next(now, m.Category, zones)
	return d.At, d.Note
}
