package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func TestExportRanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Consent: opted in on day 1, opted out on day 5.
	for _, c := range []*switchboard.ConsentRecord{
		{Phone: "+14155550100", Scope: switchboard.ScopeAll, State: switchboard.ConsentOptedIn, Source: switchboard.ConsentFromAPI, Evidence: "web form", Actor: "api:crm", At: t0.Add(24 * time.Hour)},
		{Phone: "+14155550100", Scope: "default", State: switchboard.ConsentOptedOut, Source: switchboard.ConsentFromKeyword, Evidence: "STOP", Actor: "keyword:STOP", At: t0.Add(5 * 24 * time.Hour)},
	} {
		if err := st.RecordConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// A message a day for 10 days.
	for d := range 10 {
		at := t0.Add(time.Duration(d)*24*time.Hour + time.Hour)
		m := &switchboard.Message{ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
			Category: switchboard.CategoryMarketing, To: "+14155550100", From: "+15005550006", Pool: "default", Body: "offer",
			Template: "promo", TemplateVersion: 2, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
		if _, _, err := st.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := Messages(ctx, st, &buf, t0.Add(2*24*time.Hour), t0.Add(7*24*time.Hour), CSV)
	if err != nil || n != 5 {
		t.Fatalf("messages of days 2-6: %d, %v", n, err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(messageHeader, ",") {
		t.Fatalf("csv: %v %v", rows, err)
	}
	consentOf := map[string]string{}
	for _, r := range rows[1:] {
		consentOf[r[1][:10]] = r[13] + "/" + r[14]
		if r[7] != "promo" || r[8] != "2" {
			t.Fatalf("template not exported: %v", r)
		}
	}
	want := map[string]string{"2026-05-03": "opted_in/api", "2026-05-05": "opted_in/api", "2026-05-06": "opted_out/keyword", "2026-05-07": "opted_out/keyword"}
	for day, c := range want {
		if consentOf[day] != c {
			t.Errorf("%s: consent %q, want %q", day, consentOf[day], c)
		}
	}
	buf.Reset()
	n, err = Consent(ctx, st, &buf, t0.Add(2*24*time.Hour), time.Time{}, JSONL)
	if err != nil || n != 1 {
		t.Fatalf("consent from day 2: %d %v", n, err)
	}
	var c switchboard.ConsentRecord
	if err := json.Unmarshal(buf.Bytes(), &c); err != nil || c.State != switchboard.ConsentOptedOut {
		t.Fatalf("jsonl: %s %v", buf.String(), err)
	}
	if _, err := Messages(ctx, st, &buf, time.Time{}, time.Time{}, "xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}
