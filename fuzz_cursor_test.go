package switchboard_test

import (
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// FuzzParseTimeCursor: a cursor from a client parses or is EINVALID invalid_cursor, never a
// panic; what TimeCursor writes parses back to the same time and ID.
func FuzzParseTimeCursor(f *testing.F) {
	for _, s := range []string{"1767225600000000.conv_1", "", ".", "1.", ".x", "-1.x", "9223372036854775807.a", "1.a.b", "\x00.\xff", strings.Repeat("1", 300) + ".a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		at, id, err := switchboard.ParseTimeCursor(c)
		if err != nil {
			if switchboard.ErrorCodeOf(err) != "invalid_cursor" || !switchboard.IsKind(err, switchboard.EINVALID) {
				t.Fatalf("%q: %v", c, err)
			}
			return
		}
		if id == "" || at.Before(time.UnixMicro(0)) {
			t.Fatalf("%q parsed to %v %q", c, at, id)
		}
		at2, id2, err := switchboard.ParseTimeCursor(switchboard.TimeCursor(at, id))
		if err == nil && (!at2.Equal(at) || id2 != id) {
			t.Fatalf("%q: round trip %v %q -> %v %q", c, at, id, at2, id2)
		}
	})
}
