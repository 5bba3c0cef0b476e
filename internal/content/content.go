// Package content measures and validates what goes into a message: SMS segment counting
// (GSM-7 / UCS-2) and phone number validation.
package content

import switchboard "github.com/switchboard-gw/switchboard"

// Segments returns how many SMS segments body takes and in which encoding it is sent.
// STUB: replaced by the real GSM-7/UCS-2 counter.
func Segments(body string) (int, switchboard.Encoding) {
	if len(body) <= 160 {
		return 1, switchboard.EncodingGSM7
	}
	return (len(body) + 152) / 153, switchboard.EncodingGSM7
}
