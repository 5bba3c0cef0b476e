package content

import (
	"slices"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// PhoneTimezones returns the IANA time zones a phone number may be in, according to
// libphonenumber's prefix data (one for most numbers, several for a US area code that spans
// zones, none when unknown). Zones this machine's tz database lacks are left out.
// The slice returned is the caller's own.
func PhoneTimezones(e164 string) []*time.Location {
	if zones, ok := zoneCache.get([]byte(e164)); ok {
		return slices.Clone(zones)
	}
	zones, ok := phoneTimezones(e164)
	if ok {
		zoneCache.put([]byte(e164), zones)
	}
	return slices.Clone(zones)
}

// phoneTimezones looks the zones up; ok is false when the number could not be parsed (and the
// answer must not be cached).
func phoneTimezones(e164 string) (_ []*time.Location, ok bool) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil, false
	}
	names, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return nil, false
	}
	var out []*time.Location
	for _, n := range names {
		if n == "Etc/Unknown" {
			continue
		}
		if loc, err := loadLocation(n); err == nil {
			out = append(out, loc)
		}
	}
	return out, true
}
