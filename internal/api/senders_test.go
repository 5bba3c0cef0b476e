package api_test

import (
	"math"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
)

// TestParseSenderRequest: defaults as in the configuration file, strict refusals.
func TestParseSenderRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want switchboard.Sender
		code string
	}{
		{`{"from":"+15005550123"}`, switchboard.Sender{From: "+15005550123", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}, ""},
		{`{"from":"+15005550123","kind":"short_code"}`, switchboard.Sender{From: "+15005550123", Kind: switchboard.SenderShortCode, Rate: 100, Burst: 1, Pool: "default"}, ""},
		{`{"from":"MG0123456789abcdef0123456789ABCDEF","rate":-1,"burst":20,"pool":"otp.us-1","tenants":["acme","b-2"]}`,
			switchboard.Sender{From: "MG0123456789abcdef0123456789ABCDEF", Kind: switchboard.SenderMessagingService, Rate: -1, Burst: 20, Pool: "otp.us-1", Tenants: []string{"acme", "b-2"}}, ""},
		{`{"from":"+15005550123","rate":0.25}`, switchboard.Sender{From: "+15005550123", Kind: switchboard.SenderLongCode, Rate: 0.25, Burst: 1, Pool: "default"}, ""},
		{`{"from":"15005550123"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+1500555"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"MG123"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","kind":"messaging_service"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"MG0123456789abcdef0123456789abcdef","kind":"long_code"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","kind":"carrier_pigeon"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","rate":-2}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","rate":10001}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","burst":0}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","burst":100001}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","pool":"-x"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","pool":"a b"}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","tenants":["Acme"]}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","tenants":["a","a"]}`, switchboard.Sender{}, "invalid_sender"},
		{`{"from":"+15005550123","rate":"fast"}`, switchboard.Sender{}, "invalid_field"},
		{`{"from":"+15005550123","speed":1}`, switchboard.Sender{}, "unknown_field"},
		{`{"from":"+15005550123","from":"+15005550124"}`, switchboard.Sender{}, "duplicate_field"},
		{`{"from":"+15005550123","rate":1e999}`, switchboard.Sender{}, "invalid_field"},
	} {
		got, err := api.ParseSenderRequest([]byte(tc.body))
		if tc.code != "" {
			if switchboard.ErrorCodeOf(err) != tc.code || switchboard.ErrorKindOf(err) != switchboard.EINVALID {
				t.Errorf("%s: error %v, want EINVALID/%s", tc.body, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if got.From != tc.want.From || got.Kind != tc.want.Kind || got.Rate != tc.want.Rate || got.Burst != tc.want.Burst ||
			got.Pool != tc.want.Pool || len(got.Tenants) != len(tc.want.Tenants) {
			t.Errorf("%s: %+v, want %+v", tc.body, got, tc.want)
		}
	}
}

// TestParseSenderUpdate: absent fields are kept, the result is checked whole.
func TestParseSenderUpdate(t *testing.T) {
	t.Parallel()
	cur := switchboard.Sender{From: "+15005550123", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 2, Pool: "alerts", Tenants: []string{"acme"}}
	got, err := api.ParseSenderUpdate([]byte(`{"rate":5}`), cur)
	if err != nil || got.Rate != 5 || got.Burst != 2 || got.Pool != "alerts" || len(got.Tenants) != 1 {
		t.Fatalf("rate only: %+v, %v", got, err)
	}
	got, err = api.ParseSenderUpdate([]byte(`{"tenants":[],"pool":"default","kind":"toll_free","rate":0}`), cur)
	if err != nil || len(got.Tenants) != 0 || got.Pool != "default" || got.Kind != switchboard.SenderTollFree || got.Rate != 3 {
		t.Fatalf("tenants cleared, kind changed, rate 0: %+v, %v", got, err)
	}
	for _, body := range []string{`{"from":"+15005550124"}`, `{"rate":-0.5}`, `{"burst":0}`, `{"kind":"messaging_service"}`, `{"pool":"a b"}`, `[]`} {
		if _, err := api.ParseSenderUpdate([]byte(body), cur); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
			t.Errorf("%s: %v, want EINVALID", body, err)
		}
	}
}

// FuzzParseSender: whatever the body, parsing never panics, and what it accepts is a valid
// sender (finite rate within bounds, burst within bounds, a known kind) whatever it was before.
func FuzzParseSender(f *testing.F) {
	for _, s := range []string{
		`{"from":"+15005550123"}`, `{"from":"MG0123456789abcdef0123456789abcdef","rate":-1}`, `{"rate":1e308,"burst":-1}`,
		`{"from":"+15005550123","tenants":["a","\u0000"]}`, `{"pool":"\xff"}`, `{"rate":NaN}`, `null`, `{"kind":""}`,
	} {
		f.Add([]byte(s))
	}
	cur := switchboard.Sender{From: "+15005550123", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, s switchboard.Sender, err error) {
			if err != nil {
				if switchboard.ErrorKindOf(err) != switchboard.EINVALID {
					t.Fatalf("%s %q: error of kind %s: %v", what, body, switchboard.ErrorKindOf(err), err)
				}
				return
			}
			if !s.Kind.Valid() || math.IsNaN(s.Rate) || (s.Rate != -1 && (s.Rate <= 0 || s.Rate > switchboard.MaxSenderRate)) ||
				s.Burst < 1 || s.Burst > switchboard.MaxSenderBurst || !switchboard.ValidPoolName(s.Pool) ||
				!(switchboard.IsE164(s.From) || switchboard.IsMessagingServiceSID(s.From)) {
				t.Fatalf("%s %q accepted an invalid sender %+v", what, body, s)
			}
		}
		s, err := api.ParseSenderRequest(body)
		check("request", s, err)
		s, err = api.ParseSenderUpdate(body, cur)
		check("update", s, err)
	})
}
