package switchboard

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	gsm  = EncodingGSM7
	ucs2 = EncodingUCS2
)

func rep(s string, n int) string { return strings.Repeat(s, n) }

// TestGSM7Alphabet pins the tables to GSM 03.38 by code position, so that the reference
// implementation below, which reads the same tables, cannot share a mistake in them unnoticed.
func TestGSM7Alphabet(t *testing.T) {
	t.Parallel()
	basic := []rune(gsm7Basic)
	if len(basic) != 128 {
		t.Fatalf("basic alphabet has %d characters, want 128", len(basic))
	}
	positions := map[int]rune{
		0x00: '@', 0x01: '£', 0x02: '$', 0x03: '¥', 0x09: 'Ç', 0x0A: '\n', 0x0D: '\r', 0x0F: 'å',
		0x10: 'Δ', 0x11: '_', 0x1A: 'Ξ', 0x1B: 0x1B, 0x1C: 'Æ', 0x1E: 'ß', 0x1F: 'É',
		0x20: ' ', 0x24: '¤', 0x40: '¡', 0x41: 'A', 0x5A: 'Z', 0x5B: 'Ä', 0x5F: '§',
		0x60: '¿', 0x61: 'a', 0x7A: 'z', 0x7B: 'ä', 0x7E: 'ü', 0x7F: 'à',
	}
	for pos, want := range positions {
		if basic[pos] != want {
			t.Errorf("basic[0x%02X] = %q, want %q", pos, basic[pos], want)
		}
	}

	for _, r := range gsm7Basic {
		want := 1
		if r == 0x1B {
			want = 0
		}
		if got := septets(r); got != want {
			t.Errorf("septets(%q) = %d, want %d", r, got, want)
		}
	}
	for _, r := range "\f^{}\\[~]|€" {
		if got := septets(r); got != 2 {
			t.Errorf("septets(%q) = %d, want 2 (extension table)", r, got)
		}
	}
	// Look-alikes and common characters that are not GSM-7.
	for _, r := range []rune{
		'`', '\t', '\v', 0, 0x1B, 0x7F, 'ç', 'á', 'í', 'ó', 'ú', 'ï', 'ê', 'õ', 'ã', 'Ø' + 1,
		'\u00a0', '\u2019', '\u201c', '\u2026', '\u2013', 'Α', 'Β', 'α', 'ж', '中', '😀',
		utf8.RuneError, -1, utf8.MaxRune + 1,
	} {
		if got := septets(r); got != 0 {
			t.Errorf("septets(%U) = %d, want 0 (not GSM-7)", r, got)
		}
	}
}

func TestSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want int
		enc  Encoding
	}{
		{"empty", "", 0, gsm},
		{"one char", "a", 1, gsm},
		{"plain text", "Your technician Sam is on the way. ETA 14:05.", 1, gsm},
		{"CR LF", "line one\r\nline two", 1, gsm},
		{"non-ASCII basic", "Grüße aus Köln! ¿Qué tal? Ça va. Δ Σ Ω £5 ¥3 §2 ¤", 1, gsm},

		// GSM-7 boundaries.
		{"160 septets", rep("a", 160), 1, gsm},
		{"161 septets", rep("a", 161), 2, gsm},
		{"306 septets", rep("a", 306), 2, gsm},
		{"307 septets", rep("a", 307), 3, gsm},
		{"459 septets", rep("a", 459), 3, gsm},
		{"460 septets", rep("a", 460), 4, gsm},

		// Extension characters cost 2 septets.
		{"extension chars", "Price: 5€ [promo] {x} ~y~ a|b ^c \\d", 1, gsm},
		{"form feed is extension", "a\fb", 1, gsm},
		{"158 + euro = 160", rep("a", 158) + "€", 1, gsm},
		{"159 + euro = 161", rep("a", 159) + "€", 2, gsm},
		{"80 euros = 160", rep("€", 80), 1, gsm},
		{"81 euros = 162", rep("€", 81), 2, gsm},
		{"152 euros fill two parts", rep("€", 152), 2, gsm},
		// 76 pairs fit a part (152 septets); 153 pairs need 3 parts although 306 septets would
		// fit 2 if pairs could be split.
		{"153 euros = 306 need 3", rep("€", 153), 3, gsm},
		// The pair at septets 153-154 would straddle parts 1 and 2: it moves to part 2.
		{"straddling pair moves", rep("a", 152) + "{" + rep("a", 152), 3, gsm},
		{"pair ending part 1 stays", rep("a", 151) + "{" + rep("a", 153), 2, gsm},
		{"pair starting part 2", rep("a", 153) + "{" + rep("a", 151), 2, gsm},
		{"straddle with room to spare", rep("a", 152) + "{" + rep("a", 151), 2, gsm},

		// UCS-2 boundaries, in UTF-16 code units.
		{"one non-GSM char", "ç", 1, ucs2},
		{"70 units", rep("ж", 70), 1, ucs2},
		{"71 units", rep("ж", 71), 2, ucs2},
		{"134 units", rep("ж", 134), 2, ucs2},
		{"135 units", rep("ж", 135), 3, ucs2},
		{"201 units", rep("ж", 201), 3, ucs2},
		{"202 units", rep("ж", 202), 4, ucs2},
		{"one char makes it all UCS-2", rep("a", 159) + "ç", 3, ucs2},
		{"extension chars cost 1 in UCS-2", rep("€", 69) + "ж", 1, ucs2},
		{"tab forces UCS-2", "a\tb", 1, ucs2},
		{"curly quote forces UCS-2", "It\u2019s ready", 1, ucs2},
		{"nbsp forces UCS-2", "10\u00a0AM", 1, ucs2},
		{"invalid UTF-8 is U+FFFD", "abc\xff", 1, ucs2},
		{"70 invalid bytes", rep("\xff", 70), 1, ucs2},
		{"71 invalid bytes", rep("\xff", 71), 2, ucs2},

		// Surrogate pairs.
		{"one emoji", "😀", 1, ucs2},
		{"35 emoji = 70 units", rep("😀", 35), 1, ucs2},
		{"36 emoji = 72 units", rep("😀", 36), 2, ucs2},
		{"34 emoji + a = 69", rep("😀", 34) + "a", 1, ucs2},
		{"35 emoji + a = 71", rep("😀", 35) + "a", 2, ucs2},
		// 33 pairs (66 units) fit a part; 67 pairs = 134 units need 3 parts, not 2.
		{"67 emoji = 134 need 3", rep("😀", 67), 3, ucs2},
		{"66 emoji = 132", rep("😀", 66), 2, ucs2},
		// The pair at units 67-68 would straddle parts 1 and 2: it moves to part 2.
		{"straddling emoji moves", rep("ж", 66) + "😀" + rep("ж", 66), 3, ucs2},
		{"emoji ending part 1 stays", rep("ж", 65) + "😀" + rep("ж", 67), 2, ucs2},
		{"emoji starting part 2", rep("ж", 67) + "😀" + rep("ж", 65), 2, ucs2},
		{"ZWJ family is 8 units", "👨\u200d👩\u200d👧", 1, ucs2},

		// Mixed text.
		{"mixed greeting", "Hello 👋 your code is 123456", 1, ucs2},
		{"mixed Greek look-alike", "ΑΒΓ", 1, ucs2}, // Α and Β are Greek, not Latin
		{"GSM Greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", 1, gsm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, enc := Segments(tt.body)
			if got != tt.want || enc != tt.enc {
				t.Errorf("Segments(%.40q…) = %d, %s; want %d, %s", tt.body, got, enc, tt.want, tt.enc)
			}
			if ref, refEnc := referenceSegments(tt.body); ref != got || refEnc != enc {
				t.Errorf("reference = %d, %s; Segments = %d, %s", ref, refEnc, got, enc)
			}
		})
	}
}

func TestFirstNonGSM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body  string
		r     rune
		index int
		ok    bool
	}{
		{"", 0, -1, false},
		{"hello", 0, -1, false},
		{"héllo Ça ü €{}", 0, -1, false},
		{"hello ç", 'ç', 6, true},
		{"naïve", 'ï', 2, true},
		{"a\tb", '\t', 1, true},
		{"x😀y😀", '😀', 1, true},
		{"€ \u2019", '\u2019', 4, true}, // € is 3 bytes: the index is a byte offset
		{"\xffabc", utf8.RuneError, 0, true},
		{"Ελλάδα", 'Ε', 0, true},
		{"ok\x1b", 0x1B, 2, true},
	}
	for _, tt := range tests {
		r, index, ok := FirstNonGSM(tt.body)
		if r != tt.r || index != tt.index || ok != tt.ok {
			t.Errorf("FirstNonGSM(%q) = %q, %d, %v; want %q, %d, %v", tt.body, r, index, ok, tt.r, tt.index, tt.ok)
		}
	}
}

func TestGSM7Septets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		n    int
		ok   bool
	}{
		{"", 0, true},
		{"abc", 3, true},
		{"{}", 4, true},
		{"€", 2, true},
		{"Köln €5", 8, true},
		{"ç", 0, false},
		{"abc😀", 0, false},
	}
	for _, tt := range tests {
		n, ok := GSM7Septets(tt.body)
		if n != tt.n || ok != tt.ok {
			t.Errorf("GSM7Septets(%q) = %d, %v; want %d, %v", tt.body, n, ok, tt.n, tt.ok)
		}
	}
}

