package content

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestNormalizePhoneValid(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+14155550100", "+14155550100"},
		{"+14155550199", "+14155550199"}, // NANP fictional range 555-0100…0199
		{"+1 (415) 555-0100", "+14155550100"},
		{"+1.415.555.0100", "+14155550100"},
		{"+1-415-555-0100", "+14155550100"},
		{"+ 1 415 555 0100", "+14155550100"},
		{"  +14155550100\n", "+14155550100"},
		{"+16135550123", "+16135550123"}, // Canada
		{"+442071838750", "+442071838750"},
		{"+44 (0)20 7183 8750", "+442071838750"}, // the trunk prefix is dropped
		{"+33 6 12 34 56 78", "+33612345678"},
		{"+491701234567", "+491701234567"},
		{"+39 06 6988 0000", "+390669880000"}, // Italy keeps its leading zero
		{"+8613800138000", "+8613800138000"},
		{"+80012345678", "+80012345678"}, // international freephone, non-geographic
	}
	// Twilio's magic test numbers are valid as they are (NPA 500 is a real, non-geographic NANP
	// code), without any special case.
	for d := '0'; d <= '9'; d++ {
		n := "+1500555000" + string(d)
		tests = append(tests, struct{ in, want string }{n, n})
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizePhoneInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantMsg string // a piece of the message
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"14155550100", "must start with +"},
		{"0014155550100", "must start with +"},
		{"(415) 555-0100", "must start with +"},
		{"tel:+14155550100", "must start with +"},
		{"whatsapp:+14155550100", "must start with +"},
		{"+", "no digits"},
		{"+()- .", "no digits"},
		{"++14155550100", `'+' at character 2`},
		{"+1-800-FLOWERS", `'F' at character 8`},
		{"+14155550100 ext. 5", `'e' at character 14`},
		{"+14155550100x5", `'x'`},
		{"+1 415 555 0100;ext=3", `';'`},
		{"+1/415/555/0100", `'/'`},
		{"+１４１５５５５０１００", `'１' at character 2`}, // full-width digits
		{"+1\u00a0415 555 0100", `'\u00a0'`},
		{"+1415555\x000100", `'\x00'`},
		{"+1415555\xff0100", `'�'`},
		{"+1234567890123456", "16 digits"},
		{"+" + strings.Repeat("1", 64), "too long"},
		{"+1415555010012", "too long for country code +1"},
		{"+1 415 555", "too short for country code +1"},
		{"+15555550100", "not in use under country code +1"}, // NPA 555 is not assigned
		{"+11235550100", "not in use under country code +1"}, // no NPA starts with 1
		{"+0123456789", "country code"},
		{"+999 123456789", "country code"},
		{"+4420718387", "country code +44"},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.in)
		if err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error", tt.in, got)
			continue
		}
		var e *switchboard.Error
		if !errors.As(err, &e) || e.Kind != switchboard.EINVALID || e.Code != CodeInvalidPhoneNumber {
			t.Errorf("NormalizePhone(%q) error = %#v, want kind %s code %s", tt.in, err, switchboard.EINVALID, CodeInvalidPhoneNumber)
			continue
		}
		if got != "" {
			t.Errorf("NormalizePhone(%q) = %q with an error, want \"\"", tt.in, got)
		}
		if !strings.Contains(e.Message, tt.wantMsg) {
			t.Errorf("NormalizePhone(%q) message = %q, want it to contain %q", tt.in, e.Message, tt.wantMsg)
		}
		if len(e.Message) > 200 {
			t.Errorf("NormalizePhone(%q) message is %d bytes long", tt.in, len(e.Message))
		}
	}
}

