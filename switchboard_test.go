package switchboard_test

import (
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestIDTime(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	id := switchboard.NewID("msg")
	after := time.Now()
	at, ok := switchboard.IDTime(id)
	if !ok || at.Before(before) || at.After(after) {
		t.Fatalf("IDTime(%s) = %v %v, want between %v and %v", id, at, ok, before, after)
	}
	for _, bad := range []string{"", "msg", "msg_", "msg_xyz", "evt_1", "ep_billing", "msg_01a24e5defc57573a7b637a92a0c49bb"[:20],
		"msg_01a24e5defc5f573a7b637a92a0c49bb" /* version nibble not 7 */, "msg_zza24e5defc57573a7b637a92a0c49bb"} {
		if _, ok := switchboard.IDTime(bad); ok {
			t.Errorf("IDTime(%q) is ok", bad)
		}
	}
}
