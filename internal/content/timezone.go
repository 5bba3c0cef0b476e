package content

import (
	"slices"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// PhoneTimezones returns the IANA time zones a phone number may be in, according to
// libphonenumber's prefix data (one for most numbers, several for a US area code that spans
// zones, none when unknown). Zones this machine's tz database lacks are left out. The slice
// returned is the caller's own.
//
// A valid number (see NormalizePhone) is answered from the cache of valid numbers; anything else
// is parsed leniently, as it always was, and not cached.
func PhoneTimezones(e164 string) []*time.Location {
	if info, err := lookupPhone(e164); err == nil {
		return slices.Clone(info.zones)
	}
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil
	}
	return numberTimezones(num)
}

// numberTimezones returns the zones of a parsed number.
func numberTimezones(num *phonenumbers.PhoneNumber) []*time.Location {
	names, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return nil
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
	return out
}