// referenceSegments counts segments the slow, literal way: it encodes the body (an extension
// character becomes an escape septet and the character) and cuts the stream into parts, pulling
// back a cut that would separate an escape from its character or a high surrogate from its low
// one.
func referenceSegments(body string) (int, Encoding) {
	if body == "" {
		return 0, gsm
	}
	const esc = 0x1B
	var stream []rune
	isGSM := true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7Extension, r):
			stream = append(stream, esc, r)
		case r != esc && strings.ContainsRune(gsm7Basic, r):
			stream = append(stream, r)
		default:
			isGSM = false
		}
		if !isGSM {
			break
		}
	}
	if isGSM {
		if len(stream) <= 160 {
			return 1, gsm
		}
		parts := 0
		for len(stream) > 0 {
			n := min(153, len(stream))
			if n < len(stream) && stream[n-1] == esc {
				n--
			}
			stream = stream[n:]
			parts++
		}
		return parts, gsm
	}

	units := utf16.Encode([]rune(body))
	if len(units) <= 70 {
		return 1, ucs2
	}
	parts := 0
	for len(units) > 0 {
		n := min(67, len(units))
		if n < len(units) && units[n-1] >= 0xD800 && units[n-1] < 0xDC00 {
			n--
		}
		units = units[n:]
		parts++
	}
	return parts, ucs2
}

func FuzzSegments(f *testing.F) {
	for _, s := range []string{
		"", "a", "hello world", rep("a", 160), rep("a", 161), rep("a", 307), rep("€", 153),
		rep("a", 152) + "{" + rep("a", 152), rep("ж", 70), rep("ж", 135), rep("😀", 67),
		rep("ж", 66) + "😀" + rep("ж", 66), "abc\xff", "\xed\xa0\x80", "a\x1bb", "Grüße €",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		segs, enc := Segments(body)
		if segs < 0 {
			t.Fatalf("segments = %d < 0", segs)
		}
		if (segs == 0) != (body == "") {
			t.Fatalf("segments = %d for a body of %d bytes", segs, len(body))
		}
		r, index, nonGSM := FirstNonGSM(body)
		if (enc == gsm) == nonGSM {
			t.Fatalf("encoding %s but FirstNonGSM found %v", enc, nonGSM)
		}
		septets, ok := GSM7Septets(body)
		if ok == nonGSM {
			t.Fatalf("GSM7Septets ok=%v but FirstNonGSM found %v", ok, nonGSM)
		}
		if nonGSM {
			if got, _ := utf8.DecodeRuneInString(body[index:]); got != r {
				t.Fatalf("FirstNonGSM = %q at %d, but the body has %q there", r, index, got)
			}
			if _, ok := GSM7Septets(body[:index]); !ok {
				t.Fatalf("FirstNonGSM = %q at %d, but an earlier character is not GSM-7", r, index)
			}
		}
		units := len(utf16.Encode([]rune(body)))
		if segs > units+1 {
			t.Fatalf("segments = %d > UTF-16 units + 1 = %d", segs, units+1)
		}
		if body != "" {
			// Each full part holds at least 152 septets or 66 units; only the last may be short.
			switch enc {
			case gsm:
				if septets <= 160 && segs != 1 || septets > 160 && (segs < ceilDiv(septets, 153) || segs > ceilDiv(septets, 152)) {
					t.Fatalf("%d septets in %d segments", septets, segs)
				}
			case ucs2:
				if units <= 70 && segs != 1 || units > 70 && (segs < ceilDiv(units, 67) || segs > ceilDiv(units, 66)) {
					t.Fatalf("%d units in %d segments", units, segs)
				}
			}
		}
		if ref, refEnc := referenceSegments(body); ref != segs || refEnc != enc {
			t.Fatalf("reference = %d, %s; Segments = %d, %s", ref, refEnc, segs, enc)
		}
	})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func BenchmarkSegments(b *testing.B) {
	bodies := []struct{ name, body string }{
		{"gsm-short", "Your technician Sam is on the way and should arrive around 14:05. Reply STOP to opt out."},
		{"gsm-long-extension", rep("Job #4521 updated: [new time] 15:30 {confirm} €20 deposit. ", 8)},
		{"ucs2-cyrillic", rep("Ваш код подтверждения: 123456. ", 4)},
		{"ucs2-emoji", rep("Your order shipped 📦 track it here 👉 ", 5)},
		{"ucs2-late", rep("a", 300) + "ç"},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				Segments(bb.body)
			}
		})
	}
}

func ExampleSegments() {
	fmt.Println(Segments("Your code is 123456"))
	fmt.Println(Segments(strings.Repeat("a", 161)))
	fmt.Println(Segments("Your code is 123456 🔐"))
	// Output:
	// 1 GSM-7
	// 2 GSM-7
	// 1 UCS-2
}
