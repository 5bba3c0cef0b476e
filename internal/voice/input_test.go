package voice_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// TestBuildInputPolicy attacks call creation through a flow's dialed variable (front_desk of
// examples/flows/appointment_confirmation.yaml): sip: URIs, premium-rate numbers and non-E.164
// text are refused unless allowed, and metadata, variables and locale are bounded.
func TestBuildInputPolicy(t *testing.T) {
	t.Parallel()
	flows, err := voice.Load(filepath.Join("..", "..", "examples", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	newSvc := func(sip, premium bool) *voice.Service {
		return voice.New(voice.Config{Flows: func() *voice.Catalog { return flows }, DialAllowSIP: sip, DialAllowPremium: premium})
	}
	req := func(frontDesk string, mod func(*voice.CreateRequest)) *voice.CreateRequest {
		r := &voice.CreateRequest{To: "+14155550100", Flow: "appointment_confirmation", Variables: map[string]string{
			"clinic": "Northside", "date": "Tuesday", "front_desk": frontDesk, "patient_name": "Ana"}}
		if mod != nil {
			mod(r)
		}
		return r
	}
	now := time.Now()
	strict := newSvc(false, false)
	for _, c := range []struct {
		name string
		r    *voice.CreateRequest
		code string
	}{
		{"sip", req("sip:attacker@evil.example.com", nil), "invalid_dial_number"},
		{"SIP upper", req("SIP:x@example.com", nil), "invalid_dial_number"},
		{"premium", req("+19005550123", nil), "invalid_dial_number"},
		{"not e164", req("1 415 555 0101", nil), "invalid_dial_number"},
		{"words", req("call me", nil), "invalid_dial_number"},
		{"twiml", req("<Dial>+14155550101</Dial>", nil), "invalid_dial_number"},
		{"long variable", req("+14155550101", func(r *voice.CreateRequest) { r.Variables["date"] = strings.Repeat("x", 1025) }), "invalid_variable"},
		{"long locale", req("+14155550101", func(r *voice.CreateRequest) { r.Locale = strings.Repeat("e", 36) }), "invalid_locale"},
		{"odd locale", req("+14155550101", func(r *voice.CreateRequest) { r.Locale = "en US<" }), "invalid_locale"},
		{"many metadata", req("+14155550101", func(r *voice.CreateRequest) {
			r.Metadata = map[string]string{}
			for i := range 21 {
				r.Metadata[strings.Repeat("k", i+1)] = "v"
			}
		}), "invalid_metadata"},
		{"long metadata", req("+14155550101", func(r *voice.CreateRequest) { r.Metadata = map[string]string{"k": strings.Repeat("v", 513)} }), "invalid_metadata"},
	} {
		_, err := strict.Build(c.r, "+15005550006", now)
		if switchboard.ErrorCodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := strict.Build(req("+14155550101", func(r *voice.CreateRequest) { r.Locale = "es-MX" }), "+15005550006", now); err != nil {
		t.Fatalf("a good request: %v", err)
	}
	if _, err := newSvc(true, false).Build(req("sip:desk@pbx.example.com", nil), "+15005550006", now); err != nil {
		t.Fatalf("sip allowed: %v", err)
	}
	if _, err := newSvc(false, true).Build(req("+19005550123", nil), "+15005550006", now); err != nil {
		t.Fatalf("premium allowed: %v", err)
	}
}
