package twiliosim

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// CarrierFaults are the faults of one carrier: the destination numbers it serves (by E.164
// prefix) and how it misbehaves. Twilio hands a message to the recipient's carrier; a slow or
// filtering carrier shows as late delivery receipts or undelivered 30007 for its numbers only,
// while other recipients are fine (twilio-facts.md §3). Carriers are fault settings, so that a
// profile phase (profile.go) can make "one carrier slow all day".
type CarrierFaults struct {
	// Name is for people ("carrier-a").
	Name string `json:"name,omitempty"`
	// Prefixes are E.164 prefixes ("+1415555") of the carrier's numbers; the longest matching
	// prefix among all carriers wins.
	Prefixes []string `json:"prefixes"`
	// DeliveryDelayMS is added to the time a message to the carrier stays sent before its
	// delivery receipt (Config.DeliveredDelay).
	DeliveryDelayMS int `json:"delivery_delay_ms,omitempty"`
	// CarrierErrors, when set, replaces Faults.CarrierErrors for the carrier's numbers.
	CarrierErrors map[int]float64 `json:"carrier_errors,omitempty"`
}

// maxCarriers bounds the carriers of one fault setting.
const maxCarriers = 100

// carrierFor returns the carrier serving the number to (a "whatsapp:" prefix is ignored), or nil.
func (f *Faults) carrierFor(to string) *CarrierFaults {
	if len(f.Carriers) == 0 {
		return nil
	}
	_, n := splitChannel(to)
	var best *CarrierFaults
	bestLen := 0
	for i := range f.Carriers {
		for _, p := range f.Carriers[i].Prefixes {
			if len(p) > bestLen && strings.HasPrefix(n, p) {
				best, bestLen = &f.Carriers[i], len(p)
			}
		}
	}
	return best
}

// carrierDelay is the extra time a message to "to" stays sent.
func (f *Faults) carrierDelay(to string) time.Duration {
	if c := f.carrierFor(to); c != nil {
		return time.Duration(c.DeliveryDelayMS) * time.Millisecond
	}
	return 0
}

// carrierMix is the carrier error mix in force for the number to.
func (f *Faults) carrierMix(to string) map[int]float64 {
	if c := f.carrierFor(to); c != nil && c.CarrierErrors != nil {
		return c.CarrierErrors
	}
	return f.CarrierErrors
}

// validateCarriers checks the carriers' prefixes, delays and error mixes.
func (f *Faults) validateCarriers() error {
	if len(f.Carriers) > maxCarriers {
		return fmt.Errorf("carriers: at most %d", maxCarriers)
	}
	const maxMS = int(24 * time.Hour / time.Millisecond)
	for i, c := range f.Carriers {
		if len(c.Prefixes) == 0 || len(c.Prefixes) > maxCarriers {
			return fmt.Errorf("carriers[%d]: prefixes: 1 to %d E.164 prefixes such as +1415555", i, maxCarriers)
		}
		for _, p := range c.Prefixes {
			if len(p) < 2 || len(p) > 16 || p[0] != '+' || strings.Trim(p[1:], "0123456789") != "" {
				return fmt.Errorf("carriers[%d]: prefix %q: a + and up to 15 digits", i, p)
			}
		}
		if c.DeliveryDelayMS < 0 || c.DeliveryDelayMS > maxMS {
			return fmt.Errorf("carriers[%d]: delivery_delay_ms must be between 0 and %d", i, maxMS)
		}
		if err := validateMix(c.CarrierErrors); err != nil {
			return fmt.Errorf("carriers[%d]: %w", i, err)
		}
	}
	return nil
}

// validateMix checks a carrier error mix: 30xxx codes whose probabilities add up to at most 1.
func validateMix(mix map[int]float64) error {
	return validateCodeMix("carrier_errors", 30000, mix)
}

// validateCodeMix checks the error mix field name: codes from base to base+999 whose
// probabilities add up to at most 1.
func validateCodeMix(name string, base int, mix map[int]float64) error {
	sum := 0.0
	for code, p := range mix {
		if code < base || code > base+999 || p < 0 || p > 1 || math.IsNaN(p) {
			return fmt.Errorf("%s: %d: a %dxxx code with a probability between 0 and 1", name, code, base/1000)
		}
		sum += p
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("%s: the probabilities add up to more than 1", name)
	}
	return nil
}
