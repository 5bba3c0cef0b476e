// Package switchboard holds the nouns and verbs of Switchboard, a self-hosted communications
// gateway in front of Twilio: messages and their statuses, the timeline of events that explains
// each change, senders, API keys, inbound messages, the application error type, and the Store and
// Provider interfaces that the rest of the system is built on.
//
// The package imports nothing of Switchboard's own and almost nothing else, so that every other
// package can depend on it and none of them has to depend on each other to speak the same language.
package switchboard

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Version is the build's version: "dev", or what -ldflags "-X ...switchboard.Version=v1.2.3" set;
// cmd/switchboard replaces it at start with the version from the Go build information
// (internal/buildinfo), so that a release needs no -ldflags.
var Version = "dev"

// Clock returns the current time. Components take a Clock so that retries, backoff, leases,
// expiry and quiet hours are tested without sleeping.
type Clock func() time.Time

// SystemClock is the wall clock, in UTC.
func SystemClock() time.Time { return time.Now().UTC() }

// NewID returns a new time-ordered identifier with a type prefix, such as msg_0190b6f2... IDs sort
// by creation time, which cursor pagination relies on.
func NewID(prefix string) string {
	id := uuid.Must(uuid.NewV7())
	var buf [32]byte
	hex.Encode(buf[:], id[:])
	return prefix + "_" + string(buf[:])
}

// IDTime returns when an ID made by NewID was made (to the millisecond: its UUIDv7 timestamp),
// and false for another kind of ID.
func IDTime(id string) (time.Time, bool) {
	_, h, ok := strings.Cut(id, "_")
	if !ok || len(h) != 32 || h[12] != '7' {
		return time.Time{}, false
	}
	ms, err := strconv.ParseUint(h[:12], 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(ms)).UTC(), true
}
