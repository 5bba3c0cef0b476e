package content

import (
	"slices"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestPhoneCacheAgreesWithLibphonenumber checks that answers from the cache are the answers of a
// fresh lookup, for the first call (a miss) and the second (a hit), and for a formatted input
// sharing the digits of another.
func TestPhoneCacheAgreesWithLibphonenumber(t *testing.T) {
	for _, in := range []string{"+14155550100", "+1 (415) 555-0100", "+44 (0)20 7183 8750", "+442071838750",
		"+80012345678", "+15005550006", "+390669880000"} {
		var buf [1 + maxPhoneInput]byte
		digits, err := phoneInput(in, buf[:0])
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		n, err := parsePhone(digits)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		want := phonenumbers.Format(n, phonenumbers.E164)
		for range 2 {
			got, err := NormalizePhone(in)
			if err != nil || got != want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
		parsed, err := phonenumbers.Parse(want, "")
		if err != nil {
			t.Fatal(err)
		}
		zones := numberTimezones(parsed)
		for range 2 {
			if got := PhoneTimezones(want); !slices.Equal(got, zones) {
				t.Fatalf("PhoneTimezones(%q) = %v, want %v", want, got, zones)
			}
		}
	}
}

// TestPhoneCacheRefusalsAreNotCached checks that an invalid number is refused every time and
// leaves nothing in the cache.
func TestPhoneCacheRefusalsAreNotCached(t *testing.T) {
	c := newBoundedCache[phoneInfo]()
	before := phoneCache
	phoneCache = c
	t.Cleanup(func() { phoneCache = before })
	for range 2 {
		if _, err := NormalizePhone("+15555550100"); err == nil {
			t.Fatal("an unassigned area code was accepted")
		}
	}
	if n := c.len(); n != 0 {
		t.Fatalf("the cache holds %d entries after refusals", n)
	}
}

// TestPhoneTimezonesOfInvalidNumbers checks that a number libphonenumber can parse but does not
// hold valid still gets the zones of its prefix, as before the cache.
func TestPhoneTimezonesOfInvalidNumbers(t *testing.T) {
	t.Parallel()
	if _, err := NormalizePhone("+15555550100"); err == nil {
		t.Fatal("+15555550100 is valid after all; pick another invalid number")
	}
	n, err := phonenumbers.Parse("+15555550100", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := PhoneTimezones("+15555550100"), numberTimezones(n); !slices.Equal(got, want) {
		t.Fatalf("PhoneTimezones = %v, want %v", got, want)
	}
}

// TestPhoneTimezonesCallerOwnsSlice checks that changing a returned slice changes no later answer.
func TestPhoneTimezonesCallerOwnsSlice(t *testing.T) {
	t.Parallel()
	first := PhoneTimezones("+14155550100")
	if len(first) == 0 {
		t.Fatal("no zone for a San Francisco number")
	}
	want := first[0]
	first[0] = nil
	if again := PhoneTimezones("+14155550100"); len(again) == 0 || again[0] != want {
		t.Fatalf("a caller's change reached the cache: %v", again)
	}
}

// TestBoundedCacheStaysBounded fills the cache far past its size.
func TestBoundedCacheStaysBounded(t *testing.T) {
	t.Parallel()
	c := newBoundedCache[int]()
	for i := range 10 * phoneCacheShards * phoneCacheShardSize {
		c.put([]byte(strconv.Itoa(i)), i)
	}
	if n := c.len(); n > phoneCacheShards*phoneCacheShardSize {
		t.Fatalf("the cache holds %d entries, more than its bound %d", n, phoneCacheShards*phoneCacheShardSize)
	}
	c.put([]byte("last"), 7)
	if v, ok := c.get([]byte("last")); !ok || v != 7 {
		t.Fatalf("get(last) = %d, %v", v, ok)
	}
}
