package main

import (
	"fmt"
	"strings"
	"time"
)

// timeLayout is how every command prints an instant: RFC 3339 in UTC, to the millisecond, such
// as 2026-01-02T15:04:05.000Z (README, "Times").
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// fmtTime prints t in timeLayout, "-" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// whenHelp documents what parseWhen takes.
const whenHelp = "an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02, UTC) or a duration ago (90m, 1h, 7d)"

// parseWhen reads a time given on the command line: RFC 3339, a date (midnight UTC), or a
// duration such as 1h, 90m or 7d counted back from now (forward when future is true, for
// --send-at; a leading + or - is accepted and means the same).
func parseWhen(s string, now time.Time, future bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(strings.TrimLeft(s, "+-"))
	if err != nil || d < 0 {
		if future {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2026-01-02T15:04:05Z) or a duration from now (90m, 2h, 1d)", s)
		}
		return time.Time{}, fmt.Errorf("%q is not %s", s, whenHelp)
	}
	if future {
		return now.Add(d), nil
	}
	return now.Add(-d), nil
}

// parseDuration is time.ParseDuration plus whole days (7d).
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n || days < 0 || days > 100000 {
			return 0, fmt.Errorf("bad days %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// whenFlag is a flag holding a time in the past given as parseWhen takes it.
type whenFlag struct {
	t   time.Time
	raw string
}

func (w *whenFlag) String() string { return w.raw }
func (w *whenFlag) Type() string   { return "time" }
func (w *whenFlag) Set(s string) error {
	t, err := parseWhen(s, time.Now(), false)
	if err != nil {
		return err
	}
	w.t, w.raw = t.UTC(), s
	return nil
}

// kvFlag is a repeatable NAME=VALUE flag. Unlike pflag's stringToString it does not split on
// commas, so a value may hold one (--var address="Calle Olmo 12, Monterrey").
type kvFlag map[string]string

func (f *kvFlag) String() string { return "" }
func (f *kvFlag) Type() string   { return "NAME=VALUE" }
func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want NAME=VALUE", s)
	}
	if *f == nil {
		*f = map[string]string{}
	}
	(*f)[k] = v
	return nil
}
