package switchboard

import (
	"unicode/utf8"
)

// Segment sizes. A single SMS carries 140 octets of user data; each part of a multipart
// (concatenated) message gives 6 of them to the header that lets the handset reassemble it.
const (
	// GSM7SingleSeptets is how many septets a single-segment GSM-7 message holds.
	GSM7SingleSeptets = 160
	// GSM7PartSeptets is how many septets each part of a multipart GSM-7 message holds.
	GSM7PartSeptets = 153
	// UCS2SingleUnits is how many UTF-16 code units a single-segment UCS-2 message holds.
	UCS2SingleUnits = 70
	// UCS2PartUnits is how many UTF-16 code units each part of a multipart UCS-2 message holds.
	UCS2PartUnits = 67
)

// gsm7Basic is the GSM 03.38 default alphabet in code order, 0x00 to 0x7F, 16 to a row.
// Position 0x1B is the escape to the extension table, not a character, so it is skipped: a body
// containing a raw U+001B is not GSM-7.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà"

// gsm7Extension holds the characters of the GSM 03.38 extension table (form feed included).
// Each is sent as the escape septet followed by its own septet, so it costs 2 septets, and a
// multipart message never splits the pair across two parts.
const gsm7Extension = "\f^{}\\[~]|€"

// Septet costs: 0 means the character is not in GSM-7. ASCII goes through an array because
// almost every body is mostly ASCII; the few other GSM-7 characters go through a map.
var (
	asciiSeptets    [utf8.RuneSelf]uint8
	nonASCIISeptets = map[rune]uint8{}
)

func init() {
	for _, r := range gsm7Basic {
		if r == 0x1B {
			continue
		}
		setSeptets(r, 1)
	}
	for _, r := range gsm7Extension {
		setSeptets(r, 2)
	}
}

func setSeptets(r rune, n uint8) {
	if r < utf8.RuneSelf {
		asciiSeptets[r] = n
		return
	}
	nonASCIISeptets[r] = n
}

// septets returns what r costs in GSM-7: 1 for the basic alphabet, 2 for the extension table,
// 0 when r cannot be sent in GSM-7.
func septets(r rune) int {
	if r >= 0 && r < utf8.RuneSelf {
		return int(asciiSeptets[r])
	}
	return int(nonASCIISeptets[r])
}

// Segments returns how many SMS segments body takes and the encoding it is sent in.
//
// A body made only of GSM 03.38 characters (basic alphabet and extension table) is sent in
// GSM-7: up to 160 septets fit in one segment, longer bodies go in parts of 153 septets.
// Extension characters (^ { } \ [ ~ ] | € and form feed) cost 2 septets, and a pair that would
// straddle two parts moves whole to the next one, so a part may hold 152.
//
// Any other character makes the whole body UCS-2, measured in UTF-16 code units: up to 70 in one
// segment, otherwise parts of 67. A character outside the Basic Multilingual Plane (most emoji)
// is a surrogate pair of 2 units, and a pair that would straddle two parts moves whole to the
// next one. Invalid UTF-8 counts as U+FFFD, one unit per bad byte, as Go decodes it.
//
// The empty body takes 0 segments (as Twilio counts an MMS without text) and reports GSM-7.
// No smart encoding is applied: a curly quote or a non-breaking space makes the body UCS-2;
// FirstNonGSM finds such characters.
func Segments(body string) (segments int, enc Encoding) {
	if body == "" {
		return 0, EncodingGSM7
	}
	total, parts, used := 0, 1, 0
	for i := 0; i < len(body); {
		var cost int
		if c := body[i]; c < utf8.RuneSelf {
			cost = int(asciiSeptets[c])
			i++
		} else {
			r, size := utf8.DecodeRuneInString(body[i:])
			cost = int(nonASCIISeptets[r])
			i += size
		}
		if cost == 0 {
			return ucs2Segments(body), EncodingUCS2
		}
		total += cost
		if used+cost > GSM7PartSeptets {
			parts++
			used = 0
		}
		used += cost
	}
	if total <= GSM7SingleSeptets {
		return 1, EncodingGSM7
	}
	return parts, EncodingGSM7
}

// ucs2Segments counts the segments of a non-empty body sent in UCS-2.
func ucs2Segments(body string) int {
	total, parts, used := 0, 1, 0
	for _, r := range body {
		units := 1
		if r >= 0x10000 {
			units = 2 // a surrogate pair
		}
		total += units
		if used+units > UCS2PartUnits {
			parts++
			used = 0
		}
		used += units
	}
	if total <= UCS2SingleUnits {
		return 1
	}
	return parts
}

// FirstNonGSM returns the first character of body that GSM-7 cannot carry, which forces the
// whole message into UCS-2, and its byte offset in body. ok is false, and index -1, when body is
// all GSM-7.
// An invalid UTF-8 byte is reported as utf8.RuneError at its offset.
func FirstNonGSM(body string) (r rune, index int, ok bool) {
	for i, c := range body {
		if septets(c) == 0 {
			return c, i, true
		}
	}
	return 0, -1, false
}

// GSM7Septets returns how many septets body takes in GSM-7, extension characters counting 2.
// ok is false, and n 0, when body has a character GSM-7 cannot carry.
func GSM7Septets(body string) (n int, ok bool) {
	for _, c := range body {
		s := septets(c)
		if s == 0 {
			return 0, false
		}
		n += s
	}
	return n, true
}
