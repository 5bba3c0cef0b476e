package content

import (
	"time"

	"github.com/nyaruka/phonenumbers"
)

// PhoneTimezones returns the IANA time zones a phone number may be in, according to
// libphonenumber's prefix data (one for most numbers, several for a US area code that spans
// zones, none when unknown). Zones this machine's tz database lacks are left out.
func PhoneTimezones(e164 string) []*time.Location {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil
	}
	names, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return nil
	}
	var out []*time.Location
	for _, n := range names {
		if n == "Etc/Unknown" {
			continue
		}
		if loc, err := time.LoadLocation(n); err == nil {
			out = append(out, loc)
		}
	}
	return out
}