func TestPhoneRegion(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+14155550100", "US"},
		{"+15005550006", "US"},
		{"+16135550123", "CA"},
		{"+442071838750", "GB"},
		{"+33612345678", "FR"},
		{"+8613800138000", "CN"},
		{"+80012345678", ""}, // non-geographic
		{"+15555550100", ""}, // not valid
		{"14155550100", ""},  // not international
		{"garbage", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := PhoneRegion(tt.in); got != tt.want {
			t.Errorf("PhoneRegion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	sid := "MG" + strings.Repeat("0123456789abcdef", 2)
	tests := []struct{ in, want string }{
		{"+14155550100", "+1415*****00"},
		{"whatsapp:+14155550100", "whatsapp:+1415*****00"},
		{"tel:+14155550100", "tel:+1415*****00"},
		{"+1 (415) 555-0100", "+1415*****00"},
		{"+442071838750", "+4420******50"},
		{"+33612345678", "+3361*****78"},
		{"+3725123456", "+372*****56"},
		{"+12345678", "+1*****78"},
		{"+1234567", "+*****67"},
		{"123456", "*****6"},
		{"12345", "*****"}, // a short code
		{"+1", "+*"},
		{"", ""},
		{"+", "+"},
		{"tel:", "tel:"},
		{sid, sid},
		{"whatsapp:" + sid, "whatsapp:" + sid},
		{"hello", "hello"},
		{"client:alice", "client:alice"},
		{"call +1 415 555 0100 ext 5", "call +* *** *** **** ext *"},
		{"+1-800-FLOWERS", "+*-***-FLOWERS"},
		{"+１４１５", "+****"},
		{"bad\xff7", "bad\ufffd*"},
		{strings.Repeat("a", 100), strings.Repeat("a", 64) + "…"},
		{strings.Repeat("9", 100), strings.Repeat("*", 64) + "…"},
	}
	for _, tt := range tests {
		if got := MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"", "+", "+14155550100", "+1 (415) 555-0100", "+15005550006", "+15555550100",
		"+44 (0)20 7183 8750", "+390669880000", "+80012345678", "14155550100", "+1-800-FLOWERS",
		"+1234567890123456", "+0", "+999", "+١٢٣", "+" + strings.Repeat("0", 70),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizePhone(s)
		region := PhoneRegion(s)
		if err != nil {
			var e *switchboard.Error
			if !errors.As(err, &e) || e.Kind != switchboard.EINVALID || e.Code != CodeInvalidPhoneNumber {
				t.Fatalf("error %#v is not an invalid_phone_number application error", err)
			}
			if out != "" || region != "" {
				t.Fatalf("NormalizePhone = %q, PhoneRegion = %q with an error", out, region)
			}
			return
		}
		if len(out) < 2 || len(out) > 16 || out[0] != '+' || strings.Trim(out[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", s, out)
		}
		again, err := NormalizePhone(out)
		if err != nil || again != out {
			t.Fatalf("NormalizePhone(%q) = %q, but NormalizePhone(%q) = %q, %v", s, out, out, again, err)
		}
		if r := PhoneRegion(out); r != region {
			t.Fatalf("PhoneRegion(%q) = %q but PhoneRegion(%q) = %q", s, region, out, r)
		}
		if masked := MaskPhone(out); countDigits(masked) > countDigits(out)-5 {
			t.Fatalf("MaskPhone(%q) = %q keeps too many digits", out, masked)
		}
	})
}

func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{
		"", "+14155550100", "whatsapp:+14155550100", "12345", "MG0123456789abcdef0123456789abcdef",
		"call 415 555 0100", "\xff", "a:b:c", ":+1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := MaskPhone(s)
		if _, rest := splitChannelPrefix(s); isTwilioSID(rest) {
			return
		}
		// At most 6 digits survive, and always at least 5 fewer than the input had.
		if n := countDigits(out); n > 6 || n > max(0, countDigits(s)-5) {
			t.Fatalf("MaskPhone(%q) = %q keeps %d digits", s, out, n)
		}
		if len(out) > len(s)+64 {
			t.Fatalf("MaskPhone(%q) = %q grew too much", s, out)
		}
	})
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

func BenchmarkNormalizePhone(b *testing.B) {
	for _, in := range []string{"+14155550100", "+44 (0)20 7183 8750", "+15555550100"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				_, _ = NormalizePhone(in)
			}
		})
	}
}

func ExampleMaskPhone() {
	fmt.Println(MaskPhone("+14155550100"))
	fmt.Println(MaskPhone("whatsapp:+442071838750"))
	// Output:
	// +1415*****00
	// whatsapp:+4420******50
}

func BenchmarkPhoneTimezones(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		if len(PhoneTimezones("+1415555010"+strconv.Itoa(i%10))) == 0 {
			b.Fatal("no zone")
		}
	}
}
