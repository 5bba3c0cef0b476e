package verify_test

import (
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestVoiceTwiMLGolden(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, code, locale string }{
		{"en", "123456", "en"}, {"fr", "0042", "fr-CA"}, {"unknown_locale", "98765", "xx"},
	} {
		got := verify.VoiceTwiML(c.code, c.locale)
		path := filepath.Join("testdata", "voice_"+c.name+".xml")
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
		// It is well-formed TwiML: one Say, said twice, the digits spaced.
		var doc struct {
			XMLName xml.Name `xml:"Response"`
			Say     []struct {
				Loop string `xml:"loop,attr"`
				Lang string `xml:"language,attr"`
				Text string `xml:",chardata"`
			} `xml:"Say"`
		}
		if err := xml.Unmarshal([]byte(got), &doc); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		spaced := strings.Join(strings.Split(c.code, ""), ", ")
		if len(doc.Say) != 1 || doc.Say[0].Loop != "2" || !strings.Contains(doc.Say[0].Text, spaced) {
			t.Errorf("%s: %+v", c.name, doc)
		}
	}
}

// waitingSMS starts a verification and returns it with its code and otp message ID.
func waitingSMS(t *testing.T, h *harness, to string) (map[string]any, string, string) {
	t.Helper()
	v := h.start(map[string]any{"to": to, "locale": "en"}, 201).body
	if v["fallback_at"] == nil {
		t.Fatalf("no fallback scheduled: %v", v)
	}
	sends := v["send_attempts"].([]any)
	return v, h.codeOf(v), sends[0].(map[string]any)["message_id"].(string)
}

func TestFallbackToCallWhenUndelivered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v, code, msgID := waitingSMS(t, h, "+14155550300")
	// Before anything is known, the worker only looks again later.
	h.clock.Add(5 * time.Second)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.caller.all()) != 0 {
		t.Fatal("called before the text failed")
	}
	// The carrier reports the text undelivered (30003): the code moves to a voice call at once,
	// the reason naming the code and, from its class (the provider's ErrorCodes), why.
	st, ec := switchboard.StatusUndelivered, 30003
	if _, err := h.store.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: msgID, Status: st, ErrorCode: &ec, At: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Second)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls := h.caller.all()
	if len(calls) != 1 || calls[0].to != "+14155550300" || calls[0].from != "+15005550006" {
		t.Fatalf("calls: %+v", calls)
	}
	if calls[0].twiml != verify.VoiceTwiML(code, "en") {
		t.Fatalf("the call does not read the same code: %s", calls[0].twiml)
	}
	got := h.do("GET", "/v1/verifications/"+v["id"].(string), nil).body
	sends := got["send_attempts"].([]any)
	last := sends[len(sends)-1].(map[string]any)
	if got["channel"] != "call" || len(sends) != 2 || last["call_id"] == nil || !strings.Contains(last["reason"].(string), "(30003 unreachable handset)") ||
		got["fallback_at"] != nil || got["sends"] != 2.0 {
		t.Fatalf("after fallback: %v", got)
	}
	// Nothing more happens, and the code read by the call is approved.
	h.clock.Add(time.Minute)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.caller.all()) != 1 {
		t.Fatal("called twice")
	}
	if r := h.do("POST", "/v1/verifications/"+v["id"].(string)+"/check", map[string]any{"code": code}); r.body["status"] != "approved" {
		t.Fatalf("check: %v", r.body)
	}
}

func TestFallbackToCallWithoutReceipt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v, _, msgID := waitingSMS(t, h, "+14155550301")
	st := switchboard.StatusSent
	if _, err := h.store.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: msgID, Status: st, At: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	for range 11 { // 55 s: sent, no receipt yet
		h.clock.Add(5 * time.Second)
		if _, err := h.svc.RunDue(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.caller.all()) != 0 {
		t.Fatal("called before fallback_after")
	}
	h.clock.Add(5 * time.Second)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.caller.all()) != 1 {
		t.Fatalf("no call after a minute without a receipt")
	}
	got := h.do("GET", "/v1/verifications/"+v["id"].(string), nil).body
	sends := got["send_attempts"].([]any)
	if !strings.Contains(sends[1].(map[string]any)["reason"].(string), "no delivery receipt") {
		t.Fatalf("reason: %v", sends[1])
	}
}

