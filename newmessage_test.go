package switchboard_test

import (
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestNewMessage: the domain's constructor fills in what every stored message has, schedules a
// future send_at, bounds validity from the start, and refuses what no path may store.
func TestNewMessage(t *testing.T) {
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	base := switchboard.MessageSpec{To: "+14155550100", From: "+15005550006", Body: "Job 12 — café", Actor: "test", Validity: time.Hour}

	m, err := switchboard.NewMessage(base, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID == "" || m.Status != switchboard.StatusQueued || m.Channel != switchboard.ChannelSMS ||
		m.Category != switchboard.CategoryTransactional || !m.NextAttemptAt.Equal(now) || !m.CreatedAt.Equal(now) {
		t.Fatalf("defaults: %+v", m)
	}
	if m.BodySHA256 == "" || m.BodyLength != 13 || m.Segments != 1 || m.Encoding != switchboard.EncodingUCS2 {
		t.Fatalf("body: sha %q length %d segments %d %s", m.BodySHA256, m.BodyLength, m.Segments, m.Encoding)
	}
	if m.ValidUntil == nil || !m.ValidUntil.Equal(now.Add(time.Hour)) || len(m.Events) != 1 || m.Events[0].Actor != "test" {
		t.Fatalf("validity %v, events %+v", m.ValidUntil, m.Events)
	}

	later := now.Add(2 * time.Hour)
	s := base
	s.SendAt, s.MediaURLs = &later, []string{"https://example.com/a.jpg"}
	m, err = switchboard.NewMessage(s, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != switchboard.StatusScheduled || !m.NextAttemptAt.Equal(later) || !m.ValidUntil.Equal(later.Add(time.Hour)) ||
		m.Channel != switchboard.ChannelMMS {
		t.Fatalf("scheduled: %s at %v until %v on %s", m.Status, m.NextAttemptAt, m.ValidUntil, m.Channel)
	}

	for name, edit := range map[string]func(*switchboard.MessageSpec){
		"missing_to":       func(s *switchboard.MessageSpec) { s.To = "" },
		"missing_from":     func(s *switchboard.MessageSpec) { s.From = "" },
		"invalid_channel":  func(s *switchboard.MessageSpec) { s.Channel = "fax" },
		"invalid_category": func(s *switchboard.MessageSpec) { s.Category = "spam" },
		"missing_body":     func(s *switchboard.MessageSpec) { s.Body = "" },
		"invalid_body":     func(s *switchboard.MessageSpec) { s.Body = "a\x00b" },
		"missing_actor":    func(s *switchboard.MessageSpec) { s.Actor = "" },
	} {
		s := base
		edit(&s)
		if _, err := switchboard.NewMessage(s, now); switchboard.ErrorCodeOf(err) != name {
			t.Errorf("%s: %v", name, err)
		}
	}
}
