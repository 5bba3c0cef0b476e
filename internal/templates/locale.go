package templates

import (
	"strconv"
	"strings"
	"time"
)

// canonicalLocale checks a BCP 47 tag limited to language[-Script][-REGION] (what message
// templates need; no variants or extensions) and returns it in canonical case: "es-MX",
// "zh-Hant-TW". "_" is accepted as a separator.
func canonicalLocale(s string) (string, bool) {
	if s == "" || len(s) > 16 {
		return "", false
	}
	subtags := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	if len(subtags) == 0 || len(subtags) > 3 || strings.Count(s, "-")+strings.Count(s, "_") != len(subtags)-1 {
		return "", false
	}
	lang := subtags[0]
	if len(lang) < 2 || len(lang) > 3 || !isAlpha(lang) {
		return "", false
	}
	out := strings.ToLower(lang)
	rest := subtags[1:]
	if len(rest) > 0 && len(rest[0]) == 4 && isAlpha(rest[0]) {
		out += "-" + strings.ToUpper(rest[0][:1]) + strings.ToLower(rest[0][1:])
		rest = rest[1:]
	}
	if len(rest) > 0 {
		r := rest[0]
		switch {
		case len(r) == 2 && isAlpha(r):
			out += "-" + strings.ToUpper(r)
		case len(r) == 3 && isDigits(r):
			out += "-" + r
		default:
			return "", false
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return "", false
	}
	return out, true
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// fallbackChain lists the locales to try for a canonical locale, best first: the locale, its
// shorter prefixes, then the default locale and its prefixes (RFC 4647 lookup), without repeats.
// An empty locale starts at the default.
func fallbackChain(locale, def string) []string {
	var chain []string
	add := func(l string) {
		for l != "" {
			dup := false
			for _, c := range chain {
				dup = dup || c == l
			}
			if !dup {
				chain = append(chain, l)
			}
			i := strings.LastIndexByte(l, '-')
			if i < 0 {
				break
			}
			l = l[:i]
		}
	}
	add(locale)
	add(def)
	return chain
}

// Date styles.
const (
	dateISO    = iota // 2026-03-05
	dateMDY           // March 5, 2026
	dateDMY           // 5 March 2026
	dateDeDMY         // 5 de marzo de 2026
	dateDotDMY        // 5. März 2026
)

// localeFormat is how dates, times and decimals read in one language. Deliberately minimal: a
// month name, a word order, a 12- or 24-hour clock and a decimal separator.
type localeFormat struct {
	months  [12]string
	date    int
	hour12  bool
	decimal byte
}

var (
	englishMonths = [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}

	formatISO = &localeFormat{date: dateISO, decimal: '.'}
	formatUS  = &localeFormat{months: englishMonths, date: dateMDY, hour12: true, decimal: '.'}
	// formatEN serves English outside the US: day first, 24-hour clock.
	formatEN = &localeFormat{months: englishMonths, date: dateDMY, decimal: '.'}

	languageFormats = map[string]*localeFormat{
		"es": {months: [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
			"agosto", "septiembre", "octubre", "noviembre", "diciembre"}, date: dateDeDMY, decimal: ','},
		"pt": {months: [12]string{"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho",
			"agosto", "setembro", "outubro", "novembro", "dezembro"}, date: dateDeDMY, decimal: ','},
		"fr": {months: [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet",
			"août", "septembre", "octobre", "novembre", "décembre"}, date: dateDMY, decimal: ','},
		"it": {months: [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
			"agosto", "settembre", "ottobre", "novembre", "dicembre"}, date: dateDMY, decimal: ','},
		"de": {months: [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
			"August", "September", "Oktober", "November", "Dezember"}, date: dateDotDMY, decimal: ','},
	}
)

// formatFor returns the formats of a canonical locale. English is US style for "en" and "en-US"
// and day-first with a 24-hour clock for other English regions; es, pt, fr, it and de have their
// month names and decimal comma; any other language gets ISO dates, a 24-hour clock and a point.
func formatFor(locale string) *localeFormat {
	lang, _, _ := strings.Cut(locale, "-")
	if lang == "en" {
		if locale == "en" || locale == "en-US" {
			return formatUS
		}
		return formatEN
	}
	if f := languageFormats[lang]; f != nil {
		return f
	}
	return formatISO
}

// formatDate writes a date in words for the locale.
func (f *localeFormat) formatDate(b []byte, y int, m time.Month, d int) []byte {
	month := ""
	if f.date != dateISO {
		month = f.months[m-1]
	}
	switch f.date {
	case dateMDY:
		b = append(b, month...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ", "...)
		b = strconv.AppendInt(b, int64(y), 10)
	case dateDMY:
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ' ')
		b = append(b, month...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(y), 10)
	case dateDeDMY:
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, " de "...)
		b = append(b, month...)
		b = append(b, " de "...)
		b = strconv.AppendInt(b, int64(y), 10)
	case dateDotDMY:
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ". "...)
		b = append(b, month...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(y), 10)
	default:
		b = appendPadded(b, y, 4)
		b = append(b, '-')
		b = appendPadded(b, int(m), 2)
		b = append(b, '-')
		b = appendPadded(b, d, 2)
	}
	return b
}

// formatTime writes a time of day to the minute: "3:04 PM" on a 12-hour clock, "15:04" otherwise.
func (f *localeFormat) formatTime(b []byte, hour, minute int) []byte {
	if !f.hour12 {
		b = appendPadded(b, hour, 2)
		b = append(b, ':')
		return appendPadded(b, minute, 2)
	}
	h := hour % 12
	if h == 0 {
		h = 12
	}
	b = strconv.AppendInt(b, int64(h), 10)
	b = append(b, ':')
	b = appendPadded(b, minute, 2)
	if hour < 12 {
		return append(b, " AM"...)
	}
	return append(b, " PM"...)
}

func appendPadded(b []byte, n, width int) []byte {
	var buf [8]byte
	s := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