func TestNoFallbackWhenDelivered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v, _, msgID := waitingSMS(t, h, "+14155550302")
	if _, err := h.store.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: msgID, Status: switchboard.StatusDelivered, At: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Second)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Minute)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.caller.all()) != 0 {
		t.Fatal("a delivered text fell back")
	}
	if got := h.do("GET", "/v1/verifications/"+v["id"].(string), nil).body; got["fallback_at"] != nil || got["channel"] != "sms" {
		t.Fatalf("after delivery: %v", got)
	}
}

func TestNoFallbackWithoutPolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *verify.Config) { c.Fallback = nil })
	v := h.start(map[string]any{"to": "+14155550303"}, 201).body
	if v["fallback_at"] != nil {
		t.Fatalf("fallback scheduled without a policy: %v", v)
	}
}

func TestStartOnCallChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	v := h.start(map[string]any{"to": "+14155550304", "channel": "call", "locale": "de"}, 201).body
	calls := h.caller.all()
	if len(calls) != 1 || !strings.Contains(calls[0].twiml, `language="de-DE"`) {
		t.Fatalf("calls: %+v", calls)
	}
	sends := v["send_attempts"].([]any)
	if sends[0].(map[string]any)["call_id"] == nil || v["fallback_at"] != nil {
		t.Fatalf("verification: %v", v)
	}
}

func TestCodec(t *testing.T) {
	t.Parallel()
	c, err := verify.NewCodec([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.NewCodec([]byte("short")); err == nil {
		t.Fatal("a short secret was accepted")
	}
	seen := map[string]bool{}
	for range 200 {
		code, err := verify.NewCode(6)
		if err != nil || len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("code %q %v", code, err)
		}
		seen[code] = true
	}
	if len(seen) < 190 {
		t.Fatalf("only %d distinct codes of 200", len(seen))
	}
	for _, n := range []int{3, 11} {
		if _, err := verify.NewCode(n); err == nil {
			t.Fatalf("length %d accepted", n)
		}
	}
	h := c.Hash("salt1", "123456")
	if !c.Match("salt1", h, "123456") || c.Match("salt1", h, "123457") || c.Match("salt2", h, "123456") || c.Match("salt1", "zz", "123456") {
		t.Fatal("Match")
	}
	other, _ := verify.NewCodec([]byte(strings.Repeat("x", 40)))
	if other.Match("salt1", h, "123456") {
		t.Fatal("a hash matched under another secret")
	}
	sealed, err := c.Seal("ver_1", "123456")
	if err != nil || strings.Contains(sealed, "123456") {
		t.Fatalf("seal %q %v", sealed, err)
	}
	if code, err := c.Open("ver_1", sealed); err != nil || code != "123456" {
		t.Fatalf("open %q %v", code, err)
	}
	if _, err := c.Open("ver_2", sealed); err == nil {
		t.Fatal("a sealed code opened for another verification")
	}
	if _, err := other.Open("ver_1", sealed); err == nil {
		t.Fatal("a sealed code opened with another secret")
	}
	if _, err := c.Open("ver_1", "!!"); err == nil {
		t.Fatal("garbage opened")
	}
}

func TestParseWindows(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"5/10m,10/1h,20/1d", "5/10m0s,10/1h0m0s,20/24h0m0s", true},
		{"", "", true}, {"none", "", true},
		{"5", "", false}, {"0/1h", "", false}, {"5/0s", "", false}, {"x/1h", "", false}, {"5/1x", "", false}, {"5/0d", "", false},
	} {
		ws, err := verify.ParseWindows(c.in)
		if (err == nil) != c.ok || c.ok && verify.FormatWindows(ws) != c.want {
			t.Errorf("%q: %v %v", c.in, verify.FormatWindows(ws), err)
		}
	}
}

func FuzzParseWindows(f *testing.F) {
	for _, s := range []string{"5/10m,10/1h", "1/1d", "none", "", "5/", "/1h", "9999999999999999999/1h", "1/-1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := verify.ParseWindows(s)
		if err != nil {
			return
		}
		for _, w := range ws {
			if w.Limit < 1 || w.Per < time.Second {
				t.Fatalf("%q gave %+v", s, w)
			}
		}
	})
}
