// Package content measures and validates what goes into a message: SMS segment counting in
// GSM-7 or UCS-2 (segments.go) and phone number validation, region lookup and masking for logs
// (phone.go).
//
// Everything here is pure and safe for concurrent use; it does no I/O.
package content
