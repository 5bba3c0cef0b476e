package switchboard_test

import (
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestSortClaimedMedia(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Second)
	ds := []*switchboard.MediaDownload{
		{ProviderSID: "MM2", Index: 0, NextAttemptAt: later},
		{ProviderSID: "MM2", Index: 1, NextAttemptAt: t0},
		{ProviderSID: "MM1", Index: 2, NextAttemptAt: t0},
		{ProviderSID: "MM1", Index: 0, NextAttemptAt: t0},
	}
	switchboard.SortClaimedMedia(ds)
	var got []string
	for _, d := range ds {
		got = append(got, d.ProviderSID+"/"+string(rune('0'+d.Index)))
	}
	if want := "MM1/0 MM1/2 MM2/1 MM2/0"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
